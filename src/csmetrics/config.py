"""Per-company settings read from ``csmetrics.toml`` in the data directory."""

from __future__ import annotations

import re
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from csmetrics.schema.errors import DataError, Defect

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
NUMBERS = ("csat_scale_max", "csat_positive_min", "gross_margin", "lifespan_months")


SOURCES = "sources"
"""The table of connector settings, one sub-table per source (SPEC section 8)."""
SCHEDULE = "schedule"
"""The jobs of ``csmetrics serve --schedule`` (read and checked by :mod:`csmetrics.web.schedule`)."""

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
    def from_dict(cls, raw: dict[str, Any], file: str = "csmetrics.toml", text: str | None = None) -> Config:
        """The settings in ``raw``; DataError listing every bad key and value.

        ``text``, the file's TOML, lets each defect name the line of its key.
        """
        config, defects = cls.checked(raw, file, text)
        if defects:
            raise DataError(defects)
        return config

    @classmethod
    def checked(cls, raw: dict[str, Any], file: str = "csmetrics.toml",
                text: str | None = None) -> tuple[Config, list[Defect]]:
        """(settings, defects): every defect of ``raw``, and a Config of its good values (defaults for the rest).

        Each key is checked on its own, so one bad key never hides another.
        """
        known = {f.name for f in fields(cls)}
        lines = key_lines(text) if text is not None else {}

        def defect(key: str, value: Any, expected: str) -> Defect:
            shown = None if value is None else str(value)
            return Defect(file, lines.get(key), key, shown, expected, column_kind="setting", row_kind="line")

        # [sources.NAME] tables configure connectors (docs/stripe.md); they are read by `sync` and `import`.
        defects = [
            defect(key, None, "is not a known setting (known: " + ", ".join(sorted(known)) + ")")
            for key in raw
            if key not in known and key not in (SOURCES, SCHEDULE)
        ]
        if SOURCES in raw and not (isinstance(raw[SOURCES], dict)
                                   and all(isinstance(v, dict) for v in raw[SOURCES].values())):
            defects.append(defect(SOURCES, None, "is not a table of source tables (e.g. [sources.stripe])"))
        values: dict[str, Any] = {}
        for key in NUMBERS:
            if key not in raw:
                continue
            if isinstance(raw[key], bool) or not isinstance(raw[key], int | float):
                defects.append(defect(key, raw[key], "is not a number"))
            else:
                values[key] = raw[key]
        if "week_start" in raw:
            if isinstance(raw["week_start"], str) and raw["week_start"].lower() in WEEKDAYS:
                values["week_start"] = raw["week_start"].lower()
            else:
                defects.append(defect("week_start", raw["week_start"], "is not a weekday name (e.g. monday)"))
        if "base_currency" in raw:
            if isinstance(raw["base_currency"], str) and re.fullmatch("[A-Za-z]{3}", raw["base_currency"]):
                values["base_currency"] = raw["base_currency"].upper()
            else:
                defects.append(defect("base_currency", raw["base_currency"], "is not a currency code (e.g. USD)"))
        # Ranges: each value that is a number is checked, whatever else is wrong.
        if "gross_margin" in values and not 0 < values["gross_margin"] <= 1:
            defects.append(defect("gross_margin", values.pop("gross_margin"),
                                  "is out of range (expected > 0 and <= 1)"))
        if "csat_scale_max" in values and values["csat_scale_max"] <= 1:
            defects.append(defect("csat_scale_max", values.pop("csat_scale_max"), "is out of range (expected > 1)"))
        if "csat_positive_min" in values:
            if "csat_scale_max" in raw and "csat_scale_max" not in values:
                # The scale is bad: the minimum cannot be judged, nor used with the default scale.
                values.pop("csat_positive_min")
            elif values["csat_positive_min"] > (scale := values.get("csat_scale_max", cls.csat_scale_max)):
                defects.append(defect("csat_positive_min", values.pop("csat_positive_min"),
                                      f"is out of range (expected <= csat_scale_max {scale:g})"))
        if "lifespan_months" in values and values["lifespan_months"] <= 0:
            defects.append(defect("lifespan_months", values.pop("lifespan_months"), "is out of range (expected > 0)"))
        defects.sort(key=lambda d: d.row or 0)  # in the file's order when lines are known
        return cls(**values), defects

    @classmethod
    def load(cls, data_dir: Path) -> Config:
        """The settings of ``data_dir/csmetrics.toml`` (defaults without one); DataError on any defect."""
        config, defects = cls.read(data_dir)
        if defects:
            raise DataError(defects)
        return config

    @classmethod
    def read(cls, data_dir: Path) -> tuple[Config, list[Defect]]:
        """(settings, defects) of ``data_dir/csmetrics.toml``, for validating the data with the good settings.

        A file that is not valid TOML is one defect and gives the defaults.
        """
        path = data_dir / "csmetrics.toml"
        if not path.is_file():
            return cls(), []
        try:
            text = path.read_text(encoding="utf-8")
            raw = tomllib.loads(text)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            return cls(), [Defect(path.name, None, None, None, f"is not valid TOML: {exc}")]
        return cls.checked(raw, path.name, text)


def unsettled(defects: list[Defect]) -> set[str]:
    """The settings named by ``defects``; every setting when one names none (a file that is not TOML)."""
    if any(d.column is None for d in defects):
        return {f.name for f in fields(Config)}
    return {d.column for d in defects if d.column is not None}


_KEY = r'(?:"(?P<dq>(?:[^"\\]|\\.)*)"|\'(?P<sq>[^\']*)\'|(?P<bare>[A-Za-z0-9_-]+))'
_ASSIGN = re.compile(r"^\s*" + _KEY + r"\s*[.=]")
_HEADER = re.compile(r"^\s*\[\[?\s*" + _KEY + r"\s*[.\]]")


def key_lines(text: str) -> dict[str, int]:
    """The 1-based line where each top-level key of a TOML document is first given.

    tomllib keeps no positions, so the lines are found again: ``key = ...`` or
    ``key.sub = ...`` before the first table header, or a header
    ``[key...]`` / ``[[key...]]``. Lines inside multi-line strings are skipped.
    """
    found: dict[str, int] = {}
    in_table = False
    in_string: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if in_string is not None:
            if line.count(in_string) % 2:
                in_string = None
            continue
        m = _HEADER.match(line)
        if m is not None:
            in_table = True
        elif not in_table:
            m = _ASSIGN.match(line)
        else:
            m = None
        if m is not None:
            key = next(g for g in (m["dq"], m["sq"], m["bare"]) if g is not None)
            found.setdefault(key, number)
        for quotes in ('"""', "'''"):
            if line.count(quotes) % 2:
                in_string = quotes
                break
    return found
