"""``[sources.NAME]`` tables of csmetrics.toml: read and checked the same way for every source.

Every source accepts ``max_age_days`` (how old its last sync may get before
``csmetrics sources`` and the dashboard call it stale, default
:data:`DEFAULT_MAX_AGE_DAYS`) on top of its own keys. A bad key or value is a
defect naming the file, the line and the key (``sources.zendesk.subdomain``).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from csmetrics.config import Config
from csmetrics.schema.errors import DataError, Defect

DEFAULT_CONFIG = Path("csmetrics.toml")
DEFAULT_MAX_AGE_DAYS = 2.0
COMMON: dict[str, type | tuple[type, ...]] = {"max_age_days": (int, float)}
"""Keys every ``[sources.NAME]`` table accepts."""

_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_KEY = re.compile(r"""^\s*(?:"([^"]+)"|'([^']+)'|([A-Za-z0-9_.-]+))\s*=""")


@dataclass(frozen=True)
class Section:
    """One source's table of a csmetrics.toml (empty when the file or the table is absent)."""

    values: dict[str, Any]
    base: Config
    """The company settings of the same file (base currency...), used when a source creates the workspace."""
    file: str = "csmetrics.toml"
    lines: dict[str, int] | None = None

    @property
    def max_age_days(self) -> float:
        return float(self.values.get("max_age_days", DEFAULT_MAX_AGE_DAYS))

    def defect(self, source: str, key: str, value: Any, expected: str) -> Defect:
        line = (self.lines or {}).get(key)
        return Defect(self.file, line, f"sources.{source}.{key}", None if value is None else str(value), expected,
                      column_kind="setting", row_kind="line")


def section_lines(text: str, header: str) -> dict[str, int]:
    """1-based line of each key given directly under the table ``[header]``."""
    found: dict[str, int] = {}
    inside = False
    for number, line in enumerate(text.splitlines(), start=1):
        m = _HEADER.match(line)
        if m is not None:
            inside = m.group(1).replace(" ", "").replace('"', "") == header
            continue
        if inside:
            k = _KEY.match(line)
            if k is not None:
                found.setdefault(next(g for g in k.groups() if g is not None), number)
    return found


def read_section(path: Path | None, source: str, known: dict[str, type | tuple[type, ...]]) -> Section:
    """``[sources.<source>]`` of ``path`` (default ./csmetrics.toml when it exists), type-checked.

    ``known`` maps the source's own keys to their types; :data:`COMMON` keys are
    added. Raises DataError listing every unknown key and badly typed value.
    """
    if path is None:
        if not DEFAULT_CONFIG.exists():
            return Section({}, Config())
        path = DEFAULT_CONFIG
    try:
        text = path.read_text(encoding="utf-8")
        raw = tomllib.loads(text)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DataError([Defect(str(path), None, None, None, f"is not a readable TOML file: {exc}")]) from exc
    table = raw.get("sources", {})
    section = table.get(source, {}) if isinstance(table, dict) else {}
    if not isinstance(section, dict):
        raise DataError([Defect(path.name, None, f"sources.{source}", None, "is not a table",
                                column_kind="setting")])
    out = Section(dict(section), Config(), path.name, section_lines(text, f"sources.{source}"))
    keys = {**COMMON, **known}
    defects = []
    for k, v in section.items():
        want = keys.get(k)
        if want is None:
            defects.append(out.defect(source, k, v, "is not a known setting (known: " + ", ".join(sorted(keys)) + ")"))
        elif not isinstance(v, want) or (isinstance(v, bool) and want is not bool):
            defects.append(out.defect(source, k, v, f"has the wrong type (expected {_type_name(want)})"))
    age = section.get("max_age_days")
    if isinstance(age, int | float) and not isinstance(age, bool) and age <= 0:
        defects.append(out.defect(source, "max_age_days", age, "is not a number of days above 0"))
    if defects:
        raise DataError(defects)
    base = Config.from_dict({k: v for k, v in raw.items() if k != "sources"}, path.name)
    return Section(out.values, base, out.file, out.lines)


def _type_name(want: type | tuple[type, ...]) -> str:
    kinds = want if isinstance(want, tuple) else (want,)
    names = {str: "a string", int: "a number", float: "a number", bool: "true or false", list: "a list",
             dict: "a table"}
    return " or ".join(dict.fromkeys(names.get(k, k.__name__) for k in kinds))


__all__ = ["COMMON", "DEFAULT_MAX_AGE_DAYS", "Section", "read_section", "section_lines"]
