"""Recurring revenue: MRR, ARPA and the MRR movements (SPEC section 6).

All values derive from one per-(account, period) table with m0 = MRR at the
start (day before the period's first day) and m1 = MRR at the end (its last
day); see :mod:`csmetrics.metrics.state` for MRR itself.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from csmetrics.metrics.common import count_if, pick, ratio, zero_fill
from csmetrics.metrics.context import PeriodContext
from csmetrics.registry import metric

NEEDS = ("subscriptions",)


def revenue_agg(ctx: PeriodContext) -> ir.Table:
    """Per (period, group): every sum and count the revenue and customer metrics need."""

    def build() -> ir.Table:
        s = ctx.account_state()
        zero = ibis.literal(0).cast(s.m0.type())
        m0, m1 = s.m0, s.m1
        agg = s.group_by(["period", "group"]).aggregate(
            mrr=m1.sum(),
            starting_mrr=m0.sum(),
            new_mrr=ibis.cases(((m0 == 0) & (m1 > 0) & ~s.had_before, m1), else_=zero).sum(),
            reactivation_mrr=ibis.cases(((m0 == 0) & (m1 > 0) & s.had_before, m1), else_=zero).sum(),
            expansion_mrr=ibis.cases(((m0 > 0) & (m1 > m0), m1 - m0), else_=zero).sum(),
            contraction_mrr=ibis.cases(((m0 > 0) & (m1 > 0) & (m1 < m0), m0 - m1), else_=zero).sum(),
            churned_mrr=ibis.cases(((m0 > 0) & (m1 == 0), m0), else_=zero).sum(),
            active_customers=count_if(m1 > 0),
            customers_start=count_if(m0 > 0),
            retained_customers=count_if((m0 > 0) & (m1 > 0)),
            new_customers=count_if(s.is_new),
            churned_customers=count_if((m0 > 0) & (m1 == 0)) + count_if(s.is_new & (m1 == 0)),
        )
        agg = agg.mutate(
            net_new_mrr=agg.new_mrr + agg.reactivation_mrr + agg.expansion_mrr
            - agg.contraction_mrr - agg.churned_mrr
        )
        return ctx.complete(agg, zero_fill(agg))

    return ctx.memo("revenue_agg", build)


@metric("mrr", "currency", NEEDS, additive=True)
def mrr(ctx: PeriodContext) -> ir.Table:
    """Monthly recurring revenue at the end of the period (its last day), in base currency.

    MRR of an account on a day = sum over its subscriptions active that day
    (started_at <= day < ended_at) of amount x quantity x (1 - discount) /
    months(interval), converted at the fx rate in force on started_at.
    """
    return pick(revenue_agg(ctx), "mrr")


@metric("starting_mrr", "currency", NEEDS, additive=True)
def starting_mrr(ctx: PeriodContext) -> ir.Table:
    """MRR at the start of the period (on the day before its first day)."""
    return pick(revenue_agg(ctx), "starting_mrr")


@metric("arpa", "currency", NEEDS)
def arpa(ctx: PeriodContext) -> ir.Table:
    """Average revenue per account: mrr / active_customers at the end of the period.

    Null when there is no active customer.
    """
    a = revenue_agg(ctx)
    return a.select("period", "group", "idx", value=ratio(a.mrr, a.active_customers))


@metric("new_mrr", "currency", NEEDS, additive=True)
def new_mrr(ctx: PeriodContext) -> ir.Table:
    """MRR at the end of the period of accounts paying for the first time ever in it.

    Sum of m1 over accounts with m0 = 0, m1 > 0 and no day with MRR > 0 before the period.
    """
    return pick(revenue_agg(ctx), "new_mrr")


@metric("reactivation_mrr", "currency", NEEDS, additive=True)
def reactivation_mrr(ctx: PeriodContext) -> ir.Table:
    """MRR at the end of the period of returning accounts.

    Sum of m1 over accounts with m0 = 0, m1 > 0 that had a day with MRR > 0 before the period.
    """
    return pick(revenue_agg(ctx), "reactivation_mrr")


@metric("expansion_mrr", "currency", NEEDS, additive=True)
def expansion_mrr(ctx: PeriodContext) -> ir.Table:
    """MRR growth of accounts paying at both ends: sum of m1 - m0 where m0 > 0 and m1 > m0."""
    return pick(revenue_agg(ctx), "expansion_mrr")


@metric("contraction_mrr", "currency", NEEDS, additive=True)
def contraction_mrr(ctx: PeriodContext) -> ir.Table:
    """MRR lost by accounts still paying at the end: sum of m0 - m1 where m0 > 0 and 0 < m1 < m0."""
    return pick(revenue_agg(ctx), "contraction_mrr")


@metric("churned_mrr", "currency", NEEDS, additive=True)
def churned_mrr(ctx: PeriodContext) -> ir.Table:
    """MRR of accounts that stopped paying: sum of m0 where m0 > 0 and m1 = 0."""
    return pick(revenue_agg(ctx), "churned_mrr")


@metric("net_new_mrr", "currency", NEEDS, additive=True)
def net_new_mrr(ctx: PeriodContext) -> ir.Table:
    """new + reactivation + expansion - contraction - churned MRR.

    Equals mrr at the end of the period minus mrr at the end of the period
    before (the MRR bridge identity; exact, as MRR is summed in decimal).
    """
    return pick(revenue_agg(ctx), "net_new_mrr")


@metric("mrr_churn_rate", "ratio", NEEDS)
def mrr_churn_rate(ctx: PeriodContext) -> ir.Table:
    """(churned_mrr + contraction_mrr) / starting MRR; null when starting MRR is 0."""
    a = revenue_agg(ctx)
    return a.select("period", "group", "idx", value=ratio(a.churned_mrr + a.contraction_mrr, a.starting_mrr))


@metric("gross_revenue_retention", "ratio", NEEDS)
def gross_revenue_retention(ctx: PeriodContext) -> ir.Table:
    """1 - mrr_churn_rate: share of starting MRR kept, ignoring expansion."""
    a = revenue_agg(ctx)
    return a.select("period", "group", "idx", value=1 - ratio(a.churned_mrr + a.contraction_mrr, a.starting_mrr))


@metric("net_revenue_retention", "ratio", NEEDS)
def net_revenue_retention(ctx: PeriodContext) -> ir.Table:
    """(starting MRR - churned - contraction + expansion) / starting MRR; null when starting MRR is 0."""
    a = revenue_agg(ctx)
    kept = a.starting_mrr - a.churned_mrr - a.contraction_mrr + a.expansion_mrr
    return a.select("period", "group", "idx", value=ratio(kept, a.starting_mrr))
