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
import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from itertools import islice
from typing import Any

import numpy as np
import pandas as pd

from csmetrics import clock
from csmetrics.io.dataset import Dataset
from csmetrics.models.health.config import LIFECYCLE, HealthConfig, config_for
from csmetrics.models.health.signals import Undated, compute_signals, undated

NONE_SEGMENT = "(none)"
EPOCH = dt.date(1970, 1, 1)
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
        return pd.Series(np.full(len(frame), NONE_SEGMENT, dtype=object), index=frame.index, dtype=object)
    if config.segment_by == LIFECYCLE:
        # Mature once onboarding_days have passed since the first paying day (on or before as_of).
        a = _epoch_days(frame["as_of"])
        f = _epoch_days(frame["first_day"]) if "first_day" in frame.columns else np.full(len(frame), np.nan)
        with np.errstate(invalid="ignore"):
            mature = (f <= a) & (a - f >= config.onboarding_days)
        return pd.Series(np.where(mature, "mature", "onboarding").astype(object), index=frame.index, dtype=object)
    return _labels(frame[config.segment_by])


def _epoch_days(col: pd.Series) -> np.ndarray:
    """Days since 1970-01-01 of each date (NaN when not a date); each distinct value converted once."""
    codes, uniq = pd.factorize(col.astype(object), use_na_sentinel=True)
    nums = np.array([np.nan, *(_epoch_day(d) for d in uniq)], dtype="float64")
    return nums[codes + 1]  # type: ignore[no-any-return]


def _epoch_day(v: object) -> float:
    if isinstance(v, dt.datetime):
        v = v.date()
    return float((v - EPOCH).days) if isinstance(v, dt.date) else np.nan


def _labels(col: pd.Series) -> pd.Series:
    """Each value as text; NONE_SEGMENT when missing or blank (distinct values converted once)."""
    txt = col.astype(object).astype(str)
    codes, uniq = pd.factorize(txt)
    labels = np.array([NONE_SEGMENT if v.strip() == "" else v for v in uniq] + [NONE_SEGMENT], dtype=object)
    out = labels[codes]
    out[col.isna().to_numpy()] = NONE_SEGMENT
    return pd.Series(out, index=col.index, dtype=object)


def _codes(values: pd.Series | np.ndarray) -> np.ndarray:
    return pd.factorize(np.asarray(values, dtype=object))[0]  # type: ignore[no-any-return]


