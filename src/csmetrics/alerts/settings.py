"""Alert settings: the rules (packaged ``rules.toml`` + an override file), channels, CSM addresses.

Lookup of the override file (first found wins):

1. the path given (``csmetrics alerts run --rules FILE``; ``rules=`` in Python);
2. ``alerts.toml`` in the directory of the workspace file (``.csmetrics/alerts.toml``
   for the default workspace);
3. ``alerts.toml`` in the data directory, when the dataset is one.

The packaged rules always load first; a ``[rules.NAME]`` table of the file
changes the keys it gives of a packaged rule of that name (``enabled = false``
turns it off) or adds a rule. Everything else (``base_url``, ``[channels.*]``,
``[csms]``, ``[delivery]``) comes from the file only. ``csmetrics.toml`` is not
used: its keys are the data contract's settings (SPEC section 4).

Every mistake is a :class:`~csmetrics.schema.errors.Defect` naming the file,
its line and the dotted key (``alerts.toml line 7, setting
rules.usage_drop.drop: 'half' is not a number``), all collected into one
:class:`~csmetrics.schema.errors.DataError` (exit 2), as ``csmetrics.toml``'s
settings are reported (:meth:`csmetrics.config.Config.checked`).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from csmetrics.schema.errors import DataError, Defect

__all__ = ["CHANNELS", "KINDS", "SEVERITIES", "AlertSettings", "Rule", "find_rules_file", "load_settings"]

FILE_NAME = "alerts.toml"
PACKAGED = "rules.toml"
SEVERITIES = ("info", "warning", "critical")

KINDS: dict[str, dict[str, tuple[type, Any, float | None]]] = {
    # kind -> parameter -> (type, default, minimum); a None default means required.
    "health_worsens": {"within_days": (int, 7, 1), "min_points": (float, 0, 0), "into": (str, "yellow", None)},
    "score_drop": {"points": (float, 25, 0), "days": (int, 30, 1)},
    "nps_detractor": {"within_days": (int, 7, 1), "max_score": (float, 6, 0)},
    "csat_negative": {"within_days": (int, 7, 1)},
    "usage_drop": {"drop": (float, 0.5, 0), "window_days": (int, 30, 1), "min_prior_events": (int, 20, 0)},
    "renewal_risk": {"within_days": (int, 60, 0), "below": (float, 50, 0)},
    "mrr_contraction": {"min_amount": (float, 100, 0)},
}
"""The rule kinds and their parameters (docs/alerts.md describes each)."""

RULE_KEYS = ("kind", "severity", "cooldown_days", "enabled", "description")

CHANNELS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "email": {"host": str, "port": int, "starttls": bool, "ssl": bool, "user": str, "password_env": str,
              "from": str, "fallback": str, "digest": bool, "digest_hour": int, "min_severity": str,
              "timeout": (int, float), "tls_ca_file": str},
    "slack": {"url_env": str, "min_severity": str, "timeout": (int, float)},
    "webhook": {"url": str, "secret_env": str, "min_severity": str, "timeout": (int, float)},
}
REQUIRED = {"email": ("host", "from"), "slack": ("url_env",), "webhook": ("url", "secret_env")}
DELIVERY = {"max_attempts": (int, 6, 1), "backoff_seconds": (float, 30, 0), "lease_seconds": (float, 300, 1)}


@dataclass(frozen=True)
class Rule:
    """One alert rule: ``name`` (its table in TOML), ``kind`` (of :data:`KINDS`) and its parameters."""

    name: str
    kind: str
    severity: str
    cooldown_days: int
    params: dict[str, Any]
    description: str = ""

    def param(self, key: str) -> float:
        return float(self.params[key])


@dataclass(frozen=True)
class AlertSettings:
    """Rules, the base URL of account links, channels (their TOML tables), CSM addresses, delivery."""

    rules: dict[str, Rule]
    base_url: str = "http://127.0.0.1:8000"
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    csms: dict[str, str] = field(default_factory=dict)
    delivery: dict[str, float] = field(default_factory=lambda: {k: float(v[1]) for k, v in DELIVERY.items()})
    source: str = "packaged"
    """Where the settings were read from: ``packaged`` or the override file's path."""

    def link(self, account_id: str) -> str:
        from urllib.parse import quote

        return f"{self.base_url.rstrip('/')}/accounts/{quote(str(account_id), safe='')}"

    @property
    def configured(self) -> bool:
        """Whether an override file was read (``after_write`` does nothing without one)."""
        return self.source != "packaged"


# -- where keys are --------------------------------------------------------------------------

_PART = r'(?:"(?:[^"\\]|\\.)*"|\'[^\']*\'|[A-Za-z0-9_-]+)'
_DOTTED = rf"{_PART}(?:\s*\.\s*{_PART})*"
_HEAD = re.compile(rf"^\s*\[\[?\s*(?P<k>{_DOTTED})\s*\]\]?")
_SET = re.compile(rf"^\s*(?P<k>{_DOTTED})\s*=")


