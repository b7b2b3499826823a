"""Customer counts, churn and retention (SPEC section 6).

A customer on a day is an account with MRR > 0 that day. Counts derive from
the same per-(account, period) state as the revenue metrics.
"""

from __future__ import annotations

import ibis.expr.types as ir

from csmetrics.metrics.common import pick, ratio
from csmetrics.metrics.context import PeriodContext
from csmetrics.metrics.revenue import revenue_agg
from csmetrics.registry import metric

NEEDS = ("subscriptions",)


@metric("active_customers", "count", NEEDS, additive=True)
def active_customers(ctx: PeriodContext) -> ir.Table:
    """Accounts with MRR > 0 at the end of the period (its last day)."""
    return pick(revenue_agg(ctx), "active_customers")


@metric("customers_start", "count", NEEDS, additive=True)
def customers_start(ctx: PeriodContext) -> ir.Table:
    """Accounts with MRR > 0 at the start of the period (the day before its first day)."""
    return pick(revenue_agg(ctx), "customers_start")


@metric("new_customers", "count", NEEDS, additive=True)
def new_customers(ctx: PeriodContext) -> ir.Table:
    """Accounts whose first day ever with MRR > 0 falls in the period."""
    return pick(revenue_agg(ctx), "new_customers")


@metric("churned_customers", "count", NEEDS, additive=True)
def churned_customers(ctx: PeriodContext) -> ir.Table:
    """Customers lost in the period.

    Accounts paying at the start and not at the end, plus accounts new in the
    period that are not paying at its end (the seed's rule).
    """
    return pick(revenue_agg(ctx), "churned_customers")


@metric("customer_churn_rate", "ratio", NEEDS)
def customer_churn_rate(ctx: PeriodContext) -> ir.Table:
    """churned_customers / customers_start (seed: 64 / 1000 = 6.4%); null when no customer at the start."""
    a = revenue_agg(ctx)
    return a.select("period", "group", "idx", value=ratio(a.churned_customers, a.customers_start))


@metric("customer_retention_rate", "ratio", NEEDS)
def customer_retention_rate(ctx: PeriodContext) -> ir.Table:
    """Accounts paying at both the start and the end, divided by customers_start (seed: 90 / 100 = 90%).

    New customers of the period are not counted: they were not there to retain.
    """
    a = revenue_agg(ctx)
    return a.select("period", "group", "idx", value=ratio(a.retained_customers, a.customers_start))
