"""Renewals due and renewal rate (SPEC section 6)."""

from __future__ import annotations

import ibis.expr.types as ir

from csmetrics.metrics.common import count_if, pick, ratio
from csmetrics.metrics.context import PeriodContext
from csmetrics.registry import metric

NEEDS = ("renewals",)


def renewal_agg(ctx: PeriodContext) -> ir.Table:
    def build() -> ir.Table:
        r = ctx.bucket("renewals", "due_on")
        agg = r.group_by(["period", "group"]).aggregate(
            due=r.count(),
            pending=count_if(r.outcome == "pending"),
            renewed=count_if(r.outcome == "renewed"),
            churned=count_if(r.outcome == "churned"),
        )
        return ctx.complete(agg, {"due": 0, "pending": 0, "renewed": 0, "churned": 0})

    return ctx.memo("renewal_agg", build)


@metric("renewals_due", "count", NEEDS, additive=True)
def renewals_due(ctx: PeriodContext) -> ir.Table:
    """Renewals with due_on in the period."""
    return pick(renewal_agg(ctx), "due")


@metric("renewals_pending", "count", NEEDS, additive=True)
def renewals_pending(ctx: PeriodContext) -> ir.Table:
    """Renewals due in the period whose outcome is still pending."""
    return pick(renewal_agg(ctx), "pending")


@metric("renewal_rate", "ratio", NEEDS)
def renewal_rate(ctx: PeriodContext) -> ir.Table:
    """renewed / (renewed + churned) among renewals due in the period; pending ones are left out.

    Null when no renewal due in the period has an outcome yet.
    """
    a = renewal_agg(ctx)
    return a.select("period", "group", "idx", value=ratio(a.renewed, a.renewed + a.churned))
