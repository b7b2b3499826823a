"""Auditing a number: the definition, the inputs and the rows behind a metric value.

``explain(ds, "customer_churn_rate", "2025-05")`` returns the value, the
family's inputs for that period (e.g. customers at the start, churned
customers) and the account-level rows that make it up (e.g. exactly the
accounts that churned, with their MRR at the start and end).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from csmetrics.compute import compute_dataset
from csmetrics.io.dataset import Dataset
from csmetrics.metrics import costs, renewals, revenue, support, surveys, usage, value
from csmetrics.metrics.context import PeriodContext
from csmetrics.periods import parse_label
from csmetrics.registry import get
from csmetrics.schema.errors import UsageError

RowFilter = Callable[[ir.Table], ir.BooleanValue]

# Which account-state rows make up each revenue/customer metric.
_STATE_ROWS: dict[str, tuple[str, RowFilter]] = {
    "mrr": ("accounts paying at the end", lambda s: s.m1 > 0),
    "starting_mrr": ("accounts paying at the start", lambda s: s.m0 > 0),
    "arpa": ("accounts paying at the end", lambda s: s.m1 > 0),
    "active_customers": ("accounts paying at the end", lambda s: s.m1 > 0),
    "customers_start": ("accounts paying at the start", lambda s: s.m0 > 0),
    "new_mrr": ("new accounts", lambda s: (s.m0 == 0) & (s.m1 > 0) & ~s.had_before),
    "new_customers": ("accounts paying for the first time in the period", lambda s: s.is_new),
    "reactivation_mrr": ("reactivated accounts", lambda s: (s.m0 == 0) & (s.m1 > 0) & s.had_before),
    "expansion_mrr": ("expanded accounts", lambda s: (s.m0 > 0) & (s.m1 > s.m0)),
    "contraction_mrr": ("contracted accounts", lambda s: (s.m0 > 0) & (s.m1 > 0) & (s.m1 < s.m0)),
    "churned_mrr": ("churned accounts", lambda s: (s.m0 > 0) & (s.m1 == 0)),
    "churned_customers": ("churned accounts", lambda s: (s.m1 == 0) & ((s.m0 > 0) | s.is_new)),
    "customer_churn_rate": ("churned accounts", lambda s: (s.m1 == 0) & ((s.m0 > 0) | s.is_new)),
    "customer_retention_rate": ("retained accounts", lambda s: (s.m0 > 0) & (s.m1 > 0)),
    "net_new_mrr": ("accounts whose MRR moved", lambda s: s.m0 != s.m1),
    "mrr_churn_rate": ("churned and contracted accounts", lambda s: (s.m0 > 0) & (s.m1 < s.m0)),
    "gross_revenue_retention": ("churned and contracted accounts", lambda s: (s.m0 > 0) & (s.m1 < s.m0)),
    "net_revenue_retention": ("accounts paying at the start", lambda s: s.m0 > 0),
    "clv": ("accounts paying at the end", lambda s: s.m1 > 0),
}


@dataclass
class Explanation:
    metric: str
    unit: str
    definition: str
    period: str
    group: str | None
    value: float | None
    inputs: dict[str, Any] = field(default_factory=dict)
    rows_label: str = ""
    rows: pd.DataFrame = field(default_factory=pd.DataFrame)
    subscriptions: pd.DataFrame = field(default_factory=pd.DataFrame)
    """For MRR metrics: the subscription rows of those accounts in force at the start or end of the
    period, with any extra columns (a source's ids, e.g. Stripe's ``stripe_lines``)."""
    column_labels: dict[str, str] = field(default_factory=dict)
    """Words for terse row columns, as the definition says them: ``m0`` -> "MRR at start (day before P: ...)"."""

    def to_dict(self) -> dict[str, Any]:
        rows = self.rows.astype(object).where(self.rows.notna(), None)
        out = {
            "metric": self.metric,
            "unit": self.unit,
            "definition": self.definition,
            "period": self.period,
            "group": self.group,
            "value": self.value,
            "inputs": self.inputs,
            "rows_label": self.rows_label,
            "rows": [{k: _jsonable(v) for k, v in r.items()} for r in rows.to_dict("records")],
        }
        if self.column_labels:
            out["column_labels"] = dict(self.column_labels)
        if len(self.subscriptions):
            subs = self.subscriptions.astype(object).where(self.subscriptions.notna(), None)
            out["subscriptions"] = [{k: _jsonable(v) for k, v in r.items()} for r in subs.to_dict("records")]
        return out


def _jsonable(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, pd.Timestamp) and v == v.normalize():
        return v.date().isoformat()
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if hasattr(v, "item"):
        return v.item()
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else v


def _state_movement(s: ir.Table) -> ir.StringValue:
    return ibis.cases(
        (s.is_new & (s.m1 == 0), "new and churned"),
        ((s.m0 == 0) & (s.m1 > 0) & ~s.had_before, "new"),
        ((s.m0 == 0) & (s.m1 > 0), "reactivation"),
        ((s.m0 > 0) & (s.m1 == 0), "churned"),
        ((s.m0 > 0) & (s.m1 > s.m0), "expansion"),
        ((s.m0 > 0) & (s.m1 < s.m0), "contraction"),
        else_="unchanged",
    )


def _detail(ctx: PeriodContext, name: str, family: str) -> tuple[str, ir.Table | None, ir.Table | None]:
    """(label, agg table, detail rows table) for a metric."""
    if name in _STATE_ROWS:
        label, keep = _STATE_ROWS[name]
        s = ctx.account_state()
        rows = s.filter(keep(s)).select(
            "period", "group", "account_id", "first_day",
            m0=s.m0.cast("float64"), m1=s.m1.cast("float64"), movement=_state_movement(s),
        ).order_by([ibis.desc("m0"), "account_id"])
        return label, revenue.revenue_agg(ctx), rows
    if family == "support":
        t = ctx.bucket("tickets", "opened_at")
        rows = t.select("period", "group", "ticket_id", "account_id", "opened_at", "resolved_at", "contacts",
                        first_contact_resolution=t.resolved_at.notnull() & (t.contacts == 1)).order_by("ticket_id")
        return "tickets opened in the period", support.support_agg(ctx), rows
    if family == "surveys":
        r = ctx.bucket("survey_responses", "responded_at")
        kind = "nps" if name.startswith("nps") else name.split("_")[0]
        r = r.filter(r.survey == kind)
        rows = r.select("period", "group", "response_id", "account_id", "responded_at", "score", "comment")
        return f"{kind} answers in the period", surveys.survey_agg(ctx), rows.order_by("response_id")
    if family == "renewals":
        r = ctx.bucket("renewals", "due_on")
        rows = r.select("period", "group", "renewal_id", "account_id", "due_on", "outcome").order_by("renewal_id")
        return "renewals due in the period", renewals.renewal_agg(ctx), rows
    if family == "usage":
        u = ctx.bucket("usage_events", "occurred_at")
        rows = u.group_by(["period", "group", "account_id"]).aggregate(
            features_used=u.feature.nunique(), active_days=u._day.nunique()
        ).order_by("account_id")
        return "accounts with usage in the period", usage.usage_agg(ctx), rows
    if family == "value":
        b = ctx.bucket("charges", "charged_at")
        label = "charges in the period"
        kind = name.removeprefix("non_recurring_revenue_")
        if kind != name:  # a per-kind metric: only the charges of that kind make it up
            b = b.filter(b.kind == kind)
            label = f"{kind} charges in the period"
        rows = b.select("period", "group", "charge_id", "account_id", "charged_at", "amount", "currency", "kind")
        return label, value.charges_agg(ctx), rows.order_by("charge_id")
    if family == "costs":
        c = costs.attributed_costs(ctx)
        if c is None:  # costs not attributable to the --by groups: no row makes up a (null) value
            c = ctx.bucket("costs", "incurred_on", grouped=False)
            c = c.mutate(group=ibis.null("string")).filter(ibis.literal(False))
        rows = c.select("period", "group", "cost_id", "incurred_on", "amount", "category").order_by("cost_id")
        return "costs incurred in the period", costs.costs_agg(ctx), rows
    return "", None, None


def explain(ds: Dataset, metric: str, period: str, group: str | None = None, by: str | None = None) -> Explanation:
    """Explain one metric value: definition, inputs and the rows behind it.

    ``period`` is a label (2025-05, 2025-Q2, 2025, 2025-W19); ``group`` a value
    of the ``by`` column (``by`` is required with ``group``).
    """
    m = get(metric)
    missing = [t for t in m.needs if not ds.has(t)]
    if missing:
        raise UsageError(f"{metric} needs table(s) {', '.join(missing)}, absent from {ds.source}")
    if group is not None and by is None:
        raise UsageError("--group needs --by COLUMN")
    p = parse_label(period, ds.config.week_start)
    ctx = PeriodContext(ds, [p], p.grain, by)
    result = compute_dataset(ds, [metric], p.grain, p.first, p.last + pd.Timedelta(days=1), by)
    vals = result.rows
    if by is not None:
        vals = vals[vals["group"] == group]
        if vals.empty:
            raise UsageError(f"no group {group!r} in column {by!r}")
    v = vals["value"].iloc[0] if len(vals) else None
    label, agg, rows = _detail(ctx, metric, m.family)
    inputs: dict[str, Any] = {}
    detail = pd.DataFrame()
    if agg is not None:
        a = agg.filter(agg.group == group) if by is not None else agg
        adf = ds.backend.execute(a.drop("idx"))
        if len(adf):
            inputs = {k: _jsonable(x) for k, x in adf.iloc[0].items() if k not in ("period", "group")}
    if rows is not None:
        r = rows.filter(rows.group == group) if by is not None else rows
        detail = ds.backend.execute(r.drop("group", "period"))
    subs = pd.DataFrame()
    if metric in _STATE_ROWS and ds.has("subscriptions") and "account_id" in detail and len(detail):
        subs = _subscription_rows(ds, p.first, p.last, [str(a) for a in detail["account_id"]])
    return Explanation(
        metric=metric,
        unit=m.unit,
        definition=m.definition,
        period=p.label,
        group=group,
        value=None if v is None or pd.isna(v) else float(v),
        inputs=inputs,
        rows_label=label,
        rows=detail,
        subscriptions=subs,
        column_labels=_column_labels(metric, p.first, p.last),
    )


def _column_labels(metric: str, first: Any, last: Any) -> dict[str, str]:
    """The account-state columns named as the definitions name them, with this period's days."""
    if metric not in _STATE_ROWS:
        return {}
    before = pd.Timestamp(first) - pd.Timedelta(days=1)
    return {"m0": f"MRR at start (day before P: {before:%Y-%m-%d})",
            "m1": f"MRR at end (last day of P: {pd.Timestamp(last):%Y-%m-%d})"}