def score_signals(sig: pd.DataFrame, config: HealthConfig, *, explain: bool = True) -> pd.DataFrame:
    """Health per row of a :func:`compute_signals` frame (with any accounts columns the model names).

    Every step works on whole columns. Rows are scored independently except
    for percentile rules, whose peers are the rows of the same as_of day, so
    the rows of one day score the same alone or among other days. With
    ``explain=False`` the texts (missing, main_drag, reasons) are left out.
    """
    df = sig  # read by position (to_numpy) only: its index does not matter
    n = len(df)
    names = config.component_names
    seg_arr = segments(df, config).to_numpy()
    seg_codes, seg_names = pd.factorize(seg_arr)
    active = (df["mrr"] > 0).to_numpy()
    # The component columns of the result, C_value, C_score, C_weight, C_contribution per
    # component, are one block; raw values and scores are filled in place (views).
    block = np.full((n, 4 * len(names)), np.nan)
    raw, scores = block[:, 0::4], block[:, 1::4]
    weights = np.zeros((n, len(names)))
    day_codes = _codes(df["as_of"]) if n else np.zeros(0, dtype=np.int64)
    values: dict[str, np.ndarray] = {}
    pools: dict[str | None, np.ndarray] = {None: seg_codes}
    for si, s in enumerate(seg_names):
        mask = seg_codes == si
        model = config.for_segment(s)
        for j, name in enumerate(names):
            comp = model.components[name]
            if comp.signal not in values:
                values[comp.signal] = df[comp.signal].to_numpy(dtype="float64")
            vals = values[comp.signal]
            raw[mask, j] = vals[mask]
            weights[mask, j] = comp.weight
            if comp.rule != "percentile":
                scores[mask, j] = comp.score(vals[mask])
                continue
            # Peers: the active rows of the same day and pool (the segment, or the `within` column).
            if comp.within not in pools:
                pools[comp.within] = _codes(_labels(df[comp.within]))
            pool = pools[comp.within]
            key = day_codes * (int(pool.max()) + 1) + pool
            for k in np.unique(key[mask]):
                same = key == k
                rows = mask & same
                scores[rows, j] = comp.percentile_scores(vals[rows], vals[same & active])
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
    coverage = np.where(tw > 0, coverage_w / np.where(tw > 0, tw, 1.0), 0.0)
    colors = np.full(n, None, dtype=object)
    for si, s in enumerate(seg_names):
        mask = seg_codes == si
        model = config.for_segment(s)
        h = health[mask]
        band = np.where(h >= model.green, "green", np.where(h >= model.yellow, "yellow", "red")).astype(object)
        band[np.isnan(h)] = None
        colors[mask] = band

    out: dict[str, Any] = {
        "account_id": df["account_id"].to_numpy(),
        "as_of": df["as_of"].to_numpy(),
        "health_segment": seg_arr,
        "mrr": df["mrr"].to_numpy(dtype="float64"),
        "active": active,
        "health_score": health,
        "health_color": colors,
        "coverage": coverage,
        "thin_data": coverage < config.min_coverage,
    }
    if explain:
        lost = np.where(avail, norm * (100.0 - filled), 0.0)
        signals = [config.base.components[nm].signal for nm in names]
        out["missing"] = _missing((weights > 0) & ~avail, names)
        out["main_drag"], out["reasons"] = _drags_and_reasons(raw, scores, lost, aw, signals, config.windows)
        del lost
    block[:, 2::4] = norm
    block[:, 3::4] = np.where(avail, contrib, np.nan)
    del norm, contrib, filled
    # The block becomes the frame without a copy; the other columns go in front of it
    # (pd.concat would copy the lot).
    frame = pd.DataFrame(block, columns=[f"{name}_{part}" for name in names
                                         for part in ("value", "score", "weight", "contribution")])
    for i, (col, column) in enumerate(out.items()):
        frame.insert(i, col, column)
    return frame


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building a list per row: the lists hold no
    cycles, and the collections their number would trigger, each over the whole heap, cost
    many times the building."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _missing(missing: np.ndarray, names: list[str]) -> list[list[str]]:
    """Per row, the names of the components marked in ``missing`` (a bool row per account)."""
    n, k = missing.shape
    if k <= 62:
        # Each row's pattern as one integer: the few distinct patterns are listed once.
        codes, patterns = pd.factorize(missing.astype(np.int64) @ (np.int64(1) << np.arange(k, dtype=np.int64)))
        lists = [[names[j] for j in range(k) if int(p) >> j & 1] for p in patterns]
    else:
        uniq, codes = np.unique(missing, axis=0, return_inverse=True)
        lists = [[names[j] for j in np.flatnonzero(p)] for p in uniq]
    with _gc_paused():
        return [lists[c].copy() for c in codes.reshape(-1).tolist()]


