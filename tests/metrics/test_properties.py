"""Property tests: invariants that must hold on any data."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import csmetrics
from csmetrics.io import load_data_dir
from csmetrics.metrics.context import PeriodContext
from csmetrics.metrics.revenue import revenue_agg
from csmetrics.periods import periods_between
from tests.metrics.helpers import write_dir

BASE = dt.date(2024, 11, 1)
# Each example loads a data directory into DuckDB (~0.1-0.3 s), so examples are few
# and shrinking is bounded; CI still sees fresh random data every run.
SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target])


@st.composite
def subscriptions(draw: Any) -> list[dict[str, Any]]:
    n = draw(st.integers(1, 25))
    rows = []
    for i in range(n):
        start = BASE + dt.timedelta(days=draw(st.integers(0, 300)))
        length = draw(st.one_of(st.none(), st.integers(0, 200)))
        rows.append({
            "subscription_id": f"s{i}",
            "account_id": f"a{draw(st.integers(0, 8))}",
            "started_at": start.isoformat(),
            "ended_at": None if length is None else (start + dt.timedelta(days=length)).isoformat(),
            "amount": draw(st.sampled_from([0, 9.99, 10, 33.33, 100, 1234.56])),
            "interval": draw(st.sampled_from(["month", "quarter", "year", "week"])),
            "quantity": draw(st.sampled_from([1, 2, 3])),
            "discount": draw(st.sampled_from([0, 0.1, 0.5, 1])),
            "currency": draw(st.sampled_from(["USD", "EUR"])),
        })
    return rows


@st.composite
def responses(draw: Any) -> list[dict[str, Any]]:
    n = draw(st.integers(0, 30))
    out = []
    for i in range(n):
        survey = draw(st.sampled_from(["nps", "csat", "ces"]))
        hi = {"nps": 10, "csat": 5, "ces": 7}[survey]
        lo = 0 if survey == "nps" else 1
        out.append({"response_id": f"r{i}", "account_id": f"a{draw(st.integers(0, 8))}", "survey": survey,
                    "score": draw(st.integers(lo, hi)),
                    "responded_at": (BASE + dt.timedelta(days=draw(st.integers(0, 300)))).isoformat()})
    return out


@contextmanager
def company(subs: list[dict[str, Any]], resp: list[dict[str, Any]] | None = None) -> Iterator[Path]:
    """A data directory for one example, removed when the example ends (Hypothesis runs many)."""
    accounts = [{"account_id": f"a{i}", "segment": ["smb", "ent", ""][i % 3]} for i in range(9)]
    tables: dict[str, Any] = {"accounts": accounts, "subscriptions": subs,
                              "fx_rates": [{"currency": "EUR", "date": "2024-01-01", "rate": 1.0837}]}
    if resp:
        tables["survey_responses"] = resp
    with tempfile.TemporaryDirectory(prefix="csm-prop-") as tmp:
        yield write_dir(Path(tmp), **tables)


@SETTINGS
@given(subscriptions())
def test_mrr_bridge_identity_holds_exactly(subs: list[dict[str, Any]]) -> None:
    with company(subs) as d:
        ds = load_data_dir(d)
        try:
            ps = periods_between(dt.date(2024, 10, 1), dt.date(2025, 12, 1), "month")
            agg = ds.backend.execute(revenue_agg(PeriodContext(ds, ps, "month")).order_by("idx"))
        finally:
            ds.backend.disconnect()
    prev = Decimal(0)
    for r in agg.itertuples():
        # the bridge, in the engine's decimal arithmetic: no rounding slack
        assert Decimal(r.mrr) - prev == Decimal(r.net_new_mrr)
        assert Decimal(r.starting_mrr) == prev
        assert r.new_mrr + r.reactivation_mrr + r.expansion_mrr - r.contraction_mrr - r.churned_mrr == r.net_new_mrr
        prev = Decimal(r.mrr)


@SETTINGS
@given(subscriptions(), responses())
def test_rates_lie_in_their_ranges_and_groups_partition_totals(subs: list[dict[str, Any]],
                                                                 resp: list[dict[str, Any]]) -> None:
    with company(subs, resp) as d:
        df = csmetrics.compute(d, start="2024-11-01", end="2025-10-01")
        by = csmetrics.compute(d, start="2024-11-01", end="2025-10-01", by="segment")
    # customer_churn_rate is not bounded by 1: SPEC counts customers new and gone within
    # the period as churned but not in customers_start (its own test checks >= 0).
    assert (df[df.metric == "customer_churn_rate"].value.dropna() >= 0).all()
    for name in ("customer_retention_rate", "mrr_churn_rate", "gross_revenue_retention"):
        v = df[df.metric == name].value.dropna()
        assert ((v >= -1e-12) & (v <= 1 + 1e-12)).all(), name
    assert (df[df.metric == "net_revenue_retention"].value.dropna() >= -1e-12).all()
    for name, lo, hi in (("nps", -100, 100), ("csat", 0, 100), ("ces", 0, 100)):
        v = df[df.metric == name].value.dropna()
        assert ((v >= lo) & (v <= hi)).all(), name
    net = df[df.metric == "net_new_mrr"].set_index("period").value
    mrr = df[df.metric == "mrr"].set_index("period").value
    start = df[df.metric == "starting_mrr"].set_index("period").value
    assert ((mrr - start - net).abs() <= 1e-9 * (1 + mrr.abs())).all()
    additive = [m.name for m in csmetrics.registry.load_all().values() if m.additive]
    tot = df[df.metric.isin(additive)].set_index(["metric", "period"]).value
    parts = by[by.metric.isin(additive)].groupby(["metric", "period"]).value.sum()
    pd.testing.assert_series_equal(parts.sort_index(), tot.sort_index(), check_names=False, rtol=1e-9)


@SETTINGS
@given(subscriptions(), responses())
def test_month_results_aggregate_to_quarter_results(subs: list[dict[str, Any]], resp: list[dict[str, Any]]) -> None:
    kw: dict[str, Any] = {"start": "2025-01-01", "end": "2025-07-01"}
    with company(subs, resp) as d:
        m = csmetrics.compute(d, period="month", **kw).set_index(["metric", "period"]).value
        q = csmetrics.compute(d, period="quarter", **kw).set_index(["metric", "period"]).value
    quarters = (("2025-Q1", ["2025-01", "2025-02", "2025-03"]), ("2025-Q2", ["2025-04", "2025-05", "2025-06"]))
    for quarter, months in quarters:
        # flows add up over the months of a quarter
        for name in ("net_new_mrr", "new_customers", "nps_responses", "csat_responses"):
            if (name, quarter) not in q.index:  # no survey table in this example
                continue
            total = q[(name, quarter)]
            assert abs(sum(m[(name, mo)] for mo in months) - total) <= 1e-9 * (1 + abs(total))
        # stocks: the quarter ends when its last month ends and starts when its first starts
        assert abs(m[("mrr", months[-1])] - q[("mrr", quarter)]) <= 1e-9 * (1 + abs(q[("mrr", quarter)]))
        assert m[("customers_start", months[0])] == q[("customers_start", quarter)]
        assert m[("active_customers", months[-1])] == q[("active_customers", quarter)]
