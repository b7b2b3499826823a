"""`csmetrics metrics` output formats and `csmetrics explain`."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from typer.testing import CliRunner

from csmetrics.cli.main import app
from csmetrics.explain import explain
from csmetrics.io import load_data_dir
from tests.metrics.helpers import sub, write_dir

runner = CliRunner()


def company(tmp_path: Path) -> Path:
    return write_dir(
        tmp_path,
        accounts=[{"account_id": a, "segment": s, "csm": c} for a, s, c in
                  [("a", "smb", "ann"), ("b", "smb", "bob"), ("c", "ent", "ann"), ("d", "ent", "bob")]],
        subscriptions=[sub("s1", "a", "2025-01-01", "2025-03-05", 100), sub("s2", "b", "2025-01-01", None, 50),
                       sub("s3", "c", "2025-01-01", "2025-03-31", 70), sub("s4", "d", "2025-03-02", "2025-03-09", 9)],
    )


def test_json_rows_follow_the_output_contract(tmp_path: Path) -> None:
    res = runner.invoke(app, ["metrics", "--data", str(company(tmp_path)), "--start", "2025-03-01",
                              "--end", "2025-04-01", "--metrics", "customer_churn_rate,mrr", "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert rows[0] == {"metric": "customer_churn_rate", "period": "2025-03", "group": None, "value": 1.0}
    assert rows[1] == {"metric": "mrr", "period": "2025-03", "group": None, "value": 50.0}


def test_csv_has_the_contract_header_and_empty_nulls(tmp_path: Path) -> None:
    res = runner.invoke(app, ["metrics", "--data", str(company(tmp_path)), "--start", "2024-12-01",
                              "--end", "2025-01-01", "--metrics", "customer_churn_rate", "--format", "csv",
                              "--by", "segment"])
    assert res.exit_code == 0, res.output
    rows = list(csv.reader(io.StringIO(res.stdout)))
    assert rows[0] == ["metric", "period", "group", "value"]
    assert rows[1:] == [["customer_churn_rate", "2024-12", "ent", ""], ["customer_churn_rate", "2024-12", "smb", ""]]


def test_table_format_and_list(tmp_path: Path) -> None:
    res = runner.invoke(app, ["metrics", "--data", str(company(tmp_path)), "--start", "2025-01-01",
                              "--end", "2025-04-01", "--metrics", "mrr"])
    assert res.exit_code == 0
    assert "2025-03" in res.stdout and "220.00" in res.stdout and "50.00" in res.stdout
    res = runner.invoke(app, ["metrics", "--list"])
    assert res.exit_code == 0 and "customer_churn_rate" in res.stdout and "nps" in res.stdout


def test_bad_arguments_exit_non_zero_with_a_message(tmp_path: Path) -> None:
    d = str(company(tmp_path))
    for args, needle in [
        (["--metrics", "nope"], "unknown metric"),
        (["--period", "fortnight"], "unknown period"),
        (["--by", "colour"], "not a column of accounts"),
        (["--start", "2025-13-01"], "not a date"),
        (["--format", "xml"], "--format"),
    ]:
        res = runner.invoke(app, ["metrics", "--data", d, *args])
        assert res.exit_code == 2, (args, res.output)
        assert needle in res.output


def test_explain_churn_rate_lists_exactly_the_churned_accounts(tmp_path: Path) -> None:
    # March: a ends 5 Mar, c ends 31 Mar (last paid day 30 Mar), d is new and gone by 9 Mar; b stays.
    ds = load_data_dir(company(tmp_path))
    ex = explain(ds, "customer_churn_rate", "2025-03")
    assert sorted(ex.rows["account_id"]) == ["a", "c", "d"]
    assert ex.inputs["customers_start"] == 3 and ex.inputs["churned_customers"] == 3
    assert ex.value == 1.0
    by_csm = explain(ds, "customer_churn_rate", "2025-03", group="ann", by="csm")
    assert sorted(by_csm.rows["account_id"]) == ["a", "c"]
    res = runner.invoke(app, ["explain", "churned_mrr", "--period", "2025-03", "--data", str(tmp_path),
                              "--format", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert {r["account_id"]: r["m0"] for r in out["rows"]} == {"a": 100.0, "c": 70.0}
    assert out["value"] == 170.0


def test_docs_metrics_page_matches_the_registry() -> None:
    from csmetrics.report.docs import render

    page = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
    assert page.read_text(encoding="utf-8") == render(), "regenerate: python -m csmetrics.report.docs > docs/metrics.md"
