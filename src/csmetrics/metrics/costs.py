"""Customer retention cost (SPEC section 6)."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from csmetrics.metrics.common import pick, ratio
from csmetrics.metrics.context import NONE_GROUP, PeriodContext
from csmetrics.metrics.revenue import revenue_agg
from csmetrics.metrics.state import MONEY
from csmetrics.registry import metric


def attributed_costs(ctx: PeriodContext) -> ir.Table | None:
    """Costs incurred in the context's periods, with ``period`` and ``group``; None when they cannot be grouped.

    Costs carry no account: ungrouped, ``group`` is null; with --by, it is the costs
    column of the same name (an empty value: the group (none), as for accounts). Without
    such a column the costs cannot be attributed (None).
    """
    c = ctx.bucket("costs", "incurred_on", grouped=False)
    if ctx.by is None:
        return c.mutate(group=ibis.null("string"))
    if ctx.by not in c.columns:
        return None
    g = c[ctx.by].cast("string")
    return c.mutate(group=ibis.cases((g.isnull() | (g.strip() == ""), NONE_GROUP), else_=g))


def costs_agg(ctx: PeriodContext) -> ir.Table:
    """Per (period, group): costs incurred (see :func:`attributed_costs`; null when not attributable)."""

    def build() -> ir.Table:
        c = attributed_costs(ctx)
        if c is None:
            c = ctx.bucket("costs", "incurred_on", grouped=False)
            agg = c.group_by("period").aggregate(costs=c.amount.cast(MONEY).sum())
            agg = agg.mutate(group=ibis.null("string")).filter(ibis.literal(False))
            return ctx.complete(agg.select("period", "group", "costs"))
        agg = c.group_by(["period", "group"]).aggregate(costs=c.amount.cast(MONEY).sum())
        return ctx.complete(agg, {"costs": 0})

    return ctx.memo("costs_agg", build)


@metric("cs_costs", "currency", ("costs",))
def cs_costs(ctx: PeriodContext) -> ir.Table:
    """Customer-success costs incurred in the period (base currency).

    With --by, attributed by a costs column of the same name if present (an empty value to the
    group (none)), else null.
    """
    return pick(costs_agg(ctx), "costs")


@metric("crc", "currency", ("costs", "subscriptions"))
def crc(ctx: PeriodContext) -> ir.Table:
    """Customer retention cost: costs incurred in the period / active_customers at its end.

    Null when there is no active customer (or, with --by, when costs cannot be attributed).
    """
    c = costs_agg(ctx)
    a = revenue_agg(ctx)
    on = [c.period == a.period] + ([c.group == a.group] if ctx.by is not None else [])
    j = c.join(a, on)
    return j.select(c.period, c.group, c.idx, value=ratio(c.costs, a.active_customers))
