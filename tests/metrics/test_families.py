"""Support, survey, usage, renewal, value and cost metrics on hand-made data."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.metrics.helpers import sub, values, write_dir


def test_tickets_and_fcr_with_unresolved_and_multi_contact(tmp_path: Path) -> None:
    d = write_dir(tmp_path, tickets=[
        {"ticket_id": "t1", "account_id": "a", "opened_at": "2025-01-03T10:00:00Z",
         "resolved_at": "2025-01-03T11:00:00Z", "contacts": 1},
        {"ticket_id": "t2", "account_id": "a", "opened_at": "2025-01-10T10:00:00Z",
         "resolved_at": "2025-01-12T11:00:00Z", "contacts": 3},
        {"ticket_id": "t3", "account_id": "b", "opened_at": "2025-01-20T10:00:00Z",
         "resolved_at": None, "contacts": 1},  # unresolved: not FCR
        # opened 31 Jan 23:30 at -02:00 = 1 Feb 01:30 UTC: counts in February
        {"ticket_id": "t4", "account_id": "b", "opened_at": "2025-01-31T23:30:00-02:00",
         "resolved_at": "2025-02-01T05:00:00Z", "contacts": 1},
    ])
    v = values(d, "tickets,fcr_rate,tickets_resolved", start="2025-01-01", end="2025-04-01")
    assert v[("tickets", "2025-01", None)] == 3
    assert v[("fcr_rate", "2025-01", None)] == pytest.approx(1 / 3)
    assert v[("tickets_resolved", "2025-01", None)] == 2
    assert v[("tickets", "2025-02", None)] == 1
    assert v[("fcr_rate", "2025-02", None)] == 1.0
    assert v[("fcr_rate", "2025-03", None)] is None  # no tickets: null, not 0


def _responses(survey: str, scores: list[float], month: str = "2025-01") -> list[dict[str, object]]:
    return [{"response_id": f"{survey}{month}-{i}", "account_id": f"a{i % 3}", "survey": survey, "score": s,
             "responded_at": f"{month}-{1 + i % 28:02d}T12:00:00Z"} for i, s in enumerate(scores)]


def test_nps_and_margin_of_error(tmp_path: Path) -> None:
    # 5 promoters (9, 10), 3 passives (7, 8), 2 detractors (0, 6): NPS = 100 * (5 - 2) / 10 = 30
    scores = [9, 10, 9, 10, 9, 7, 8, 7, 0, 6]
    d = write_dir(tmp_path, survey_responses=_responses("nps", scores))
    v = values(d, "nps,nps_margin_of_error,nps_responses", end="2025-03-01")
    assert v[("nps", "2025-01", None)] == pytest.approx(30)
    p, dd, n = 0.5, 0.2, 10
    expected = 1.96 * 100 * ((p + dd - (p - dd) ** 2) / n) ** 0.5
    assert v[("nps_margin_of_error", "2025-01", None)] == pytest.approx(expected)
    assert v[("nps_responses", "2025-01", None)] == 10
    assert v[("nps", "2025-02", None)] is None


def test_nps_extremes(tmp_path: Path) -> None:
    d = write_dir(tmp_path, survey_responses=_responses("nps", [0, 3, 6]) + _responses("nps", [10, 9], "2025-02"))
    v = values(d, "nps,nps_margin_of_error", end="2025-03-01")
    assert v[("nps", "2025-01", None)] == -100
    assert v[("nps", "2025-02", None)] == 100
    assert v[("nps_margin_of_error", "2025-02", None)] == 0


def test_csat_default_scale_and_ces(tmp_path: Path) -> None:
    # CSAT 1-5, positive >= 4: 3 of 4 -> 75. CES 1-7, 5..7 positive: 2 of 5 -> 40.
    d = write_dir(tmp_path, survey_responses=_responses("csat", [5, 4, 4, 2]) + [
        {**r, "response_id": "c" + str(r["response_id"])} for r in _responses("ces", [7, 5, 4, 1, 3])])
    v = values(d, "csat,ces,csat_responses,ces_responses", end="2025-02-01")
    assert v[("csat", "2025-01", None)] == 75
    assert v[("ces", "2025-01", None)] == 40
    assert v[("csat_responses", "2025-01", None)] == 4


def test_usage_adoption_and_frequency(tmp_path: Path) -> None:
    # Catalogue over the whole table: {reports, alerts, export, api} = 4 features.
    ev = [
        ("a", "2025-01-02T09:00:00Z", "reports"), ("a", "2025-01-02T17:00:00Z", "alerts"),
        ("a", "2025-01-05T09:00:00Z", "reports"),  # a: 2 features, 2 days
        ("b", "2025-01-07T09:00:00Z", "export"),  # b: 1 feature, 1 day
        ("b", "2025-03-07T09:00:00Z", "api"),  # outside January, still in the catalogue
    ]
    d = write_dir(tmp_path, usage_events=[{"account_id": a, "occurred_at": t, "feature": f} for a, t, f in ev])
    v = values(d, "product_adoption_rate,usage_frequency,usage_accounts", end="2025-03-01")
    assert v[("product_adoption_rate", "2025-01", None)] == pytest.approx((2 / 4 + 1 / 4) / 2)
    assert v[("usage_frequency", "2025-01", None)] == pytest.approx(1.5)
    assert v[("usage_accounts", "2025-01", None)] == 2
    assert v[("product_adoption_rate", "2025-02", None)] is None


def test_renewals_pending_and_rate(tmp_path: Path) -> None:
    d = write_dir(tmp_path, renewals=[
        {"renewal_id": "r1", "account_id": "a", "due_on": "2025-01-10", "outcome": "renewed"},
        {"renewal_id": "r2", "account_id": "b", "due_on": "2025-01-20", "outcome": "churned"},
        {"renewal_id": "r3", "account_id": "c", "due_on": "2025-01-31", "outcome": "renewed"},
        {"renewal_id": "r4", "account_id": "d", "due_on": "2025-01-31", "outcome": "pending"},
        {"renewal_id": "r5", "account_id": "d", "due_on": "2025-02-28", "outcome": "pending"},
    ])
    v = values(d, "renewals_due,renewals_pending,renewal_rate", end="2025-03-01")
    assert v[("renewals_due", "2025-01", None)] == 4
    assert v[("renewals_pending", "2025-01", None)] == 1
    assert v[("renewal_rate", "2025-01", None)] == pytest.approx(2 / 3)
    assert v[("renewal_rate", "2025-02", None)] is None  # only pending: null


def test_non_recurring_revenue_per_kind_and_currency(tmp_path: Path) -> None:
    d = write_dir(
        tmp_path,
        charges=[
            {"charge_id": "c1", "account_id": "a", "charged_at": "2025-01-05", "amount": 100, "kind": "upsell"},
            {"charge_id": "c2", "account_id": "a", "charged_at": "2025-01-06", "amount": 50, "kind": "add_on",
             "currency": "EUR"},
            {"charge_id": "c3", "account_id": "b", "charged_at": "2025-02-06", "amount": 10, "kind": "loyalty"},
        ],
        fx_rates=[{"currency": "EUR", "date": "2025-01-01", "rate": 2.0}],
    )
    v = values(d, "non_recurring_revenue,non_recurring_revenue_upsell,non_recurring_revenue_add_on,"
                  "non_recurring_revenue_loyalty", end="2025-03-01")
    assert v[("non_recurring_revenue", "2025-01", None)] == 200  # 100 + 50 * 2
    assert v[("non_recurring_revenue_add_on", "2025-01", None)] == 100
    assert v[("non_recurring_revenue_loyalty", "2025-02", None)] == 10
    assert v[("non_recurring_revenue_upsell", "2025-02", None)] == 0


def test_clv_from_churn_and_from_configured_lifespan(tmp_path: Path) -> None:
    subs = [sub(f"s{i}", f"a{i}", "2024-12-01", "2025-02-15" if i < 2 else None, 100) for i in range(10)]
    d = write_dir(tmp_path / "derived", subscriptions=subs)
    v = values(d, "clv,arpa,customer_churn_rate", end="2025-03-01")
    # February: 10 at start, 2 churn -> 20%; lifetime 1 / 0.2 = 5 months; arpa 100 -> CLV 500
    assert v[("customer_churn_rate", "2025-02", None)] == pytest.approx(0.2)
    assert v[("clv", "2025-02", None)] == pytest.approx(500)
    assert v[("clv", "2025-01", None)] is None  # no churn in January: lifetime undefined -> null
    d2 = write_dir(tmp_path / "cfg", toml="lifespan_months = 24\ngross_margin = 0.8\n", subscriptions=subs)
    v2 = values(d2, "clv", end="2025-03-01")
    assert v2[("clv", "2025-01", None)] == pytest.approx(100 * 0.8 * 24)


def test_crc_costs_over_active_customers(tmp_path: Path) -> None:
    d = write_dir(
        tmp_path,
        subscriptions=[sub("s1", "a", "2025-01-01"), sub("s2", "b", "2025-01-01"), sub("s3", "c", "2025-02-01")],
        costs=[
            {"cost_id": "k1", "incurred_on": "2025-01-31", "amount": 300, "category": "payroll"},
            {"cost_id": "k2", "incurred_on": "2025-02-28", "amount": 600, "category": "tools"},
        ],
    )
    v = values(d, "crc,cs_costs", end="2025-04-01")
    assert v[("crc", "2025-01", None)] == 150  # 300 / 2
    assert v[("crc", "2025-02", None)] == 200  # 600 / 3
    assert v[("crc", "2025-03", None)] == 0  # no cost, 3 customers
    by = values(d, "crc", end="2025-02-01", by="account_id")
    assert all(x is None for x in by.values())  # costs carry no account: not attributable


def test_metrics_whose_table_is_absent_are_omitted_with_a_note(tmp_path: Path) -> None:
    import csmetrics

    d = write_dir(tmp_path, subscriptions=[sub("s1", "a", "2025-01-01")])
    df = csmetrics.compute(d, metrics="mrr,nps,tickets", start="2025-01-01", end="2025-02-01")
    assert set(df["metric"]) == {"mrr"}
    assert any("nps" in n and "survey_responses" in n for n in df.attrs["notes"])
