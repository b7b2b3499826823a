"""Support: ticket volume and first contact resolution (SPEC section 6)."""

from __future__ import annotations

import ibis.expr.types as ir

from csmetrics.metrics.common import count_if, pick, ratio
from csmetrics.metrics.context import PeriodContext
from csmetrics.registry import metric

NEEDS = ("tickets",)


def support_agg(ctx: PeriodContext) -> ir.Table:
    def build() -> ir.Table:
        t = ctx.bucket("tickets", "opened_at")
        agg = t.group_by(["period", "group"]).aggregate(
            tickets=t.count(),
            fcr=count_if(t.resolved_at.notnull() & (t.contacts == 1)),
            resolved=count_if(t.resolved_at.notnull()),
        )
        return ctx.complete(agg, {"tickets": 0, "fcr": 0, "resolved": 0})

    return ctx.memo("support_agg", build)


@metric("tickets", "count", NEEDS, additive=True)
def tickets(ctx: PeriodContext) -> ir.Table:
    """Support tickets opened in the period (on their opened_at UTC date)."""
    return pick(support_agg(ctx), "tickets")


@metric("tickets_resolved", "count", NEEDS, additive=True)
def tickets_resolved(ctx: PeriodContext) -> ir.Table:
    """Of the tickets opened in the period, those with a resolved_at (resolved at any time)."""
    return pick(support_agg(ctx), "resolved")


@metric("fcr_rate", "ratio", NEEDS)
def fcr_rate(ctx: PeriodContext) -> ir.Table:
    """First contact resolution: tickets opened in the period that are resolved with
    contacts = 1, divided by all tickets opened in the period.

    Unresolved tickets, and tickets whose contacts is unknown, do not count as
    resolved at first contact. Null when no ticket was opened.
    """
    a = support_agg(ctx)
    return a.select("period", "group", "idx", value=ratio(a.fcr, a.tickets))
