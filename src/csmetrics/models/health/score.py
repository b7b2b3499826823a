"""Scoring: signals -> component scores -> weighted health score, colour and reasons.

For an account in segment s with component scores x_c (0-100) and weights
w_c of s's model, over the components whose signal is known (A):

    health = sum_{c in A} w_c x_c / sum_{c in A} w_c
    coverage = sum_{c in A} w_c / sum_c w_c

A component's contribution is its share of the score, w_c x_c / sum_A w (the
contributions add up to the score); what it costs the account is
w_c (100 - x_c) / sum_A w, and the costliest one is the main drag. An
account is ``thin_data`` when coverage < ``min_coverage``. When its
segment's model weighs none of its known signals, the base model's weights
are used for what is known; with no known signal at all it gets the neutral
score NEUTRAL_SCORE (so every account has a score and a colour) and is
flagged thin_data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from csmetrics.io.dataset import Dataset
from csmetrics.models.health.config import LIFECYCLE, HealthConfig, config_for
from csmetrics.models.health.signals import compute_signals

NONE_SEGMENT = "(none)"
REASON_BELOW = 50.0
"""Components scoring below this are listed in ``reasons``."""

Describe = Callable[[float, dict[str, int]], str]


def _updown(v: float) -> str:
    return "down" if v < 0 else "up"


DESCRIBE: dict[str, Describe] = {
    "feature_breadth": lambda v, w: f"uses {v:.0%} of the features",
    "active_days": lambda v, w: f"active {v:.0f} of the last {w['usage']} days",
    "usage_trend": lambda v, w: f"usage {_updown(v)} {abs(v):.0%} over {w['usage']} days",
    "csat": lambda v, w: f"CSAT {v:.0f}% positive",
    "open_tickets": lambda v, w: f"{v:.0f} open ticket{'' if v == 1 else 's'}",
    "fcr_rate": lambda v, w: f"{v:.0%} of tickets resolved on first contact",
    "nps": lambda v, w: f"NPS {v:+.0f} among its respondents",
    "renewal_rate": lambda v, w: "churned at its last renewal" if v == 0 else f"renewed {v:.0%} of renewals due",
    "mrr_change": lambda v, w: f"MRR {_updown(v)} {abs(v):.0%} over {w['mrr']} days",
    "days_since_touch": lambda v, w: f"no usage or contact for {v:.0f} days",
}

NEUTRAL_SCORE = 50.0
"""Score of an account with no known signal (flagged thin_data)."""

BASE_COLUMNS = ("account_id", "as_of", "health_segment", "mrr", "active", "health_score", "health_color",
                "coverage", "thin_data", "missing", "main_drag", "reasons")


def segments(frame: pd.DataFrame, config: HealthConfig) -> pd.Series:
    """The health segment of each row: lifecycle stage or the configured accounts column."""
    if config.segment_by is None:
        return pd.Series([NONE_SEGMENT] * len(frame), index=frame.index, dtype=object)
    if config.segment_by == LIFECYCLE:
        first = frame["first_day"] if "first_day" in frame.columns else pd.Series([None] * len(frame))
        out = []
        for a, f in zip(frame["as_of"], first, strict=True):
            mature = isinstance(f, dt.date) and f <= a and (a - f).days >= config.onboarding_days
            out.append("mature" if mature else "onboarding")
        return pd.Series(out, index=frame.index, dtype=object)
    return _labels(frame[config.segment_by])


def _labels(col: pd.Series) -> pd.Series:
    s = col.astype(object).where(col.notna(), None)
    return pd.Series([NONE_SEGMENT if v is None or str(v).strip() == "" else str(v) for v in s],
                     index=col.index, dtype=object)


def score_signals(sig: pd.DataFrame, config: HealthConfig) -> pd.DataFrame:
    """Health per row of a :func:`compute_signals` frame (with any accounts columns the model names)."""
    df = sig.reset_index(drop=True)
    n = len(df)
    names = config.component_names
    seg = segments(df, config)
    active = (df["mrr"] > 0).to_numpy()
    scores = np.full((n, len(names)), np.nan)
    weights = np.zeros((n, len(names)))
    raw = np.full((n, len(names)), np.nan)
    as_of = df["as_of"].to_numpy()
    for s in pd.unique(seg):
        mask = (seg == s).to_numpy()
        model = config.for_segment(s)
        for j, name in enumerate(names):
            comp = model.components[name]
            vals = df[comp.signal].to_numpy(dtype="float64")
            raw[mask, j] = vals[mask]
            weights[mask, j] = comp.weight
            if comp.rule != "percentile":
                scores[mask, j] = comp.score(vals[mask])
                continue
            pool = seg if comp.within is None else _labels(df[comp.within])
            keys = pd.DataFrame({"a": as_of, "p": pool.to_numpy()})
            for _, idx in keys[mask].groupby(["a", "p"], sort=False).groups.items():
                rows = np.asarray(idx)
                a, p = keys.loc[rows[0], "a"], keys.loc[rows[0], "p"]
                peers = vals[(as_of == a) & (pool.to_numpy() == p) & active]
                scores[rows, j] = comp.percentile_scores(vals[rows], peers)
    # An account whose segment model weighs none of its known signals (e.g. an
    # onboarding account with only subscription data) is scored on the base
    # weights of what is known instead of being left unscored; coverage stays
    # that of its own model, so it is flagged thin_data.
    base_w = np.array([config.base.components[nm].weight for nm in names], dtype="float64")
    seg_avail = ~np.isnan(scores) & (weights > 0)
    tw = weights.sum(axis=1)
    coverage_w = (weights * seg_avail).sum(axis=1)
    none_known = coverage_w == 0
    weights = np.where(none_known[:, None], base_w[None, :], weights)
    avail = ~np.isnan(scores) & (weights > 0)
    aw = (weights * avail).sum(axis=1)
    tw = weights.sum(axis=1)
    safe = np.where(aw > 0, aw, 1.0)[:, None]
    norm = np.where(avail, weights / safe, 0.0)
    filled = np.nan_to_num(scores)
    contrib = norm * filled
    # No signal at all: the neutral score NEUTRAL_SCORE (flagged thin_data, main
    # drag "no health signal yet"), so every account has a 0-100 score and a colour.
    health = np.where(aw > 0, contrib.sum(axis=1), NEUTRAL_SCORE)
    lost = np.where(avail, norm * (100.0 - filled), 0.0)
    coverage = np.where(tw > 0, coverage_w / np.where(tw > 0, tw, 1.0), 0.0)

    colors: list[str | None] = []
    drags: list[str | None] = []
    reasons: list[list[str]] = []
    missing: list[list[str]] = []
    signals = [config.base.components[nm].signal for nm in names]
    for i in range(n):
        colors.append(config.for_segment(seg.iloc[i]).color(float(health[i])))
        order = [j for j in np.argsort(-lost[i], kind="stable") if lost[i, j] > 0]
        texts = [DESCRIBE[signals[j]](float(raw[i, j]), config.windows) for j in order]
        drags.append(texts[0] if texts else ("no health signal yet" if aw[i] == 0 else None))
        reasons.append([t for t, j in zip(texts, order, strict=True) if scores[i, j] < REASON_BELOW])
        missing.append([names[j] for j in range(len(names)) if weights[i, j] > 0 and not avail[i, j]])

    out = pd.DataFrame({
        "account_id": df["account_id"].to_numpy(),
        "as_of": df["as_of"].to_numpy(),
        "health_segment": seg.to_numpy(),
        "mrr": df["mrr"].to_numpy(dtype="float64"),
        "active": active,
        "health_score": health,
        "health_color": colors,
        "coverage": coverage,
        "thin_data": coverage < config.min_coverage,
        "missing": missing,
        "main_drag": drags,
        "reasons": reasons,
    })
    comp_cols: dict[str, np.ndarray] = {}
    for j, name in enumerate(names):
        comp_cols[f"{name}_value"] = raw[:, j]
        comp_cols[f"{name}_score"] = scores[:, j]
        comp_cols[f"{name}_weight"] = norm[:, j]
        comp_cols[f"{name}_contribution"] = np.where(avail[:, j], contrib[:, j], np.nan)
    return pd.concat([out, pd.DataFrame(comp_cols)], axis=1)


def _with_accounts(ds: Dataset, sig: pd.DataFrame, config: HealthConfig) -> pd.DataFrame:
    cols = {config.segment_by} if config.segment_by not in (None, LIFECYCLE) else set()
    for m in [config.base, *config.segments.values()]:
        cols |= {c.within for c in m.components.values() if c.within}
    if not cols:
        return sig
    from csmetrics.schema.errors import UsageError

    have = ds.account_columns
    bad = sorted(c for c in cols if c not in have)
    if bad:
        raise UsageError(f"health config {config.source}: {', '.join(bad)} is not an accounts column "
                         f"(columns: {', '.join(have)}; or segment_by = 'lifecycle')")
    acc = ds.backend.execute(ds.table("accounts").select("account_id", *sorted(cols)))
    return sig.merge(acc, on="account_id", how="left")


ACTIVITY_COLUMNS = (("usage_events", "occurred_at"), ("tickets", "opened_at"),
                    ("survey_responses", "responded_at"), ("charges", "charged_at"), ("subscriptions", "started_at"))


def last_data_day(ds: Dataset, today: dt.date | None = None) -> dt.date:
    """The last day with recorded activity (usage, tickets, answers, charges, subscription starts),
    not after today: the default as-of day. Renewal due dates and subscription ends, which
    are often in the future, do not count."""
    import ibis

    today = today or dt.datetime.now(dt.UTC).date()
    highs = []
    for table, col in ACTIVITY_COLUMNS:
        if ds.has(table):
            c = ds.table(table)[col]
            highs.append((c.cast("date") if c.type().is_timestamp() else c).max())
    if not highs:
        return today
    expr = ibis.memtable({"x": [0]}).select(hi=ibis.greatest(*highs) if len(highs) > 1 else highs[0])
    hi = ds.backend.execute(expr)["hi"].iloc[0]
    return today if pd.isna(hi) else min(pd.Timestamp(hi).date(), today)


def score_history(ds: Dataset, days: Sequence[dt.date], config: HealthConfig | None = None) -> pd.DataFrame:
    """:func:`score_accounts` for every day of ``days`` in one pass (rows keyed by account_id, as_of)."""
    config = config or config_for(ds.source)
    sig = compute_signals(ds, days, config.windows)
    return score_signals(_with_accounts(ds, sig, config), config)


def score_accounts(ds: Dataset, as_of: dt.date | None = None, config: HealthConfig | None = None,
                   compare_days: int | None = 30) -> pd.DataFrame:
    """Health of every account on ``as_of`` (default: the last day with data).

    One row per account. Columns: account_id, as_of, health_segment, mrr (on
    as_of, via metrics.state), active (mrr > 0), health_score (0-100; NEUTRAL_SCORE when
    no signal is known), health_color (green|yellow|red|None), coverage (0-1),
    thin_data, missing (component names), main_drag (text), reasons (texts of
    components scoring < 50, costliest first), then per component C:
    C_value (raw signal), C_score (0-100), C_weight (normalised weight used,
    0 when missing), C_contribution (points of the score); with
    ``compare_days``, health_score_before / health_color_before (the score
    ``compare_days`` earlier) and health_change (score now - before).
    ``config`` defaults to ``health.toml`` in the data directory, else the
    packaged model.
    """
    day = as_of or last_data_day(ds)
    if not compare_days:
        return score_history(ds, [day], config)
    before = day - dt.timedelta(days=compare_days)
    hist = score_history(ds, [before, day], config)
    now = hist[hist["as_of"] == day].reset_index(drop=True)
    prev = hist[hist["as_of"] == before].set_index("account_id")
    now["health_score_before"] = now["account_id"].map(prev["health_score"]).astype("float64")
    now["health_color_before"] = now["account_id"].map(prev["health_color"])
    now["health_change"] = now["health_score"] - now["health_score_before"]
    return now
