"""A Stripe-only workspace works everywhere: explain shows Stripe's ids, accounts, the dashboard pages."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

from csmetrics.cli.main import app
from csmetrics.sources.stripe import import_dir

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from csmetrics.web.app import create_app
from csmetrics.web.store import Store

runner = CliRunner()


@pytest.fixture
def stripe_ws(fx_workspace: Path, account_dir: Path) -> Path:
    import_dir(account_dir, fx_workspace)
    return fx_workspace


def test_explain_mrr_shows_the_stripe_invoice_and_line_ids(stripe_ws: Path) -> None:
    r = runner.invoke(app, ["explain", "expansion_mrr", "--period", "2025-03", "--workspace", str(stripe_ws),
                            "--format", "json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["value"] == 100  # I: 100 -> 200
    assert [row["account_id"] for row in doc["rows"]] == ["cus_I"]
    subs = {s["subscription_id"]: s for s in doc["subscriptions"]}
    assert subs["si_I@2025-01-01"]["stripe_lines"] == "in_I_1/il_I_1_1 in_I_2/il_I_2_1"
    assert subs["si_I@2025-03-01"]["stripe_lines"].startswith("in_I_3/il_I_3_1")
    assert subs["si_I@2025-03-01"]["stripe_subscription"] == "sub_I"
    table = runner.invoke(app, ["explain", "mrr", "--period", "2025-03", "--workspace", str(stripe_ws)],
                          env={"COLUMNS": "400"})
    # 11 paying accounts: one row each, but I and K two (on 28 Feb and 31 Mar) and O three (items) = 15
    assert "subscription rows behind these accounts: 15" in table.output
    assert "in_I_3/il_I_3_1" in table.output


def test_accounts_on_a_stripe_only_workspace(stripe_ws: Path) -> None:
    r = runner.invoke(app, ["accounts", "--workspace", str(stripe_ws), "--format", "json", "--as-of", "2025-06-30"])
    assert r.exit_code == 0, r.output
    rows = {a["account_id"]: a for a in json.loads(r.output)}
    assert len(rows) == 16
    assert rows["cus_I"]["mrr"] == 200 and rows["cus_N"]["mrr"] == pytest.approx(105)
    assert rows["cus_P"]["mrr"] == 0
    assert all(a["health_color"] in ("green", "yellow", "red") for a in rows.values())


def test_dashboard_pages_on_a_stripe_only_workspace(stripe_ws: Path) -> None:
    store = Store(stripe_ws)
    try:
        token = store.create_token("tests")
        with TestClient(create_app(store), headers={"Authorization": f"Bearer {token}"}) as c:
            pages = {"/": "MRR", "/revenue": "MRR", "/retention": "etention", "/customers": "cus_",
                     "/accounts/cus_I": "cus_I", "/csms": "", "/feedback": "", "/definitions": "mrr",
                     "/explain/mrr?at=2025-03": "cus_I"}
            for path, text in pages.items():
                resp = c.get(path)
                assert resp.status_code == 200, (path, resp.status_code)
                assert text in resp.text, path
            api = c.get("/api/v1/metrics", params={"metrics": "mrr", "period": "month", "start": "2025-03-01",
                                                   "end": "2025-04-01"})
            assert api.status_code == 200
            assert [row["value"] for row in api.json() if row["metric"] == "mrr"] == [1275]
    finally:
        store.close()
