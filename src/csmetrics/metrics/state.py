"""Recurring-revenue state: the one builder of MRR per account and day.

Every metric, the health model and the dashboard read MRR through these
functions, so the definition of SPEC section 6 lives here only:

    MRR_a(d) = sum over a's subscriptions with started_at <= d < ended_at of
               amount * quantity * (1 - discount) / months(interval)

in base currency at the fx rate in force on the subscription's started_at
(latest rate on or before it). State is evaluated only on the boundary days
asked for; subscriptions are never expanded per day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from csmetrics.io.dataset import Dataset
from csmetrics.periods import MONTHS_PER

MONEY = "decimal(38, 10)"
"""Type of MRR values inside the engine."""


def to_base(ds: Dataset, t: ir.Table, date_col: str, id_col: str) -> ir.Table:
    """``t`` with ``rate``: base-currency units per unit of its ``currency`` on ``date_col``.

    The rate is the latest fx rate on or before the date; 1 for the base currency.
    Written as a join plus a window (not an ASOF join) so every backend runs it.
    """
    base = ds.config.base_currency
    if not ds.has("fx_rates"):
        return t.mutate(rate=ibis.literal(1.0, "float64"))
    fx = ds.table("fx_rates").select(fx_currency="currency", fx_date="date", fx_rate="rate")
    foreign = t.filter(t.currency != base)
    joined = foreign.join(fx, [foreign.currency == fx.fx_currency, fx.fx_date <= foreign[date_col]])
    latest = (
        joined.mutate(_rk=ibis.row_number().over(group_by=joined[id_col], order_by=ibis.desc(joined.fx_date)))
        .filter(lambda x: x._rk == 0)
        .select(id_col, rate="fx_rate")
    )
    out = t.left_join(latest, t[id_col] == latest[id_col]).select(t, latest.rate)
    return out.mutate(rate=ibis.cases((out.currency == base, 1.0), else_=out.rate).cast("float64"))


def subscription_mrr(ds: Dataset) -> ir.Table:
    """One row per subscription: account_id, started_at, ended_at, mrr (base currency, monthly)."""
    s = ds.table("subscriptions")
    months = ibis.cases(*[(s.interval == k, v) for k, v in MONTHS_PER.items()], else_=1.0)
    s = s.mutate(
        _raw_mrr=(s.amount * s.quantity * (1 - s.discount) / months).cast("float64"),
    )
    s = to_base(ds, s, "started_at", "subscription_id")
    # Decimal so that sums of movements equal differences of sums exactly
    # (the MRR bridge identity); 10 decimal places is far below a cent.
    mrr = (s._raw_mrr * s.rate).cast(MONEY)
    return s.select("subscription_id", "account_id", "started_at", "ended_at", mrr=mrr)


def days_table(days: Sequence[dt.date]) -> ir.Table:
    return ibis.memtable({"day": sorted(set(days))}, schema={"day": "date"})


def account_mrr_on(ds: Dataset, days: Sequence[dt.date] | ir.Table, subs: ir.Table | None = None) -> ir.Table:
    """MRR per account on each of ``days``: account_id, day, mrr (only accounts with MRR > 0).

    ``subs`` is :func:`subscription_mrr` of ``ds`` when the caller already has it.
    """
    subs = subscription_mrr(ds) if subs is None else subs
    d = days if isinstance(days, ir.Table) else days_table(days)
    active = subs.join(
        d, [subs.started_at <= d.day, subs.ended_at.isnull() | (d.day < subs.ended_at)]
    )
    out = active.group_by(["account_id", "day"]).aggregate(mrr=active.mrr.sum())
    return out.filter(out.mrr > 0)


def first_paying_day(ds: Dataset, subs: ir.Table | None = None) -> ir.Table:
    """account_id, first_day: the first day on which the account's MRR > 0."""
    subs = subscription_mrr(ds) if subs is None else subs
    paying = subs.filter((subs.mrr > 0) & (subs.ended_at.isnull() | (subs.ended_at > subs.started_at)))
    return paying.group_by("account_id").aggregate(first_day=paying.started_at.min())


def mrr_as_of(ds: Dataset, day: dt.date) -> ir.Table:
    """account_id, mrr for every account (0 when not paying) on ``day``."""
    acc = ds.table("accounts").select("account_id")
    if not ds.has("subscriptions"):
        return acc.mutate(mrr=ibis.literal(0.0, "float64"))
    m = account_mrr_on(ds, [day])
    j = acc.left_join(m, acc.account_id == m.account_id)
    return j.select(acc.account_id, mrr=j.mrr.fill_null(0).cast("float64"))
