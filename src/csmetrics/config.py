"""Per-company settings read from ``csmetrics.toml`` in the data directory."""

from __future__ import annotations

import re
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from csmetrics.schema.errors import DataError, Defect

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class Config:
    """Settings of SPEC section 4, with their defaults."""

    base_currency: str = "USD"
    csat_scale_max: float = 5
    csat_positive_min: float = 4
    gross_margin: float = 1.0
    lifespan_months: float | None = None
    week_start: str = "monday"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], file: str = "csmetrics.toml") -> Config:
        known = {f.name for f in fields(cls)}

        def defect(key: str, value: Any, expected: str) -> Defect:
            shown = None if value is None else str(value)
            return Defect(file, None, key, shown, expected, column_kind="setting")

        defects = [
            defect(key, None, "is not a known setting (known: " + ", ".join(sorted(known)) + ")")
            for key in raw
            if key not in known
        ]
        values: dict[str, Any] = {k: v for k, v in raw.items() if k in known}
        for key in ("csat_scale_max", "csat_positive_min", "gross_margin", "lifespan_months"):
            if key in values and (isinstance(values[key], bool) or not isinstance(values[key], int | float)):
                defects.append(defect(key, values[key], "is not a number"))
        if "week_start" in values:
            if isinstance(values["week_start"], str) and values["week_start"].lower() in WEEKDAYS:
                values["week_start"] = values["week_start"].lower()
            else:
                defects.append(defect("week_start", raw["week_start"], "is not a weekday name (e.g. monday)"))
        if "base_currency" in values:
            if isinstance(values["base_currency"], str) and re.fullmatch("[A-Za-z]{3}", values["base_currency"]):
                values["base_currency"] = values["base_currency"].upper()
            else:
                defects.append(defect("base_currency", raw["base_currency"], "is not a currency code (e.g. USD)"))
        if not defects:
            cfg = cls(**values)
            if not 0 < cfg.gross_margin <= 1:
                defects.append(defect("gross_margin", cfg.gross_margin, "is out of range (expected > 0 and <= 1)"))
            if cfg.csat_scale_max <= 1:
                defects.append(defect("csat_scale_max", cfg.csat_scale_max, "is out of range (expected > 1)"))
            elif cfg.csat_positive_min > cfg.csat_scale_max:
                defects.append(defect("csat_positive_min", cfg.csat_positive_min,
                                      f"is out of range (expected <= csat_scale_max {cfg.csat_scale_max:g})"))
            if cfg.lifespan_months is not None and cfg.lifespan_months <= 0:
                defects.append(defect("lifespan_months", cfg.lifespan_months, "is out of range (expected > 0)"))
        if defects:
            raise DataError(defects)
        return cfg

    @classmethod
    def load(cls, data_dir: Path) -> Config:
        path = data_dir / "csmetrics.toml"
        if not path.exists():
            return cls()
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise DataError([Defect(path.name, None, None, None, f"is not valid TOML: {exc}")]) from exc
        return cls.from_dict(raw, path.name)
