"""Product usage: adoption breadth and frequency (SPEC section 6)."""

from __future__ import annotations

import ibis.expr.types as ir

from csmetrics.metrics.common import pick
from csmetrics.metrics.context import PeriodContext
from csmetrics.registry import metric

NEEDS = ("usage_events",)


def usage_agg(ctx: PeriodContext) -> ir.Table:
    def build() -> ir.Table:
        u = ctx.bucket("usage_events", "occurred_at")
        catalogue = ctx.ds.table("usage_events").feature.nunique().as_scalar()
        per_account = u.group_by(["period", "group", "account_id"]).aggregate(
            features=u.feature.nunique(), days=u._day.nunique()
        )
        per_account = per_account.mutate(breadth=per_account.features.cast("float64") / catalogue)
        agg = per_account.group_by(["period", "group"]).aggregate(
            usage_accounts=per_account.count(),
            product_adoption_rate=per_account.breadth.mean(),
            usage_frequency=per_account.days.mean(),
        )
        return ctx.complete(agg, {"usage_accounts": 0})

    return ctx.memo("usage_agg", build)


@metric("usage_accounts", "count", NEEDS, additive=True)
def usage_accounts(ctx: PeriodContext) -> ir.Table:
    """Accounts with at least one usage event in the period."""
    return pick(usage_agg(ctx), "usage_accounts")


@metric("product_adoption_rate", "ratio", NEEDS)
def product_adoption_rate(ctx: PeriodContext) -> ir.Table:
    """Mean, over accounts with usage in the period, of distinct features used in the period
    divided by the distinct features in the whole usage_events catalogue.

    Null when no account used the product in the period.
    """
    return pick(usage_agg(ctx), "product_adoption_rate")


@metric("usage_frequency", "days", NEEDS)
def usage_frequency(ctx: PeriodContext) -> ir.Table:
    """Mean number of distinct active days (UTC dates with an event) in the period,
    over accounts with usage in the period. Null when none.
    """
    return pick(usage_agg(ctx), "usage_frequency")
