"""The Python API: compute metrics as a tidy table.

    >>> import csmetrics
    >>> df = csmetrics.compute("demo-data", metrics=["mrr", "customer_churn_rate"], period="month", by="csm")

Rows: metric, period, group, value (SPEC section 7). Rates are fractions;
nps, csat and ces are on their usual scales.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import pandas as pd

from csmetrics import clock
from csmetrics.cache import ResultCache
from csmetrics.io.dataset import Dataset, open_source
from csmetrics.metrics.context import Blocks, PeriodContext
from csmetrics.periods import Period, check_grain, next_start, parse_date, period_start, periods_between
from csmetrics.registry import REGISTRY, Metric, load_all
from csmetrics.schema.errors import UsageError

# Columns that say when something happened. Scheduled dates (ended_at,
# renewals' due_on) may lie in the future, so they bound the span from below only.
SCHEDULED = {("subscriptions", "ended_at"), ("renewals", "due_on")}
DATE_COLUMNS: dict[str, tuple[str, ...]] = {
    "subscriptions": ("started_at", "ended_at"),
    "charges": ("charged_at",),
    "tickets": ("opened_at",),
    "survey_responses": ("responded_at",),
    "usage_events": ("occurred_at",),
    "renewals": ("due_on",),
    "costs": ("incurred_on",),
}


@dataclass
class Result:
    """Metric rows plus notes (e.g. metrics omitted because a table is absent)."""

    rows: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    periods: list[Period] = field(default_factory=list)
    computed: int | None = None
    """How many periods were computed rather than read from the result cache (None: no cache)."""


def data_span(ds: Dataset, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """(first, last) day with any dated event; ``last`` is capped at today."""
    today = today or clock.today()
    lows, highs = [], []
    for table, cols in DATE_COLUMNS.items():
        if not ds.has(table):
            continue
        t = ds.table(table)
        for c in cols:
            col = t[c].cast("date") if t[c].type().is_timestamp() else t[c]
            lows.append(col.min())
            if (table, c) not in SCHEDULED:
                highs.append(col.max())
    if not lows:
        return today, today
    lo_hi = ibis.memtable({"x": [0]}).select(
        lo=ibis.least(*lows) if len(lows) > 1 else lows[0],
        hi=ibis.greatest(*highs) if len(highs) > 1 else highs[0],
    )
    row = ds.backend.execute(lo_hi).iloc[0]
    lo = pd.Timestamp(row["lo"]).date() if pd.notna(row["lo"]) else today
    hi = pd.Timestamp(row["hi"]).date() if pd.notna(row["hi"]) else today
    return lo, min(hi, today)


def resolve_periods(
    ds: Dataset,
    grain: str,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    last: int | None = None,
) -> list[Period]:
    """The periods of a run: [start, end) (end exclusive), defaulting to the data's span.

    ``last`` keeps only the final N periods (ending with the one containing ``end - 1 day``).
    """
    grain = check_grain(grain)
    s = parse_date(start, "--start") if isinstance(start, str) else start
    e = parse_date(end, "--end") if isinstance(end, str) else end
    if s is None or e is None:
        lo, hi = data_span(ds)
        if e is None:
            e = hi + dt.timedelta(days=1)
        if s is None:
            s = lo
            if last:
                s = period_start(e - dt.timedelta(days=1), grain, ds.config.week_start)
                for _ in range(last - 1):
                    s = period_start(s - dt.timedelta(days=1), grain, ds.config.week_start)
    if e <= s:
        raise UsageError(f"--end {e} must be after --start {s}")
    ps = periods_between(s, e, grain, ds.config.week_start)
    if last:
        ps = ps[-last:]
    return ps


def select_metrics(ds: Dataset, names: list[str] | str | None) -> tuple[list[Metric], list[str]]:
    """The metrics asked for (all when None) that the dataset can compute, and notes on the others."""
    load_all()
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    if names == ["all"]:
        chosen = list(REGISTRY.values())
    elif names:
        unknown = [n for n in names if n not in REGISTRY]
        if unknown:
            raise UsageError(f"unknown metric(s): {', '.join(unknown)}; see `csmetrics metrics --list`")
        chosen = [REGISTRY[n] for n in names]
    else:
        # Opt-in metrics (default=False) are computed only when named or with "all".
        chosen = [m for m in REGISTRY.values() if m.default]
    ok: list[Metric] = []
    omitted: dict[str, list[str]] = {}
    for m in chosen:
        missing = [t for t in m.needs if not ds.has(t)]
        if missing:
            omitted.setdefault(", ".join(missing), []).append(m.name)
        else:
            ok.append(m)
    notes = [f"omitted (no {tables} table in {ds.source}): {', '.join(names)}" for tables, names in omitted.items()]
    return ok, notes


def metric_table(ctx: PeriodContext, metrics: list[Metric]) -> ir.Table:
    """One Ibis table of all metric rows: metric, period, group, idx, value."""
    parts = [
        m.builder(ctx).select("period", "group", "idx", "value").mutate(metric=ibis.literal(m.name), midx=i)
        for i, m in enumerate(metrics)
    ]
    out = parts[0]
    for p in parts[1:]:
        out = out.union(p, distinct=False)
    return out


ACCOUNT_PERIODS_PER_PASS = 16_000_000
"""Accounts x periods computed in one pass; longer ranges of larger companies are
computed a few periods at a time, so the building blocks (one row per account and
period) stay within the engine's memory. (16M since the account state is no
longer a temp table: 60 months of the wide 200k company in one pass, 0.9 to
1.2 GB peak; 8 passes instead of 15 at 2M accounts.)"""


def periods_per_pass(ds: Dataset, periods: int) -> int:
    if periods <= 1:
        return 1
    accounts = int(ds.backend.execute(ds.table("accounts").count()))
    return max(1, min(periods, ACCOUNT_PERIODS_PER_PASS // max(accounts, 1)))


def compute_rows(ds: Dataset, metrics: list[Metric], periods: list[Period], grain: str,
                 by: str | None = None) -> pd.DataFrame:
    """Compute ``metrics`` over ``periods`` on the engine: rows metric, period, group, value, in canonical order
    (metrics as given, then periods, then groups with the ungrouped null first).

    Large companies are computed in passes of adjacent periods
    (:data:`ACCOUNT_PERIODS_PER_PASS`); each pass's building blocks are dropped
    before the next.
    """
    size = periods_per_pass(ds, len(periods))
    parts = []
    run = Blocks()  # what every pass shares: the blocks that do not depend on the periods
    try:
        for first in range(0, len(periods), size):
            ctx = PeriodContext(ds, periods[first:first + size], grain, by, run=run)
            try:
                part = ds.backend.execute(metric_table(ctx, metrics))
            finally:
                ctx.release()
            parts.append(part.assign(idx=part["idx"] + first))
    finally:
        run.release(ds.backend)
    df = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    df = df.sort_values(["midx", "idx", "group"], na_position="first", kind="stable")
    df = df[["metric", "period", "group", "value"]].reset_index(drop=True)
    df["value"] = df["value"].astype("float64")
    df["group"] = df["group"].astype(object).where(df["group"].notna(), None)
    return df


def compute_dataset(
    ds: Dataset,
    metrics: list[str] | str | None = None,
    period: str = "month",
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    by: str | None = None,
    last: int | None = None,
    *,
    cache: bool = True,
) -> Result:
    """Compute metrics on an open dataset; see :func:`compute`.

    On a workspace, results are cached per period (:mod:`csmetrics.cache`)
    unless ``cache`` is False: periods whose inputs did not change since an
    earlier run are read back instead of computed.
    """
    chosen, notes = select_metrics(ds, metrics)
    ps = resolve_periods(ds, period, start, end, last)
    if not chosen:
        empty = pd.DataFrame({"metric": [], "period": [], "group": [], "value": []})
        return Result(empty, notes, ps)
    store = ResultCache.open(ds) if cache else None
    if store is not None:
        try:
            df, computed = store.compute(chosen, ps, period, ds.config.week_start, by,
                                         lambda ms, run: compute_rows(ds, ms, run, period, by))
            if store.store_error:
                notes.append(f"result cache {store.path} not written: {store.store_error}")
            return Result(df, notes, ps, computed)
        except sqlite3.Error as exc:
            notes.append(f"result cache {store.path} not used: {exc}")
    return Result(compute_rows(ds, chosen, ps, period, by), notes, ps)


def compute(
    source: str | Path | Dataset,
    metrics: list[str] | str | None = None,
    period: str = "month",
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    by: str | None = None,
    *,
    workspace: bool | None = None,
    output: Literal["pandas", "polars"] = "pandas",
    last: int | None = None,
    cache: bool = True,
) -> Any:
    """Compute metrics as a tidy DataFrame with columns metric, period, group, value.

    ``source`` is a data directory, a workspace file (``*.duckdb``) or an open
    :class:`~csmetrics.io.Dataset`. ``period`` is week, month, quarter or year;
    ``start``/``end`` bound the range (end exclusive; default: the data's span);
    ``by`` groups by an accounts column. ``output="polars"`` returns a polars
    DataFrame. Metrics whose tables are absent are left out; the notes are in
    ``df.attrs["notes"]`` (pandas). On a workspace, per-period results are
    cached next to it (:mod:`csmetrics.cache`); ``cache=False`` computes afresh.
    """
    if isinstance(source, Dataset):
        result = compute_dataset(source, metrics, period, start, end, by, last, cache=cache)
    else:
        path = Path(source)
        is_ws = workspace if workspace is not None else (path.is_file() and path.suffix == ".duckdb")
        ds = open_source(workspace=path) if is_ws else open_source(data=path)
        try:
            result = compute_dataset(ds, metrics, period, start, end, by, last, cache=cache)
        finally:
            ds.backend.disconnect()
    df = result.rows
    df.attrs["notes"] = result.notes
    if output == "polars":
        import polars as pl

        return pl.from_pandas(df)
    return df


__all__ = [
    "Result", "compute", "compute_dataset", "compute_rows", "data_span", "next_start", "resolve_periods",
    "select_metrics",
]