def _parts(dotted: str) -> list[str]:
    return [p.strip().strip("\"'") for p in re.findall(_PART, dotted)]


def dotted_lines(text: str) -> dict[str, int]:
    """The 1-based line of every table header and key of a TOML text, by dotted path.

    Extends :func:`csmetrics.config.key_lines` (top-level keys) to nested keys:
    ``[rules.usage_drop]`` then ``drop = 0.4`` gives ``rules.usage_drop`` and
    ``rules.usage_drop.drop``. Inline tables and arrays are located at their key.
    """
    found: dict[str, int] = {}
    table: list[str] = []
    in_string: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if in_string is not None:
            if line.count(in_string) % 2:
                in_string = None
            continue
        if m := _HEAD.match(line):
            table = _parts(m["k"])
            for i in range(1, len(table) + 1):
                found.setdefault(".".join(table[:i]), number)
        elif m := _SET.match(line):
            path = table + _parts(m["k"])
            for i in range(len(table) + 1, len(path) + 1):
                found.setdefault(".".join(path[:i]), number)
        for quotes in ('"""', "'''"):
            if line.count(quotes) % 2:
                in_string = quotes
                break
    return found


class _Checker:
    def __init__(self, file: str, text: str) -> None:
        self.file = file
        self.lines = dotted_lines(text)
        self.defects: list[Defect] = []

    def bad(self, key: str, value: Any, expected: str) -> None:
        line = self.lines.get(key)
        probe = key
        while line is None and "." in probe:
            probe = probe.rsplit(".", 1)[0]
            line = self.lines.get(probe)
        shown = None if value is None or isinstance(value, dict) else str(value)
        self.defects.append(Defect(self.file, line, key, shown, expected, column_kind="setting", row_kind="line"))

    def table(self, raw: dict[str, Any], key: str) -> dict[str, Any]:
        v = raw.get(key, {})
        if not isinstance(v, dict):
            self.bad(key, v, "is not a table")
            return {}
        return v

    def typed(self, value: Any, kind: type | tuple[type, ...], key: str) -> bool:
        named = kind if isinstance(kind, tuple) else (kind,)
        kinds = (*named, int) if float in named else named
        ok = not (isinstance(value, bool) and bool not in kinds) and isinstance(value, kinds)
        if not ok:
            names = {int: "a whole number", float: "a number", str: "a string", bool: "true or false"}
            self.bad(key, value, "is not " + " or ".join(dict.fromkeys(
                names[k] for k in named if not (k is int and float in named))))
        return ok


def _packaged_text() -> str:
    return resources.files("csmetrics.alerts").joinpath(PACKAGED).read_text(encoding="utf-8")


