"""`csmetrics accounts`, `csmetrics health` and the health metrics, on the tiny company."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import csmetrics
from csmetrics.cli.main import app
from tests.health.company import AS_OF, MODEL, make

runner = CliRunner()


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # a charge on the as-of day makes it the last day with data (the metrics score period ends up to it)
    return make(tmp_path_factory.mktemp("cli"), charges=[
        {"charge_id": "c1", "account_id": "a", "charged_at": AS_OF, "amount": 10}])


def run(*args: str) -> str:
    res = runner.invoke(app, list(args))
    assert res.exit_code == 0, res.output
    return res.stdout


def test_accounts_json_has_one_object_per_account_with_components(root: Path) -> None:
    out = json.loads(run("accounts", "--data", str(root), "--as-of", AS_OF, "--format", "json"))
    assert [o["account_id"] for o in out] == ["a", "b", "c", "e"]
    a = out[0]
    assert a["mrr"] == 100 and a["csm"] == "ann" and a["as_of"] == AS_OF
    assert a["health_score"] == pytest.approx(55.8) and a["health_color"] == "yellow"
    assert set(a["components"]) == {"csat", "tickets", "usage"}
    assert a["components"]["csat"] == {"signal": "csat", "value": 50.0, "score": 20.0, "weight": 0.5,
                                       "contribution": 10.0}
    assert a["main_drag"] == "CSAT 50% positive"
    c = out[2]
    assert c["thin_data"] and c["missing"] == ["csat"] and c["components"]["csat"]["score"] is None


def test_accounts_csv_flattens_components(root: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(run("accounts", "--data", str(root), "--as-of", AS_OF,
                                               "--format", "csv"))))
    assert len(rows) == 4
    assert {"account_id", "mrr", "health_score", "health_color", "csat_score", "usage_contribution"} <= set(rows[0])
    assert rows[1]["health_color"] == "green" and float(rows[1]["health_score"]) == 75.0


def test_accounts_table_and_health_config_override(root: Path, tmp_path: Path) -> None:
    assert "account health as of 2025-06-30 (4 accounts)" in run("accounts", "--data", str(root), "--as-of", AS_OF)
    # the same model without the csat component: a = (100 + 83.3) / 2
    other = tmp_path / "other.toml"
    text = MODEL.replace("[segments.enterprise]\nweights = { csat = 0, usage = 3 }", "[segments.enterprise]")
    other.write_text(text.replace("weight = 2\nrule = \"linear\"", "weight = 0\nrule = \"linear\""))
    out = json.loads(run("accounts", "--data", str(root), "--as-of", AS_OF, "--format", "json",
                         "--health-config", str(other)))
    assert out[0]["health_score"] == pytest.approx(91.7)


def test_at_risk_lists_red_paying_accounts_by_mrr(root: Path) -> None:
    out = json.loads(run("health", "--data", str(root), "--as-of", AS_OF, "--at-risk", "--format", "json"))
    assert [o["account_id"] for o in out] == ["c"]
    assert out[0]["csm"] == "ann" and out[0]["reasons"][0] == "3 open tickets"
    table = run("health", "--data", str(root), "--as-of", AS_OF, "--at-risk")
    assert "3 open tickets" in table and "ann" in table


def test_health_summary_and_history(root: Path) -> None:
    mix = json.loads(run("health", "--data", str(root), "--as-of", AS_OF, "--format", "json"))
    total = next(s for s in mix["segments"] if s["segment"] == "all")
    assert (total["green"], total["yellow"], total["red"]) == (2, 1, 1)
    hist = json.loads(run("health", "history", "--data", str(root), "--account", "a", "--last", "3",
                          "--format", "json"))
    assert [h["as_of"] for h in hist["history"]] == ["2025-04-30", "2025-05-31", "2025-06-30"]
    assert hist["history"][-1]["health_score"] == pytest.approx(55.8)
    assert "health of paying accounts" in run("health", "history", "--data", str(root), "--last", "2")


def test_bad_config_is_a_clear_error(root: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[components.x]\nsignal = "csat"\nweight = 1\nrule = "magic"\n')
    res = runner.invoke(app, ["accounts", "--data", str(root), "--health-config", str(bad)])
    assert res.exit_code == 2
    assert "components.x.rule" in res.stderr


def test_backtest_needs_history_after_the_horizon(root: Path) -> None:
    res = runner.invoke(app, ["health", "backtest", "--data", str(root), "--horizon", "10y"])
    assert res.exit_code == 2 and "--horizon" in res.stderr


def test_health_metrics_per_segment_add_up(root: Path) -> None:
    names = "health_score_avg,health_green,health_yellow,health_red"
    df = csmetrics.compute(root, metrics=names, start="2025-06-01", end="2025-07-01")
    v = dict(zip(df["metric"], df["value"], strict=True))
    # scored as of 2025-06-30: a 55.8 yellow, b 75 green, c 8.3 red, e 62.5 green
    assert (v["health_green"], v["health_yellow"], v["health_red"]) == (2, 1, 1)
    assert v["health_score_avg"] == pytest.approx(((40 + 100 + 250 / 3) / 4 + 75 + 25 / 3 + 62.5) / 4)
    by = csmetrics.compute(root, metrics=names, start="2025-06-01", end="2025-07-01", by="csm")
    g = {(r.metric, r.group): r.value for r in by.itertuples()}
    assert g[("health_green", "bob")] == 2 and g[("health_red", "ann")] == 1
    assert g[("health_score_avg", "bob")] == pytest.approx((75 + 62.5) / 2)


def test_web_helper_signature(root: Path) -> None:
    from csmetrics.io import load_data_dir
    from csmetrics.models.health import score_accounts

    ds = load_data_dir(root)
    try:
        df = score_accounts(ds, dt.date.fromisoformat(AS_OF))
    finally:
        ds.backend.disconnect()
    assert {"account_id", "health_score", "health_color", "csat_score"} <= set(df.columns)


def test_backtest_command_on_the_demo(demo_dir: Path) -> None:
    out = json.loads(run("health", "backtest", "--data", str(demo_dir), "--horizon", "90d", "--period", "quarter",
                         "--suggest", "--format", "json"))
    assert out["horizon_days"] == 90 and out["configured"]["auc"] > 0.6
    assert {c["component"] for c in out["suggest"]["components"]} >= {"nps", "adoption", "renewal"}
    table = run("health", "backtest", "--data", str(demo_dir), "--period", "quarter", "--suggest")
    for text in ("AUC", "churn rate by colour", "calibration", "suggested weight", "holdout", "suggested weights: ",
                 "--save-config"):
        assert text in table, text


def test_saved_suggested_model_loads_and_backtests_as_the_suggestion(demo_dir: Path, tmp_path: Path) -> None:
    from csmetrics.models.health.config import load_config

    model = tmp_path / "health.toml"
    first = json.loads(run("health", "backtest", "--data", str(demo_dir), "--period", "quarter", "--suggest",
                           "--format", "json", "--save-config", str(model)))
    weights = {c["component"]: c["suggested_weight"] for c in first["suggest"]["components"]}
    cfg = load_config(model)  # the file loads as a model
    assert {n: c.weight for n, c in cfg.base.components.items()} == pytest.approx(weights)
    # No segment weight overrides are left: every segment scores with the suggested weights.
    for seg in cfg.segments.values():
        assert {n: c.weight for n, c in seg.components.items()} == pytest.approx(weights)
    assert "[segments.onboarding.components.adoption]" in model.read_text()  # other segment settings kept
    again = json.loads(run("health", "backtest", "--data", str(demo_dir), "--period", "quarter", "--format", "json",
                           "--health-config", str(model)))
    # Backtesting the saved model gives the figures the first run reported for the suggestion.
    for key in ("auc", "lift_top_decile", "brier"):
        assert again["configured"][key] == pytest.approx(first["suggest"]["suggested"][key]), key
    assert again["configured"]["by_color"] == first["suggest"]["suggested"]["by_color"]


def test_save_config_needs_suggest(demo_dir: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["health", "backtest", "--data", str(demo_dir), "--save-config",
                                   str(tmp_path / "h.toml")])
    assert res.exit_code == 2 and "add --suggest" in res.output
    assert not (tmp_path / "h.toml").exists()


def test_at_risk_sorts_by_mrr_at_stake(tmp_path: Path) -> None:
    # every account red (green and yellow out of reach); e pays 100 + 500, a 100 + 50
    root = make(tmp_path, subscriptions=[
        {"subscription_id": "x1", "account_id": "e", "started_at": "2025-01-01", "amount": 500},
        {"subscription_id": "x2", "account_id": "a", "started_at": "2025-01-01", "amount": 50}])
    strict = tmp_path / "strict.toml"
    strict.write_text(MODEL.replace("green = 70\nyellow = 40", "green = 100\nyellow = 100")
                      .replace("colors = { green = 60, yellow = 30 }", "colors = { green = 100, yellow = 100 }"))
    out = run("health", "--data", str(root), "--as-of", AS_OF, "--at-risk", "--format", "csv",
              "--health-config", str(strict))
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["account_id"], float(r["mrr"])) for r in rows] == [("e", 600), ("a", 150), ("b", 100), ("c", 100)]
    assert rows[0]["csm"] == "bob" and all(r["health_color"] == "red" for r in rows)
