"""The health model declaration: components, rules, weights, colours, segment overrides.

A model is read from TOML (the packaged ``health_default.toml`` unless a path
is given; docs/health.md documents every key). Rules turn one signal value
into a 0-100 score:

- ``linear``: ``worst`` scores 0, ``best`` scores 100, straight line between,
  clamped outside (``worst > best`` means lower is better);
- ``thresholds``: ``bands`` checked in order, the first whose ``at_least`` /
  ``at_most`` bound holds gives the score, ``otherwise`` if none holds;
- ``percentile``: the mid-rank percentile of the value among the active
  accounts of the same segment (``within`` another accounts column if set),
  ``100 - percentile`` for signals where lower is better.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np

from csmetrics.schema.errors import UsageError

RULES = ("linear", "thresholds", "percentile")
LIFECYCLE = "lifecycle"
WINDOW_DEFAULTS: dict[str, int] = {"usage": 90, "support": 180, "surveys": 365, "renewals": 730, "mrr": 90}
WINDOW_KEYS = tuple(WINDOW_DEFAULTS)


@dataclass(frozen=True)
class Signal:
    """A per-account value as of a day; see :mod:`csmetrics.models.health.signals`."""

    name: str
    definition: str
    higher_is_better: bool
    window: str | None = None


SIGNALS: dict[str, Signal] = {s.name: s for s in (
    Signal("feature_breadth", "distinct features the account used in the usage window / distinct features "
           "anyone used on or before the as-of day (0-1)", True, "usage"),
    Signal("active_days", "distinct days with a usage event in the usage window", True, "usage"),
    Signal("usage_trend", "usage events in the usage window / events in the window before, minus 1 "
           "(-0.4 = down 40%); missing without usage in the window before", True, "usage"),
    Signal("csat", "100 x positive CSAT answers / CSAT answers in the surveys window (0-100)", True, "surveys"),
    Signal("open_tickets", "tickets opened on or before the as-of day and not resolved by it", False),
    Signal("fcr_rate", "share of tickets opened in the support window and resolved by the as-of day "
           "that took one contact (0-1)", True, "support"),
    Signal("nps", "NPS (-100..100) of the account's respondents: latest answer per respondent in the "
           "surveys window", True, "surveys"),
    Signal("renewal_rate", "renewed / (renewed + churned) among renewals due in the renewals window (0-1)",
           True, "renewals"),
    Signal("mrr_change", "MRR on the as-of day / MRR one MRR window earlier, minus 1; missing when the "
           "account was not paying then", True, "mrr"),
    Signal("days_since_touch", "days since the account's last usage event, ticket or survey answer", False),
)}


@dataclass(frozen=True)
class Band:
    bound: float
    score: float
    kind: Literal["at_least", "at_most"]

    def holds(self, v: np.ndarray) -> np.ndarray:
        return v >= self.bound if self.kind == "at_least" else v <= self.bound


@dataclass(frozen=True)
class Component:
    """One scored signal: its rule and its weight (in the segment it belongs to)."""

    name: str
    signal: str
    weight: float
    rule: str
    worst: float | None = None
    best: float | None = None
    bands: tuple[Band, ...] = ()
    otherwise: float = 0.0
    within: str | None = None

    @property
    def higher_is_better(self) -> bool:
        return SIGNALS[self.signal].higher_is_better

    def score(self, values: np.ndarray) -> np.ndarray:
        """Scores 0-100 of ``values`` (NaN stays NaN). Not for ``percentile`` (needs the peers)."""
        v = np.asarray(values, dtype="float64")
        if self.rule == "linear":
            assert self.worst is not None and self.best is not None
            out = 100.0 * (v - self.worst) / (self.best - self.worst)
            return np.where(np.isnan(v), np.nan, np.clip(out, 0.0, 100.0))
        if self.rule == "thresholds":
            out = np.full(v.shape, float(self.otherwise))
            done = np.zeros(v.shape, dtype=bool)
            for b in self.bands:
                hit = b.holds(v) & ~done
                out[hit] = b.score
                done |= hit
            return np.where(np.isnan(v), np.nan, out)
        raise ValueError(f"rule {self.rule!r} is scored with its peers (percentile_scores)")

    def percentile_scores(self, values: np.ndarray, peers: np.ndarray) -> np.ndarray:
        """Mid-rank percentile (0-100) of each value among ``peers`` (NaN peers ignored).

        ``(peers below + 0.5 x peers equal) / peers x 100``; mirrored for lower-is-better signals.
        """
        v = np.asarray(values, dtype="float64")
        p = np.sort(np.asarray(peers, dtype="float64")[~np.isnan(peers)])
        if len(p) == 0:
            return np.full(v.shape, np.nan)
        below = np.searchsorted(p, v, side="left")
        upto = np.searchsorted(p, v, side="right")
        pct = 100.0 * (below + 0.5 * (upto - below)) / len(p)
        if not self.higher_is_better:
            pct = 100.0 - pct
        return np.where(np.isnan(v), np.nan, pct)


@dataclass(frozen=True)
class SegmentModel:
    """The components (with weights) and colour thresholds that apply to one segment."""

    components: dict[str, Component]
    green: float
    yellow: float

    @property
    def total_weight(self) -> float:
        return sum(c.weight for c in self.components.values())

    def color(self, score: float) -> str | None:
        if score != score:  # NaN
            return None
        return "green" if score >= self.green else "yellow" if score >= self.yellow else "red"


@dataclass(frozen=True)
class HealthConfig:
    """A whole health model: the default segment model plus per-segment overrides."""

    base: SegmentModel
    segments: dict[str, SegmentModel] = field(default_factory=dict)
    segment_by: str | None = LIFECYCLE
    onboarding_days: int = 120
    min_coverage: float = 0.6
    windows: dict[str, int] = field(default_factory=lambda: dict(WINDOW_DEFAULTS))
    source: str = "default"

    @property
    def component_names(self) -> list[str]:
        return list(self.base.components)

    def for_segment(self, segment: str | None) -> SegmentModel:
        return self.segments.get(segment, self.base) if segment is not None else self.base

    def with_weights(self, weights: Mapping[str, float], source: str = "suggested") -> HealthConfig:
        """The same model with one set of weights for every segment (segment weight overrides dropped)."""
        def rew(m: SegmentModel) -> SegmentModel:
            return replace(m, components={n: replace(c, weight=float(weights.get(n, 0.0)))
                                          for n, c in m.components.items()})
        return replace(self, base=rew(self.base), segments={k: rew(v) for k, v in self.segments.items()},
                       source=source)

    def to_dict(self) -> dict[str, Any]:
        def comp(c: Component) -> dict[str, Any]:
            d: dict[str, Any] = {"signal": c.signal, "weight": c.weight, "rule": c.rule}
            if c.rule == "linear":
                d.update(worst=c.worst, best=c.best)
            elif c.rule == "thresholds":
                d.update(bands=[{b.kind: b.bound, "score": b.score} for b in c.bands], otherwise=c.otherwise)
            elif c.within:
                d["within"] = c.within
            return d

        def seg(m: SegmentModel) -> dict[str, Any]:
            return {"colors": {"green": m.green, "yellow": m.yellow},
                    "components": {n: comp(c) for n, c in m.components.items()}}

        return {"source": self.source, "segment_by": self.segment_by, "onboarding_days": self.onboarding_days,
                "min_coverage": self.min_coverage, "windows": dict(self.windows), **seg(self.base),
                "segments": {k: seg(v) for k, v in self.segments.items()}}


# -- reading TOML ------------------------------------------------------------------------------

DEFAULT_RESOURCE = "health_default.toml"
DATA_DIR_FILE = "health.toml"
"""A health model in the data directory, used when no ``--health-config`` is given."""


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, msg: str) -> UsageError:
        return UsageError(f"health config {self.source}: {key}: {msg}")

    def number(self, d: Mapping[str, Any], key: str, where: str, default: float | None = None) -> float:
        if key not in d:
            if default is None:
                raise self.fail(f"{where}.{key}", "is required")
            return default
        v = d[key]
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise self.fail(f"{where}.{key}", f"{v!r} is not a number")
        return float(v)

    def table(self, d: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
        v = d.get(key, {})
        if not isinstance(v, dict):
            raise self.fail(f"{where}{key}", "must be a table")
        return v

    def unknown(self, d: Mapping[str, Any], known: tuple[str, ...], where: str) -> None:
        extra = [k for k in d if k not in known]
        if extra:
            raise self.fail(f"{where}{extra[0]}", f"unknown key (known: {', '.join(known)})")

    def component(self, name: str, raw: Mapping[str, Any], base: Component | None, where: str) -> Component:
        keys = ("signal", "weight", "rule", "worst", "best", "bands", "otherwise", "within")
        self.unknown(raw, keys, where + ".")
        signal = raw.get("signal", base.signal if base else None)
        if signal not in SIGNALS:
            raise self.fail(f"{where}.signal", f"{signal!r} is not a signal (known: {', '.join(SIGNALS)})")
        rule = raw.get("rule", base.rule if base else None)
        if rule not in RULES:
            raise self.fail(f"{where}.rule", f"{rule!r} is not a rule (known: {', '.join(RULES)})")
        weight = self.number(raw, "weight", where, base.weight if base else None)
        if weight < 0:
            raise self.fail(f"{where}.weight", "must be >= 0")
        c = Component(name, str(signal), weight, str(rule),
                      within=raw.get("within", base.within if base else None))
        if rule == "linear":
            worst = self.number(raw, "worst", where, base.worst if base and base.worst is not None else None)
            best = self.number(raw, "best", where, base.best if base and base.best is not None else None)
            if worst == best:
                raise self.fail(f"{where}.best", "must differ from worst")
            c = replace(c, worst=worst, best=best)
        elif rule == "thresholds":
            bands: list[Band] = []
            raw_bands = raw.get("bands")
            if raw_bands is None and base is not None and base.rule == "thresholds":
                bands = list(base.bands)
            elif not isinstance(raw_bands, list) or not raw_bands:
                raise self.fail(f"{where}.bands", "must be a list of {at_least|at_most = X, score = S}")
            else:
                for i, b in enumerate(raw_bands):
                    w = f"{where}.bands[{i}]"
                    if not isinstance(b, dict) or len([k for k in ("at_least", "at_most") if k in b]) != 1:
                        raise self.fail(w, "needs exactly one of at_least / at_most, and score")
                    self.unknown(b, ("at_least", "at_most", "score"), w + ".")
                    kind: Literal["at_least", "at_most"] = "at_least" if "at_least" in b else "at_most"
                    bands.append(Band(self.number(b, kind, w), self.score(b, "score", w), kind))
            default_other = base.otherwise if base is not None and base.rule == "thresholds" else 0.0
            c = replace(c, bands=tuple(bands), otherwise=self.score(raw, "otherwise", where, default_other))
        return c

    def score(self, d: Mapping[str, Any], key: str, where: str, default: float | None = None) -> float:
        v = self.number(d, key, where, default)
        if not 0 <= v <= 100:
            raise self.fail(f"{where}.{key}", "must be between 0 and 100")
        return v

    def colors(self, raw: Mapping[str, Any], where: str, green: float, yellow: float) -> tuple[float, float]:
        self.unknown(raw, ("green", "yellow"), where)
        g = self.score(raw, "green", where.rstrip("."), green)
        y = self.score(raw, "yellow", where.rstrip("."), yellow)
        if y > g:
            raise self.fail(where + "yellow", "must be <= green")
        return g, y


def parse_config(raw: Mapping[str, Any], source: str = "default") -> HealthConfig:
    """A :class:`HealthConfig` from the parsed TOML mapping; UsageError naming the key on a mistake."""
    r = _Reader(source)
    r.unknown(raw, ("model", "colors", "windows", "components", "segments"), "")
    model = r.table(raw, "model", "")
    r.unknown(model, ("segment_by", "onboarding_days", "min_coverage"), "model.")
    segment_by = model.get("segment_by", LIFECYCLE)
    if segment_by is not None and not isinstance(segment_by, str):
        raise r.fail("model.segment_by", "must be an accounts column name or 'lifecycle'")
    segment_by = segment_by or None
    onboarding = r.number(model, "onboarding_days", "model", 120)
    min_cov = r.number(model, "min_coverage", "model", 0.6)
    if not 0 <= min_cov <= 1:
        raise r.fail("model.min_coverage", "must be between 0 and 1")
    green, yellow = r.colors(r.table(raw, "colors", ""), "colors.", 70, 40)
    win_raw = r.table(raw, "windows", "")
    r.unknown(win_raw, WINDOW_KEYS, "windows.")
    windows = {k: int(r.number(win_raw, k, "windows", WINDOW_DEFAULTS[k])) for k in WINDOW_KEYS}
    if any(v <= 0 for v in windows.values()):
        raise r.fail("windows", "every window must be > 0 days")
    comps_raw = r.table(raw, "components", "")
    if not comps_raw:
        raise r.fail("components", "the model needs at least one component")
    comps: dict[str, Component] = {}
    for name, c in comps_raw.items():
        if not isinstance(c, dict):
            raise r.fail(f"components.{name}", "must be a table")
        comps[name] = r.component(name, c, None, f"components.{name}")
    base = SegmentModel(comps, green, yellow)
    if base.total_weight <= 0:
        raise r.fail("components", "the weights must not all be 0")
    segments: dict[str, SegmentModel] = {}
    for seg, s in r.table(raw, "segments", "").items():
        where = f"segments.{seg}."
        if not isinstance(s, dict):
            raise r.fail(where, "must be a table")
        r.unknown(s, ("weights", "colors", "components"), where)
        seg_comps = dict(comps)
        for name, c in r.table(s, "components", where).items():
            if name not in comps:
                raise r.fail(f"{where}components.{name}", "is not a component of the model")
            if not isinstance(c, dict):
                raise r.fail(f"{where}components.{name}", "must be a table")
            seg_comps[name] = r.component(name, c, comps[name], f"{where}components.{name}")
        for name, _w in r.table(s, "weights", where).items():
            if name not in comps:
                raise r.fail(f"{where}weights.{name}", "is not a component of the model")
            w = r.number(s["weights"], name, f"{where}weights")
            if w < 0:
                raise r.fail(f"{where}weights.{name}", "must be >= 0")
            seg_comps[name] = replace(seg_comps[name], weight=w)
        g, y = r.colors(r.table(s, "colors", where), where + "colors.", green, yellow)
        sm = SegmentModel(seg_comps, g, y)
        if sm.total_weight <= 0:
            raise r.fail(f"{where}weights", "the weights must not all be 0")
        segments[str(seg)] = sm
    return HealthConfig(base, segments, segment_by, int(onboarding), min_cov, windows, source)


def load_config(path: str | Path | None = None) -> HealthConfig:
    """The model at ``path`` (TOML), or the packaged default when None."""
    if path is None:
        text = model_text()
        source = "default"
    else:
        p = Path(path)
        if not p.is_file():
            raise UsageError(f"health config {p} does not exist")
        text = model_text(p)
        source = str(p)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"health config {source}: not valid TOML: {exc}") from exc
    return parse_config(raw, source)


def model_text(path: str | Path | None = None) -> str:
    """The TOML text of the model at ``path``, or of the packaged default when None."""
    if path is None:
        return resources.files("csmetrics.models").joinpath(DEFAULT_RESOURCE).read_text(encoding="utf-8")
    return Path(path).read_text(encoding="utf-8")


def with_weights_toml(text: str, weights: Mapping[str, float]) -> str:
    """The model ``text`` with every component's weight set from ``weights`` and no segment weight overrides.

    This is the model :meth:`HealthConfig.with_weights` builds, and so the one that
    ``health backtest --suggest`` scores as "suggested", written as TOML that loads with
    ``--health-config``. Comments, rules, colours and segments' other settings are kept
    (tomlkit keeps the file's layout). A component missing from ``weights`` gets 0.
    """
    import tomlkit

    doc = tomlkit.parse(text)
    components = doc.get("components", {})
    for name in components:
        components[name]["weight"] = float(weights.get(name, 0.0))
    for seg in doc.get("segments", {}).values():
        if "weights" in seg:
            del seg["weights"]
    return tomlkit.dumps(doc)


def config_for(source: str | None, path: str | Path | None = None) -> HealthConfig:
    """``path`` if given, else ``health.toml`` in the data directory ``source`` if present, else the default."""
    if path is not None:
        return load_config(path)
    if source:
        p = Path(source)
        if p.is_dir() and (p / DATA_DIR_FILE).is_file():
            return load_config(p / DATA_DIR_FILE)
    return load_config(None)


def parse_horizon(text: str) -> int:
    """``90d``, ``12w``, ``3m`` (x 30 days), ``1y`` (365 days) or a bare number of days -> days."""
    t = text.strip().lower()
    units = {"d": 1, "w": 7, "m": 30, "y": 365}
    try:
        n = int(t[:-1]) * units[t[-1]] if t and t[-1] in units else int(t)
    except ValueError:
        raise UsageError(f"--horizon {text!r}: expected e.g. 90d, 12w, 3m or 1y") from None
    if n <= 0:
        raise UsageError(f"--horizon {text!r} must be positive")
    return n