def _parse(text: str, file: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise DataError([Defect(file, int(m.group(1)) if m else None, None, None, f"is not valid TOML: {exc}",
                                row_kind="line")]) from None


def _rules(c: _Checker, raw: dict[str, Any], base: dict[str, dict[str, Any]]) -> dict[str, Rule]:
    merged = {name: dict(r) for name, r in base.items()}
    for name, r in c.table(raw, "rules").items():
        if not isinstance(r, dict):
            c.bad(f"rules.{name}", r, "is not a table (expected [rules.NAME] with kind = ...)")
            continue
        merged[name] = {**merged.get(name, {}), **r, "_given": True}
    out: dict[str, Rule] = {}
    for name, r in merged.items():
        where = f"rules.{name}"
        kind = r.get("kind")
        if kind not in KINDS:
            c.bad(f"{where}.kind", kind, "is not a rule kind (known: " + ", ".join(KINDS) + ")")
            continue
        spec = KINDS[kind]
        for key in r:
            if key != "_given" and key not in RULE_KEYS and key not in spec:
                c.bad(f"{where}.{key}", None, f"is not a key of a {kind} rule (known: "
                      + ", ".join([*RULE_KEYS, *spec]) + ")")
        severity = r.get("severity", "warning")
        if severity not in SEVERITIES:
            c.bad(f"{where}.severity", severity, "is not a severity (expected info, warning or critical)")
        cooldown = r.get("cooldown_days", 0)
        if c.typed(cooldown, int, f"{where}.cooldown_days") and cooldown < 0:
            c.bad(f"{where}.cooldown_days", cooldown, "is out of range (expected >= 0)")
        enabled = r.get("enabled", True)
        c.typed(enabled, bool, f"{where}.enabled")
        params: dict[str, Any] = {}
        for key, (kind_type, default, minimum) in spec.items():
            v: Any = r.get(key, default)
            if not c.typed(v, kind_type, f"{where}.{key}"):
                continue
            if minimum is not None and v < minimum:
                c.bad(f"{where}.{key}", v, f"is out of range (expected >= {minimum:g})")
                continue
            params[key] = v if kind_type is str else float(v)
        if kind == "health_worsens" and params.get("into", "yellow") not in ("yellow", "red"):
            c.bad(f"{where}.into", params.pop("into"), "is not a colour to alert on (expected yellow: any worsening, "
                  "or red: into red only)")
        if kind == "usage_drop" and params.get("drop", 0) > 1:
            c.bad(f"{where}.drop", params["drop"], "is out of range (expected a fraction 0-1, e.g. 0.5 = 50%)")
        if enabled is True:
            out[name] = Rule(name, kind, str(severity), int(cooldown) if isinstance(cooldown, int) else 0,
                             params, str(r.get("description", "")))
    return out


def _channels(c: _Checker, raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, ch in c.table(raw, "channels").items():
        where = f"channels.{name}"
        if name not in CHANNELS:
            c.bad(where, None, "is not a channel (known: " + ", ".join(CHANNELS) + ")")
            continue
        if not isinstance(ch, dict):
            c.bad(where, ch, "is not a table")
            continue
        ok = True
        for key, v in ch.items():
            if key not in CHANNELS[name]:
                c.bad(f"{where}.{key}", None, "is not a key of this channel (known: "
                      + ", ".join(CHANNELS[name]) + ")")
                ok = False
            elif not c.typed(v, CHANNELS[name][key], f"{where}.{key}"):
                ok = False
        for key in REQUIRED[name]:
            if key not in ch:
                c.bad(f"{where}.{key}", None, "is required")
                ok = False
        if ch.get("min_severity", "info") not in SEVERITIES:
            c.bad(f"{where}.min_severity", ch["min_severity"], "is not a severity (expected info, warning or critical)")
            ok = False
        for key in ("password_env", "url_env", "secret_env"):
            if isinstance(ch.get(key), str) and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", ch[key]):
                c.bad(f"{where}.{key}", ch[key], "is not an environment variable name "
                      "(the secret itself never goes in the file)")
                ok = False
        if name == "email" and "user" in ch and "password_env" not in ch:
            c.bad(f"{where}.password_env", None, "is required with user")
            ok = False
        if ok:
            out[name] = dict(ch)
    return out


def load_settings(path: str | Path | None = None) -> AlertSettings:
    """The packaged rules, overridden by the TOML file at ``path`` when given; DataError on any mistake."""
    packaged = _parse(_packaged_text(), PACKAGED)
    base = packaged.get("rules", {})
    if path is None:
        c = _Checker(PACKAGED, _packaged_text())
        rules = _rules(c, {}, base)
        if c.defects:  # pragma: no cover - the packaged file is tested
            raise DataError(c.defects)
        return AlertSettings(rules)
    p = Path(path)
    if not p.is_file():
        raise DataError([Defect(str(p), None, None, None, "does not exist (expected an alerts TOML file)")])
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataError([Defect(str(p), None, None, None, "is not UTF-8 text")]) from None
    raw = _parse(text, str(p))
    c = _Checker(str(p), text)
    known = ("base_url", "rules", "channels", "csms", "delivery")
    for key in raw:
        if key not in known:
            c.bad(key, None, "is not a known setting (known: " + ", ".join(known) + ")")
    base_url = raw.get("base_url", AlertSettings.base_url)
    if c.typed(base_url, str, "base_url") and not re.match(r"https?://", base_url):
        c.bad("base_url", base_url, "is not an http(s) URL (e.g. https://cs.example.com)")
    rules = _rules(c, raw, base)
    channels = _channels(c, raw)
    csms: dict[str, str] = {}
    for name, addr in c.table(raw, "csms").items():
        if c.typed(addr, str, f"csms.{name}"):
            if "@" not in addr:
                c.bad(f"csms.{name}", addr, "is not an email address")
            csms[str(name)] = addr
    delivery = {k: float(v[1]) for k, v in DELIVERY.items()}
    for key, v in c.table(raw, "delivery").items():
        if key not in DELIVERY:
            c.bad(f"delivery.{key}", None, "is not a delivery setting (known: " + ", ".join(DELIVERY) + ")")
        elif c.typed(v, DELIVERY[key][0], f"delivery.{key}"):
            if v < DELIVERY[key][2]:  # type: ignore[operator]
                c.bad(f"delivery.{key}", v, f"is out of range (expected >= {DELIVERY[key][2]:g})")
            else:
                delivery[key] = float(v)
    if c.defects:
        c.defects.sort(key=lambda d: d.row or 0)
        raise DataError(c.defects)
    return AlertSettings(rules, str(base_url), channels, csms, delivery, str(p))


def find_rules_file(rules: str | Path | None, workspace: Path | None = None,
                    data_dir: Path | None = None) -> Path | None:
    """The override file by the lookup in this module's docstring, or None."""
    if rules is not None:
        return Path(rules)
    for d in (workspace.parent if workspace is not None else None, data_dir):
        if d is not None and (d / FILE_NAME).is_file():
            return d / FILE_NAME
    return None
