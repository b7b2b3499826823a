"""The seed articles' worked examples, reproduced through the CLI on small data directories."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from csmetrics.cli.main import app
from tests.metrics.helpers import sub, write_dir

runner = CliRunner()


def cli_json(*args: str) -> list[dict[str, Any]]:
    res = runner.invoke(app, ["metrics", *args, "--format", "json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def value(rows: list[dict[str, Any]], metric: str, period: str) -> float | None:
    (row,) = [r for r in rows if r["metric"] == metric and r["period"] == period and r["group"] is None]
    return row["value"]


def test_seed_churn_64_of_1000_is_6_4_percent(tmp_path: Path) -> None:
    # 1,000 customers at the start of May; 64 stop paying during May.
    subs = [sub(f"s{i}", f"a{i}", "2025-01-01", f"2025-05-{2 + i % 28:02d}" if i < 64 else None, 20)
            for i in range(1000)]
    d = write_dir(tmp_path, subscriptions=subs)
    rows = cli_json("--data", str(d), "--start", "2025-05-01", "--end", "2025-06-01",
                    "--metrics", "customer_churn_rate,customers_start,churned_customers")
    assert value(rows, "customers_start", "2025-05") == 1000
    assert value(rows, "churned_customers", "2025-05") == 64
    assert value(rows, "customer_churn_rate", "2025-05") == pytest.approx(0.064)


def test_seed_retention_90_of_100_is_90_percent(tmp_path: Path) -> None:
    # 100 customers at the start; 10 leave; 5 new ones join (not counted as retained).
    subs = [sub(f"s{i}", f"a{i}", "2024-12-01", "2025-03-15" if i < 10 else None, 10) for i in range(100)]
    subs += [sub(f"n{i}", f"n{i}", "2025-03-10", None, 10) for i in range(5)]
    d = write_dir(tmp_path, subscriptions=subs)
    rows = cli_json("--data", str(d), "--start", "2025-03-01", "--end", "2025-04-01",
                    "--metrics", "customer_retention_rate")
    assert value(rows, "customer_retention_rate", "2025-03") == pytest.approx(0.90)


def test_seed_hubspot_csat_40_of_50_on_a_ten_point_scale(tmp_path: Path) -> None:
    # 50 answers on 1-10; 40 score 6 or more.
    scores = [6, 7, 8, 9, 10] * 8 + [1, 2, 3, 4, 5] * 2
    resp = [{"response_id": f"r{i}", "account_id": f"a{i % 7}", "survey": "csat", "score": s,
             "responded_at": "2025-04-10T08:00:00Z"} for i, s in enumerate(scores)]
    d = write_dir(tmp_path, toml="csat_scale_max = 10\ncsat_positive_min = 6\n", survey_responses=resp)
    rows = cli_json("--data", str(d), "--start", "2025-04-01", "--end", "2025-05-01", "--metrics", "csat")
    assert value(rows, "csat", "2025-04") == pytest.approx(80.0)


def test_seed_purchase_clv_50_times_3_times_24(tmp_path: Path) -> None:
    # Each of 4 customers spends $50 a visit, 3 visits in the month; lifespan 24 months.
    charges = [{"charge_id": f"c{a}{k}", "account_id": f"a{a}", "charged_at": f"2025-06-{1 + 7 * k:02d}",
                "amount": 50, "kind": "purchase"} for a in range(4) for k in range(3)]
    d = write_dir(tmp_path, toml="lifespan_months = 24\n", charges=charges)
    rows = cli_json("--data", str(d), "--start", "2025-06-01", "--end", "2025-07-01", "--metrics", "purchase_clv")
    assert value(rows, "purchase_clv", "2025-06") == pytest.approx(3600)


def test_seed_mrr_20_customers_paying_50_is_1000(tmp_path: Path) -> None:
    # The seed's MRR = active customers x average revenue per account: 20 customers x $50 = $1,000.
    subs = [sub(f"s{i}", f"a{i}", "2025-01-01", None, 50) for i in range(20)]
    d = write_dir(tmp_path, subscriptions=subs)
    rows = cli_json("--data", str(d), "--start", "2025-01-01", "--end", "2025-02-01",
                    "--metrics", "mrr,active_customers,arpa")
    assert value(rows, "mrr", "2025-01") == 1000  # 20 x 50
    assert value(rows, "active_customers", "2025-01") == 20
    assert value(rows, "arpa", "2025-01") == 50  # 1000 / 20


def test_seed_mrr_of_40_customers_on_four_price_points_is_1300_with_arpa_32_50(tmp_path: Path) -> None:
    # a0..a39 pay 25 + 5 x (i mod 4): ten accounts each at 25, 30, 35 and 40.
    subs = [sub(f"s{i}", f"a{i}", "2025-01-01", None, 25 + 5 * (i % 4)) for i in range(40)]
    # Four more pay from 1 February on (not active in January) and two of the first forty leave on 1 February.
    subs += [sub(f"n{i}", f"n{i}", "2025-02-01", None, 100) for i in range(4)]
    subs[0]["ended_at"] = "2025-02-01"  # a0, at 25
    subs[3]["ended_at"] = "2025-02-01"  # a3, at 40
    d = write_dir(tmp_path, subscriptions=subs)
    rows = cli_json("--data", str(d), "--start", "2025-01-01", "--end", "2025-03-01",
                    "--metrics", "mrr,active_customers,arpa")
    # January: 10 x (25 + 30 + 35 + 40) = 10 x 130 = 1300 over 40 accounts; 1300 / 40 = 32.5
    assert value(rows, "mrr", "2025-01") == 1300
    assert value(rows, "active_customers", "2025-01") == 40
    assert value(rows, "arpa", "2025-01") == 32.5
    # February: 1300 - 25 - 40 + 4 x 100 = 1635 over 40 - 2 + 4 = 42 accounts; 1635 / 42 = 38.928571...
    assert value(rows, "mrr", "2025-02") == 1635
    assert value(rows, "active_customers", "2025-02") == 42
    assert value(rows, "arpa", "2025-02") == pytest.approx(38.92857142857143)
