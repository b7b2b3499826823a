"""Customer value: non-recurring revenue, CLV and purchase CLV (SPEC section 6)."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from csmetrics.metrics.common import pick, ratio
from csmetrics.metrics.context import PeriodContext
from csmetrics.metrics.customers import NEEDS as SUB_NEEDS
from csmetrics.metrics.revenue import revenue_agg
from csmetrics.metrics.state import MONEY, to_base
from csmetrics.periods import MONTHS_PER
from csmetrics.registry import metric
from csmetrics.schema.tables import CHARGE_KINDS

NEEDS = ("charges",)


def charges_agg(ctx: PeriodContext) -> ir.Table:
    """Per (period, group): charge totals (base currency) overall and per kind, counts, payers."""

    def build() -> ir.Table:
        c = ctx.ds.table("charges")
        c = to_base(ctx.ds, c, "charged_at", "charge_id")
        # Summed as decimals (like MRR): exact, so the same on every run, pass and engine.
        c = c.mutate(base_amount=(c.amount * c.rate).cast(MONEY))
        b = ctx.bucket("charges", "charged_at", source=c)
        zero = ibis.literal(0).cast(MONEY)
        per_kind = {
            f"nrr_{k}": ibis.cases((b.kind == k, b.base_amount), else_=zero).sum() for k in CHARGE_KINDS
        }
        agg = b.group_by(["period", "group"]).aggregate(
            non_recurring_revenue=b.base_amount.sum(),
            charges=b.count(),
            payers=b.account_id.nunique(),
            **per_kind,
        )
        return ctx.complete(agg, {c: 0 for c in agg.columns if c not in ("period", "group")})

    return ctx.memo("charges_agg", build)


@metric("non_recurring_revenue", "currency", NEEDS, additive=True)
def non_recurring_revenue(ctx: PeriodContext) -> ir.Table:
    """Sum of one-off charges in the period (base currency at the rate on charged_at).

    The seed's "expansion revenue" from upsells, cross-sells, add-ons and
    loyalty; per kind in non_recurring_revenue_<kind>.
    """
    return pick(charges_agg(ctx), "non_recurring_revenue")


def _kind_metric(kind: str) -> None:
    def build(ctx: PeriodContext) -> ir.Table:
        return pick(charges_agg(ctx), f"nrr_{kind}")

    build.__doc__ = f"Sum of charges of kind {kind} in the period (base currency)."
    build.__name__ = f"non_recurring_revenue_{kind}"
    metric(f"non_recurring_revenue_{kind}", "currency", NEEDS, family="value", additive=True)(build)


for _kind in CHARGE_KINDS:
    _kind_metric(_kind)


def lifetime_months(ctx: PeriodContext) -> ir.Table:
    """(period, group, idx, lifetime): lifespan_months if set, else months per period / churn rate."""
    months = MONTHS_PER[ctx.grain]
    a = revenue_agg(ctx)
    configured = ctx.ds.config.lifespan_months
    if configured is not None:
        return a.select("period", "group", "idx", lifetime=ibis.literal(float(configured)))
    churn = ratio(a.churned_customers, a.customers_start)
    return a.select("period", "group", "idx", lifetime=ratio(ibis.literal(months), churn))


@metric("clv", "currency", SUB_NEEDS)
def clv(ctx: PeriodContext) -> ir.Table:
    """Customer lifetime value: arpa x gross_margin x expected lifetime in months.

    Lifetime = lifespan_months from csmetrics.toml if set, else months per
    period / customer_churn_rate (e.g. monthly churn 2% gives 50 months).
    Null when churn is 0 (and no lifespan is configured) or there is no customer.
    """
    a = revenue_agg(ctx)
    life = lifetime_months(ctx)
    j = a.join(life, [a.period == life.period, a.idx == life.idx] + (
        [a.group == life.group] if ctx.by is not None else []))
    value = ratio(a.mrr, a.active_customers) * ctx.ds.config.gross_margin * life.lifetime
    return j.select(a.period, a.group, a.idx, value=value)


@metric("purchase_clv", "currency", NEEDS)
def purchase_clv(ctx: PeriodContext) -> ir.Table:
    """Purchase CLV: average charge value x charges per purchasing account per month x lifespan (months).

    Over the charges of the period. Lifespan = lifespan_months from
    csmetrics.toml if set, else derived from customer churn (needs
    subscriptions). Seed: $50 x 3 x 24 = $3,600.
    """
    a = charges_agg(ctx)
    months = MONTHS_PER[ctx.grain]
    avg_value = ratio(a.non_recurring_revenue, a.charges)
    freq = ratio(a.charges, a.payers) / months
    configured = ctx.ds.config.lifespan_months
    if configured is not None:
        return a.select("period", "group", "idx", value=avg_value * freq * float(configured))
    if not ctx.ds.has("subscriptions"):
        return a.select("period", "group", "idx", value=ibis.null("float64"))
    life = lifetime_months(ctx)
    on = [a.period == life.period] + ([a.group == life.group] if ctx.by is not None else [])
    j = a.join(life, on)
    return j.select(a.period, a.group, a.idx, value=avg_value * freq * life.lifetime)