_SEED = re.compile(r"\(seed: ([^)]*)\)")


def labelled_definition(definition: str) -> str:
    """The definition with its "(seed: 64 / 1000 = 6.4%)" marked as the seed article's worked example.

    Shown next to this period's value, a bare "(seed: ...)" reads like this period's figures.
    """
    return _SEED.sub(r"(worked example from the seed article, not this period's data: \1)", definition)


def _subscription_rows(ds: Dataset, first: Any, last: Any, accounts: list[str]) -> pd.DataFrame:
    """Subscription rows of ``accounts`` in force on the day before ``first`` or on ``last``."""
    s = ds.table("subscriptions")
    before = ibis.literal(pd.Timestamp(first) - pd.Timedelta(days=1)).cast("date")
    end = ibis.literal(pd.Timestamp(last)).cast("date")
    in_force = s.filter((s.started_at <= end) & (s.ended_at.isnull() | (s.ended_at > before)))
    # A semi-join with the accounts as a table: an IN list of 150k literals took a minute to plan.
    ids = ibis.memtable(pd.DataFrame({"account_id": pd.unique(pd.Series(accounts, dtype=object))}))
    keep = in_force.semi_join(ids, "account_id")
    cols = ["account_id", "subscription_id", "started_at", "ended_at", "amount", "interval", "currency"]
    extra = [c for c in s.columns if c not in cols and c not in ("quantity", "discount", "plan")]
    return ds.backend.execute(keep.select(*cols, *extra).order_by(["account_id", "started_at"]))