def _drags_and_reasons(raw: np.ndarray, scores: np.ndarray, lost: np.ndarray, aw: np.ndarray, signals: list[str],
                       windows: dict[str, int]) -> tuple[np.ndarray, list[list[str]]]:
    """main_drag (the costliest component's text) and reasons (texts of the components scoring below
    REASON_BELOW, costliest first) of each row; each distinct value of a signal is described once."""
    n, k = lost.shape
    order = np.argsort(-lost, axis=1, kind="stable")
    costs = np.take_along_axis(lost, order, axis=1) > 0
    listed = costs & (np.take_along_axis(scores, order, axis=1) < REASON_BELOW)
    rows = np.flatnonzero(costs[:, 0]) if k else np.zeros(0, dtype=np.int64)
    need = (lost > 0) & (scores < REASON_BELOW)
    need[rows, order[rows, 0]] = True
    text = np.full((n, k), None, dtype=object)
    for j in range(k):
        idx = np.flatnonzero(need[:, j])
        if not len(idx):
            continue
        # Distinct by bit pattern, so that 0.0 and -0.0 keep their own texts.
        inv, bits = pd.factorize(np.ascontiguousarray(raw[idx, j]).view(np.int64))
        described = np.array([DESCRIBE[signals[j]](v, windows) for v in bits.view(np.float64).tolist()], dtype=object)
        text[idx, j] = described[inv]
    ordered = np.take_along_axis(text, order, axis=1)
    main = np.full(n, None, dtype=object)
    main[aw == 0] = "no health signal yet"
    main[rows] = ordered[rows, 0]
    flat = iter(ordered[listed].tolist())
    with _gc_paused():
        reasons = [list(islice(flat, c)) for c in listed.sum(axis=1).tolist()]
    return main, reasons


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

    today = today or clock.today()
    highs = []
    for table, col in ACTIVITY_COLUMNS:
        if ds.has(table):
            c = ds.table(table)[col]
            # (The date of the latest time, not the latest of every time's date: the same day, without
            # a cast of each of millions of timestamps.)
            highs.append(c.max().cast("date") if c.type().is_timestamp() else c.max())
    if not highs:
        return today
    expr = ibis.memtable({"x": [0]}).select(hi=ibis.greatest(*highs) if len(highs) > 1 else highs[0])
    hi = ds.backend.execute(expr)["hi"].iloc[0]
    return today if pd.isna(hi) else min(pd.Timestamp(hi).date(), today)


def score_history(ds: Dataset, days: Sequence[dt.date], config: HealthConfig | None = None, *,
                  explain: bool = True) -> pd.DataFrame:
    """:func:`score_accounts` for every day of ``days`` in one pass (rows keyed by account_id, as_of).

    Holds every account x day in memory at once: for many days of a large
    company, :func:`iter_score_history` gives the same rows a few days at a time.
    """
    config = config or config_for(ds.source)
    return _score_days(ds, days, config, explain, None)


def _score_days(ds: Dataset, days: Sequence[dt.date], config: HealthConfig, explain: bool,
                fixed: Undated | None) -> pd.DataFrame:
    sig = compute_signals(ds, days, config.windows, fixed)
    return score_signals(_with_accounts(ds, sig, config), config, explain=explain)


CHUNK_ROWS = 300_000
"""Account-days scored at once by :func:`iter_score_history` (bounds its memory). At 200k
accounts (one day per chunk) `metrics --metrics all` peaks at 1.43 GB in 56 s; 400k
(two days) took 41 s but 1.55 GB."""


def iter_score_history(ds: Dataset, days: Sequence[dt.date], config: HealthConfig | None = None, *,
                       explain: bool = True, max_rows: int | None = None) -> Iterator[pd.DataFrame]:
    """The rows of :func:`score_history` in chunks of consecutive days, each about ``max_rows``
    account-days (default CHUNK_ROWS).

    A day's scores depend only on that day (signals are point in time and the
    percentile peers are the same day's accounts), so the chunks together equal
    the one-pass frame, with the memory of one chunk. At least one day per chunk.
    """
    config = config or config_for(ds.source)
    todo = sorted(set(days))
    if not todo:
        return
    fixed = undated(ds)  # read once for every chunk
    per = max(1, (max_rows or CHUNK_ROWS) // max(len(fixed.ids), 1))
    for i in range(0, len(todo), per):
        yield _score_days(ds, todo[i:i + per], config, explain, fixed)


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
    config = config or config_for(ds.source)
    before = day - dt.timedelta(days=compare_days)
    # One signals query for both days; each day is scored on its own (see iter_score_history),
    # the earlier one without the texts nobody reads.
    sig = _with_accounts(ds, compute_signals(ds, [before, day], config.windows), config)
    on_day = (sig["as_of"] == day).to_numpy()
    now = score_signals(sig[on_day], config)
    prev = score_signals(sig[~on_day], config, explain=False).set_index("account_id")
    now["health_score_before"] = now["account_id"].map(prev["health_score"]).astype("float64")
    now["health_color_before"] = now["account_id"].map(prev["health_color"])
    now["health_change"] = now["health_score"] - now["health_score_before"]
    return now
