"""Customer health per period: average score and accounts per colour (docs/health.md).

Each period's accounts are scored as of its last day (or the last day with
data, if earlier) by the health model (``health.toml`` in the data directory,
else the packaged default), over the accounts paying on that day. The scoring
runs in :mod:`csmetrics.models.health` (signals are Ibis aggregates; the
weighting is pandas on one row per account and period end); the small
per-period result joins the metric grid here.
"""

from __future__ import annotations

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
        from csmetrics.models.health import config_for, last_data_day, score_history

        ds = ctx.ds
        last = last_data_day(ds)
        day_of = {p.label: min(p.last, last) for p in ctx.periods}
        hist = score_history(ds, sorted(set(day_of.values())), config_for(ds.source))
        hist = hist[hist["active"] & hist["health_score"].notna()]
        groups = ds.backend.execute(ctx.account_groups())
        hist = hist.merge(groups, on="account_id", how="left")
        parts = []
        for label, day in day_of.items():
            sub = hist[hist["as_of"] == day]
            g = sub.groupby(sub["group"].fillna("\0"), dropna=False)
            agg = pd.DataFrame({
                "health_score_avg": g["health_score"].mean(),
                **{c: g["health_color"].apply(lambda s, col=c.split("_")[1]: int((s == col).sum())) for c in COUNTS},
            }).reset_index(names="group")
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
