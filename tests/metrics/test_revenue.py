"""Revenue and customer metrics on hand-made data; the arithmetic is in the comments."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.metrics.helpers import sub, values, write_dir

M = "mrr,starting_mrr,new_mrr,reactivation_mrr,expansion_mrr,contraction_mrr,churned_mrr,net_new_mrr," \
    "active_customers,customers_start,new_customers,churned_customers,customer_churn_rate," \
    "customer_retention_rate,arpa,mrr_churn_rate,gross_revenue_retention,net_revenue_retention"


def test_subscription_starting_on_first_day_is_new_mrr_of_that_month(tmp_path: Path) -> None:
    d = write_dir(tmp_path, subscriptions=[sub("s1", "a", "2025-01-01", "2025-06-01", 100)])
    v = values(d, M)
    assert v[("new_mrr", "2025-01", None)] == 100
    assert v[("mrr", "2025-01", None)] == 100
    assert v[("new_customers", "2025-01", None)] == 1
    # ended_at is exclusive: active 1 Jan..31 May, so May ends paying and June churns it.
    assert v[("mrr", "2025-05", None)] == 100
    assert v[("churned_mrr", "2025-05", None)] == 0
    assert v[("churned_mrr", "2025-06", None)] == 100
    assert v[("churned_customers", "2025-06", None)] == 1
    assert v[("customer_churn_rate", "2025-06", None)] == 1.0
    assert v[("mrr", "2025-06", None)] == 0


def test_subscription_ending_on_last_day_of_month_churns_that_month(tmp_path: Path) -> None:
    # ended_at 2025-03-31 (exclusive): last active day is 30 March, so MRR on 31 March is 0.
    d = write_dir(tmp_path, subscriptions=[sub("s1", "a", "2025-01-01", "2025-03-31", 50)])
    v = values(d, M)
    assert v[("mrr", "2025-02", None)] == 50
    assert v[("churned_mrr", "2025-03", None)] == 50
    assert v[("mrr", "2025-03", None)] == 0


def test_same_day_start_and_end_is_never_active(tmp_path: Path) -> None:
    d = write_dir(tmp_path, subscriptions=[
        sub("s1", "a", "2025-02-10", "2025-02-10", 80),
        sub("s2", "b", "2025-01-01", None, 10),
    ])
    v = values(d, M)
    assert v[("mrr", "2025-02", None)] == 10
    assert v[("new_customers", "2025-02", None)] == 0
    assert v[("churned_customers", "2025-02", None)] == 0


def test_customer_new_and_churned_in_same_month_counts_as_churn(tmp_path: Path) -> None:
    # b starts 3 Mar, ends 20 Mar: new in March and not paying on 31 March.
    d = write_dir(tmp_path, subscriptions=[
        sub("s1", "a", "2025-01-01", None, 100),
        sub("s2", "b", "2025-03-03", "2025-03-20", 40),
    ])
    v = values(d, M)
    assert v[("new_customers", "2025-03", None)] == 1
    assert v[("churned_customers", "2025-03", None)] == 1
    assert v[("customers_start", "2025-03", None)] == 1
    assert v[("customer_churn_rate", "2025-03", None)] == 1.0  # 1 churned / 1 at start
    assert v[("customer_retention_rate", "2025-03", None)] == 1.0  # a kept
    # no MRR movement: b was never paying at a boundary
    assert v[("new_mrr", "2025-03", None)] == 0
    assert v[("churned_mrr", "2025-03", None)] == 0


def test_reactivation_after_a_gap(tmp_path: Path) -> None:
    d = write_dir(tmp_path, subscriptions=[
        sub("s1", "a", "2025-01-01", "2025-02-01", 30),
        sub("s2", "a", "2025-04-15", None, 45),
    ])
    v = values(d, M)
    assert v[("churned_mrr", "2025-02", None)] == 30
    assert v[("reactivation_mrr", "2025-04", None)] == 45
    assert v[("new_mrr", "2025-04", None)] == 0
    assert v[("new_customers", "2025-04", None)] == 0
    assert v[("active_customers", "2025-04", None)] == 1
    assert v[("customers_start", "2025-04", None)] == 0
    assert v[("customer_churn_rate", "2025-04", None)] is None  # zero denominator -> null


def test_upgrade_and_downgrade_mid_month(tmp_path: Path) -> None:
    d = write_dir(tmp_path, subscriptions=[
        # a upgrades 100 -> 150 on 10 Feb
        sub("s1", "a", "2025-01-01", "2025-02-10", 100),
        sub("s2", "a", "2025-02-10", None, 150),
        # b downgrades 200 -> 120 on 20 Feb
        sub("s3", "b", "2025-01-01", "2025-02-20", 200),
        sub("s4", "b", "2025-02-20", None, 120),
    ])
    v = values(d, M)
    assert v[("expansion_mrr", "2025-02", None)] == 50
    assert v[("contraction_mrr", "2025-02", None)] == 80
    assert v[("starting_mrr", "2025-02", None)] == 300
    assert v[("mrr", "2025-02", None)] == 270
    assert v[("net_new_mrr", "2025-02", None)] == -30
    assert v[("mrr_churn_rate", "2025-02", None)] == pytest.approx(80 / 300)
    assert v[("gross_revenue_retention", "2025-02", None)] == pytest.approx(220 / 300)
    assert v[("net_revenue_retention", "2025-02", None)] == pytest.approx(270 / 300)
    assert v[("customer_retention_rate", "2025-02", None)] == 1.0


def test_two_concurrent_subscriptions_add_up(tmp_path: Path) -> None:
    d = write_dir(tmp_path, subscriptions=[
        sub("s1", "a", "2025-01-05", None, 100),
        sub("s2", "a", "2025-01-20", "2025-03-01", 25),
    ])
    v = values(d, M)
    assert v[("mrr", "2025-01", None)] == 125
    assert v[("active_customers", "2025-01", None)] == 1
    assert v[("arpa", "2025-01", None)] == 125
    assert v[("contraction_mrr", "2025-03", None)] == 25


def test_intervals_quantity_and_discount(tmp_path: Path) -> None:
    d = write_dir(tmp_path, subscriptions=[
        sub("q", "a", "2025-01-01", None, 300, interval="quarter"),  # 300/3 = 100
        sub("y", "b", "2025-01-01", None, 1200, interval="year", quantity=2, discount=0.25),  # 1200*2*0.75/12 = 150
        sub("w", "c", "2025-01-01", None, 52, interval="week"),  # 52 / (12/52) = 225.333...
    ])
    v = values(d, M)
    assert v[("mrr", "2025-01", None)] == pytest.approx(100 + 150 + 52 * 52 / 12)
    assert v[("arpa", "2025-01", None)] == pytest.approx((100 + 150 + 52 * 52 / 12) / 3)


def test_second_currency_uses_rate_in_force_on_started_at(tmp_path: Path) -> None:
    d = write_dir(
        tmp_path,
        subscriptions=[
            sub("s1", "a", "2025-01-15", None, 100, currency="EUR"),  # rate of 1 Jan: 1.10
            sub("s2", "b", "2025-02-01", None, 100, currency="EUR"),  # rate of 1 Feb: 1.20
            sub("s3", "c", "2025-02-01", None, 100),  # USD
        ],
        fx_rates=[
            {"currency": "EUR", "date": "2025-01-01", "rate": 1.1},
            {"currency": "EUR", "date": "2025-02-01", "rate": 1.2},
            {"currency": "EUR", "date": "2025-03-01", "rate": 9.9},  # later: never used for s1/s2
        ],
    )
    v = values(d, M)
    assert v[("mrr", "2025-01", None)] == pytest.approx(110)
    assert v[("mrr", "2025-03", None)] == pytest.approx(110 + 120 + 100)


def test_base_currency_setting(tmp_path: Path) -> None:
    d = write_dir(
        tmp_path,
        toml='base_currency = "EUR"\n',
        subscriptions=[sub("s1", "a", "2025-01-01", None, 100, currency="USD"), sub("s2", "b", "2025-01-01")],
        fx_rates=[{"currency": "USD", "date": "2024-12-01", "rate": 0.9}],
    )
    v = values(d, "mrr")
    assert v[("mrr", "2025-01", None)] == pytest.approx(90 + 100)


def test_empty_period_has_zero_sums_and_null_rates(tmp_path: Path) -> None:
    d = write_dir(tmp_path, subscriptions=[sub("s1", "a", "2025-05-01", None, 10)])
    v = values(d, M)
    assert v[("mrr", "2025-01", None)] == 0
    assert v[("active_customers", "2025-01", None)] == 0
    for rate in ("arpa", "customer_churn_rate", "customer_retention_rate", "mrr_churn_rate",
                 "net_revenue_retention", "gross_revenue_retention"):
        assert v[(rate, "2025-01", None)] is None, rate


def test_seven_accounts_paying_10_to_70_give_mrr_280_and_arpa_40(tmp_path: Path) -> None:
    # a1..a7 pay 10, 20, ..., 70 from 1 Jan, a7 stops on 15 March (active through 14 March).
    subs = [sub(f"s{i}", f"a{i}", "2025-01-01", "2025-03-15" if i == 7 else None, 10 * i) for i in range(1, 8)]
    d = write_dir(tmp_path, subscriptions=subs)
    v = values(d, M)
    # February: 10 + 20 + 30 + 40 + 50 + 60 + 70 = 280 over 7 accounts; arpa 280 / 7 = 40
    assert v[("mrr", "2025-02", None)] == 280
    assert v[("active_customers", "2025-02", None)] == 7
    assert v[("arpa", "2025-02", None)] == 40
    # March: a7 gone, 280 - 70 = 210 over 6 accounts; arpa 210 / 6 = 35
    assert v[("mrr", "2025-03", None)] == 210
    assert v[("active_customers", "2025-03", None)] == 6
    assert v[("arpa", "2025-03", None)] == 35


def test_quarter_and_week_grains(tmp_path: Path) -> None:
    d = write_dir(tmp_path, subscriptions=[
        sub("s1", "a", "2025-02-15", "2025-05-10", 60),
        sub("s2", "b", "2025-01-01", None, 40),
    ])
    q = values(d, M, period="quarter", start="2025-01-01", end="2026-01-01")
    assert q[("new_mrr", "2025-Q1", None)] == 100
    assert q[("churned_mrr", "2025-Q2", None)] == 60
    assert q[("mrr", "2025-Q4", None)] == 40
    w = values(d, "new_mrr,mrr", period="week", start="2025-02-10", end="2025-02-24")
    # 2025-02-10 is a Monday: ISO week 7; 15 Feb falls in week 7.
    assert w[("new_mrr", "2025-W07", None)] == 60
    assert w[("mrr", "2025-W08", None)] == 100
    y = values(d, "mrr,new_customers", period="year", start="2025-01-01", end="2026-01-01")
    assert y[("new_customers", "2025", None)] == 2


def test_week_start_setting_moves_week_boundaries(tmp_path: Path) -> None:
    # With sunday weeks, the week holding Sat 15 Feb 2025 runs Sun 9 Feb..Sat 15 Feb.
    d = write_dir(tmp_path, toml='week_start = "sunday"\n', subscriptions=[sub("s1", "a", "2025-02-15", None, 60)])
    w = values(d, "new_mrr", period="week", start="2025-02-09", end="2025-02-23")
    assert list(w.values()) == [60, 0]


def test_groups_partition_the_total(tmp_path: Path) -> None:
    d = write_dir(
        tmp_path,
        accounts=[{"account_id": "a", "csm": "ann"}, {"account_id": "b", "csm": "bob"},
                  {"account_id": "c", "csm": ""}],
        subscriptions=[sub("s1", "a", "2025-01-01", "2025-03-01", 100), sub("s2", "b", "2025-01-01", None, 50),
                       sub("s3", "c", "2025-02-01", None, 20)],
    )
    total = values(d, M)
    by = values(d, M, by="csm")
    assert {g for (_, _, g) in by} == {"ann", "bob", "(none)"}
    for metric in ("mrr", "churned_mrr", "new_customers", "churned_customers", "active_customers"):
        for p in ("2025-01", "2025-02", "2025-03"):
            assert sum(v for (m, per, _), v in by.items() if m == metric and per == p) == total[(metric, p, None)]
    # ann's book churned in March; bob's did not
    assert by[("customer_churn_rate", "2025-03", "ann")] == 1.0
    assert by[("customer_churn_rate", "2025-03", "bob")] == 0.0
