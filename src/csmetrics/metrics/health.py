"""Customer health per period: average score and accounts per colour (docs/health.md).

Each period's accounts are scored as of its last day (or the last day with
data, if earlier) by the health model (``health.toml`` in the data directory,
else the packaged default), over the accounts paying on that day. The scoring
runs in :mod:`csmetrics.models.health` (signals are Ibis aggregates; the
weighting is pandas on one row per account and period end), a few period ends
at a time, keeping only each day's aggregates; the small per-period result
joins the metric grid here.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir
import pandas as pd

from csmetrics.metrics.common import pick
from csmetrics.metrics.context import PeriodContext
from csmetrics.registry import metric

NEEDS = ("subscriptions",)
COUNTS = ("health_green", "health_yellow", "health_red")


def health_agg(ctx: PeriodContext) -> ir.Table:
    """Per (period, group): health_score_avg and the green / yellow / red account counts."""

    def build() -> ir.Table:
        from csmetrics.models.health import config_for, iter_score_history, last_data_day

        ds = ctx.ds
        last = last_data_day(ds)
        day_of = {p.label: min(p.last, last) for p in ctx.periods}
        groups = ds.backend.execute(ctx.account_groups())
        # A few period ends at a time, keeping only each day's small aggregate: the
        # accounts x period ends never sit in memory together.
        per_day: dict[dt.date, pd.DataFrame] = {}
        for hist in iter_score_history(ds, sorted(set(day_of.values())), config_for(ds.source), explain=False):
            hist = hist.loc[hist["active"] & hist["health_score"].notna(),
                            ["account_id", "as_of", "health_score", "health_color"]]
            hist = hist.merge(groups, on="account_id", how="left")
            for day in pd.unique(hist["as_of"]):
                per_day[day] = _day_agg(hist[hist["as_of"] == day])
        parts = []
        for label, day in day_of.items():
            agg = per_day[day].copy() if day in per_day else _day_agg(NO_ACCOUNTS)
            agg["period"] = label
            parts.append(agg)
        cols = ["period", "group", "health_score_avg", *COUNTS]
        df = pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)
        df["group"] = df["group"].astype(object).where(df["group"] != "\0", None)
        if ctx.by is None:
            df["group"] = None
        mem = ibis.memtable(df, schema={"period": "string", "group": "string", "health_score_avg": "float64",
                                        **{c: "int64" for c in COUNTS}})
        return ctx.complete(mem, {c: 0 for c in COUNTS})

    return ctx.memo("health_agg", build, cache=False)


NO_ACCOUNTS = pd.DataFrame({"group": pd.Series(dtype=object), "health_score": pd.Series(dtype="float64"),
                            "health_color": pd.Series(dtype=object)})


def _day_agg(sub: pd.DataFrame) -> pd.DataFrame:
    """group, health_score_avg and the colour counts of one day's paying, scored accounts."""
    key = sub["group"].fillna("\0")
    g = sub.groupby(key, dropna=False)
    return pd.DataFrame({
        "health_score_avg": g["health_score"].mean(),
        **{c: (sub["health_color"] == c.split("_")[1]).groupby(key, dropna=False).sum().astype("int64")
           for c in COUNTS},
    }).reset_index(names="group")


@metric("health_score_avg", "score", NEEDS, default=False)
def health_score_avg(ctx: PeriodContext) -> ir.Table:
    """Mean customer health score (0-100) of the accounts paying at the end of the period.

    Each account is scored as of the period's last day (the last day with data
    if earlier) with the health model: weighted component scores of adoption,
    usage, support, surveys, renewals and MRR trend (docs/health.md). Null when
    no paying account has a score.
    """
    return pick(health_agg(ctx), "health_score_avg")


@metric("health_green", "count", NEEDS, additive=True, default=False)
def health_green(ctx: PeriodContext) -> ir.Table:
    """Accounts paying at the end of the period whose health is green (score >= 70 by default)."""
    return pick(health_agg(ctx), "health_green")


@metric("health_yellow", "count", NEEDS, additive=True, default=False)
def health_yellow(ctx: PeriodContext) -> ir.Table:
    """Accounts paying at the end of the period whose health is yellow (40 <= score < 70 by default)."""
    return pick(health_agg(ctx), "health_yellow")


@metric("health_red", "count", NEEDS, additive=True, default=False)
def health_red(ctx: PeriodContext) -> ir.Table:
    """Accounts paying at the end of the period whose health is red (score < 40 by default)."""
    return pick(health_agg(ctx), "health_red")
