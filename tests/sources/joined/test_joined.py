"""Issue #15, "What it must show": HubSpot + Zendesk (+ Stripe) joined into one customer view.

The company and every hand-computed figure: tests/sources/joined/company.py (its docstring and comments show
the arithmetic). Imported from tests/fixtures/joined/, and synced from the HubSpot and Zendesk loopback fakes
playing the same objects.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

import csmetrics
from csmetrics.cli.main import app
from csmetrics.sources import hubspot, stripe, zendesk
from csmetrics.sources.stripe.pipeline import StripeSettings
from tests.sources.hubspot import portal
from tests.sources.hubspot.fake_api import FakeHubSpot
from tests.sources.joined.company import (
    ACME,
    CSM,
    EXPECTED,
    EXPECTED_BY_CSM,
    FIXTURE,
    MONTHS,
    STRIPE_MRR,
    STRIPE_TOML,
    write,
)
from tests.sources.joined.company import zendesk as zendesk_objects
from tests.sources.zendesk.fake_api import FakeZendesk

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from csmetrics.web.app import create_app
from csmetrics.web.store import Store

runner = CliRunner()
CONTRACT = {"accounts": "account_id", "tickets": "ticket_id", "survey_responses": "response_id"}
METRICS = list(EXPECTED)


def table_rows(ws: Path, table: str, order: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(ws), read_only=True)
    try:
        cols = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
        return con.execute(f"SELECT {', '.join(sorted(cols))} FROM {table} ORDER BY {order}").fetchall()
    finally:
        con.close()


def monthly(ws: Path, by: str | None = None) -> dict[tuple[str, str | None], list[float | None]]:
    df = csmetrics.compute(ws, METRICS, "month", "2026-01-01", "2026-07-01", by=by, cache=False)
    out: dict[tuple[str, str | None], list[float | None]] = {}
    for (metric, group), part in df.groupby(["metric", "group"], dropna=False, sort=False):
        vals = dict(zip(part["period"], part["value"], strict=True))
        key = (str(metric), None if group is None or group != group else str(group))
        out[key] = [None if vals.get(m) is None or vals[m] != vals[m] else round(float(vals[m]), 6) for m in MONTHS]
    return out


def imported(ws: Path, order: tuple[str, ...] = ("hubspot", "zendesk")) -> Path:
    for name in order:
        {"hubspot": hubspot.import_dir, "zendesk": zendesk.import_dir}[name](FIXTURE / name, ws)
    return ws


@pytest.fixture
def joined(tmp_path: Path) -> Path:
    return imported(tmp_path / "ws.duckdb")


def test_the_fixture_files_are_the_builders_output(tmp_path: Path) -> None:
    built = write(tmp_path / "built")
    for sub in ("hubspot", "zendesk", "stripe"):
        names = sorted(p.name for p in (built / sub).iterdir())
        assert names == sorted(p.name for p in (FIXTURE / sub).iterdir()), sub
        for name in names:
            assert (built / sub / name).read_text() == (FIXTURE / sub / name).read_text(), f"{sub}/{name}"
    assert len(zendesk_objects()["tickets"]) == 40 and len(zendesk_objects()["organizations"]) == 6


def test_support_metrics_per_month_equal_the_hand_computed_ones(joined: Path) -> None:
    got = monthly(joined)
    for metric, want in EXPECTED.items():
        assert got[(metric, None)] == want, metric


def test_support_metrics_by_csm_with_none_for_the_unmatched_organization(joined: Path) -> None:
    got = monthly(joined, by="csm")
    for csm, metrics in EXPECTED_BY_CSM.items():
        for metric, want in metrics.items():
            assert got[(metric, csm)] == want, (csm, metric)
    assert {g for _, g in got} == {"Ana Silva", "Ben Okafor", "Chloe Martin", "(none)"}


@pytest.mark.parametrize("order", [("hubspot", "zendesk"), ("zendesk", "hubspot")])
def test_accounts_show_hubspots_names_and_csms_in_either_order(tmp_path: Path, order: tuple[str, ...]) -> None:
    ws = imported(tmp_path / "ws.duckdb", order)
    r = runner.invoke(app, ["accounts", "--workspace", str(ws), "--format", "json", "--as-of", "2026-06-30"])
    assert r.exit_code == 0, r.output
    accounts = {a["account_id"]: a for a in json.loads(r.output)}
    assert {k: v["csm"] for k, v in accounts.items()} == CSM  # 8 HubSpot companies + Zendesk's 206 = 9
    # Zendesk calls 201 "Acme Analytics Inc"; HubSpot's name wins whichever import ran last.
    assert accounts[ACME]["name"] == "Acme Analytics"
    assert accounts["18200000002"]["name"] == "Birch Logistics"
    assert accounts["206"]["name"] == "Zeta Labs"
    sources = dict(duckdb.connect(str(ws), read_only=True).execute(
        "SELECT account_id, source FROM accounts").fetchall())
    assert sources[ACME] == "hubspot" and sources["206"] == "zendesk"
    assert monthly(ws, by="csm")[("tickets", "Ana Silva")] == EXPECTED_BY_CSM["Ana Silva"]["tickets"]


def test_the_imports_in_either_order_give_the_same_contract_tables(tmp_path: Path, joined: Path) -> None:
    other = imported(tmp_path / "other.duckdb", ("zendesk", "hubspot"))
    for table, key in CONTRACT.items():
        assert table_rows(joined, table, key) == table_rows(other, table, key), table


def test_sources_names_the_unmatched_organization(joined: Path) -> None:
    r = runner.invoke(app, ["sources", "--workspace", str(joined), "--format", "json"])
    assert r.exit_code == 0, r.output
    rows = {row["source"]: row for row in json.loads(r.output)}
    assert list(rows) == ["hubspot", "zendesk"]
    z = rows["zendesk"]
    # 6 organizations: 5 matched by external_id, Zeta Labs (206) unmatched; 40 tickets, 1 deleted;
    # 22 ratings: 4 offered and never answered, 1 on the deleted ticket, 17 answers.
    assert (z["matched"], z["unmatched"], z["unmatched_examples"]) == (5, 1, ["206 (Zeta Labs)"])
    assert (z["accounts"], z["tickets"], z["survey_responses"]) == (6, 39, 17)
    assert (z["deleted_tickets"], z["ratings_not_answered"], z["ratings_without_account"]) == (1, 4, 1)
    assert rows["hubspot"]["accounts"] == 8 and rows["hubspot"]["matched"] is None
    table = runner.invoke(app, ["sources", "--workspace", str(joined)], env={"COLUMNS": "240"})
    assert "206 (Zeta Labs)" in table.output


@pytest.fixture
def apis(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """One loopback server playing HubSpot (/crm/...) and Zendesk (/api/v2/...) with the joined company."""
    hs = FakeHubSpot(objects=portal.build())
    zd = FakeZendesk(objects=zendesk_objects())
    httpserver.expect_request(re.compile("^/crm/.*"), method="GET").respond_with_handler(hs)
    httpserver.expect_request(re.compile("^/api/v2/.*"), method="GET").respond_with_handler(zd)
    monkeypatch.setenv("HUBSPOT_TOKEN", "pat-na1-joined-test-token-never-shown")
    monkeypatch.setenv("ZENDESK_EMAIL", "ops@example.com")
    monkeypatch.setenv("ZENDESK_API_TOKEN", "joinedZendeskTokenNeverShown0123")
    monkeypatch.delenv("ZENDESK_SUBDOMAIN", raising=False)
    yield httpserver.url_for("/").rstrip("/")


def test_sync_gives_the_same_workspace_as_import(apis: str, tmp_path: Path, joined: Path) -> None:
    synced = tmp_path / "synced.duckdb"
    zendesk.sync(synced, api_base=apis, sleep=lambda s: None)
    hubspot.sync(synced, api_base=apis, sleep=lambda s: None)
    for table, key in CONTRACT.items():
        assert table_rows(synced, table, key) == table_rows(joined, table, key), table
    assert monthly(synced) == monthly(joined)
    data = synced.read_bytes()
    assert b"joined-test-token-never-shown" not in data and b"joinedZendeskTokenNeverShown" not in data


@pytest.fixture
def with_stripe(joined: Path, tmp_path: Path) -> Path:
    toml = tmp_path / "csmetrics.toml"
    toml.write_text(STRIPE_TOML, encoding="utf-8")
    result = stripe.import_dir(FIXTURE / "stripe", joined, StripeSettings.load(toml))
    assert (result.matched, result.unmatched) == (3, 0)
    return joined


def test_stripe_customers_join_the_hubspot_accounts(with_stripe: Path) -> None:
    accounts = {r[0]: r[1:] for r in duckdb.connect(str(with_stripe), read_only=True).execute(
        "SELECT account_id, name, csm, source, stripe_customer_id, zendesk_organization_id FROM accounts").fetchall()}
    assert len(accounts) == 9  # one account per customer: no new account
    assert accounts[ACME] == ("Acme Analytics", "Ana Silva", "hubspot", "cus_J1", "201")
    df = csmetrics.compute(with_stripe, ["mrr"], "month", "2026-01-01", "2026-07-01", by="csm", cache=False)
    mrr = {(r.group, r.period): r.value for r in df.itertuples()}
    # Ana: Acme 200; Ben: Birch 100; Chloe: Cobalt 50 - every month.
    assert [mrr[("Ana Silva", m)] for m in MONTHS] == [200.0] * 6
    assert mrr[("Ben Okafor", "2026-03")] == 100.0 and mrr[("Chloe Martin", "2026-06")] == 50.0
    assert sum(STRIPE_MRR.values()) == 350.0
    assert monthly(with_stripe)[("tickets", None)] == EXPECTED["tickets"]  # the support figures are unchanged


def test_health_shows_billing_tickets_and_csat_together(with_stripe: Path) -> None:
    r = runner.invoke(app, ["accounts", "--workspace", str(with_stripe), "--format", "json", "--as-of",
                            "2026-06-30"])
    assert r.exit_code == 0, r.output
    acme = {a["account_id"]: a for a in json.loads(r.output)}[ACME]
    comp = acme["components"]
    assert acme["mrr"] == 200.0 and comp["mrr_trend"]["value"] == 0.0  # 200 on 30 June and 90 days before
    # CSAT, last 365 days: Acme's answers 6001, 6003, 6009, 6010, 6017, 6020 good, 6014 bad -> 6 / 7.
    assert comp["csat"]["value"] == pytest.approx(600 / 7, abs=1e-3)
    # Open tickets on 30 June: 40 (hold); 9 was deleted.
    assert comp["open_tickets"]["value"] == 1.0
    # FCR of tickets opened since 1 January and resolved: 1, 6, 14, 15, 23, 28, 34 -> one contact: 1, 14, 15,
    # 28, 34 -> 5 / 7.
    assert comp["fcr"]["value"] == pytest.approx(5 / 7, abs=1e-3)
    h = runner.invoke(app, ["health", "--workspace", str(with_stripe), "--format", "json", "--as-of", "2026-06-30"])
    assert h.exit_code == 0, h.output
    mix = {s["segment"]: s for s in json.loads(h.output)["segments"]}
    assert mix["all"]["accounts"] == 3  # the three paying accounts are scored


def test_the_account_page_shows_billing_tickets_and_csat(with_stripe: Path) -> None:
    store = Store(with_stripe)
    try:
        token = store.create_token("tests")
        with TestClient(create_app(store), headers={"Authorization": f"Bearer {token}"}) as c:
            resp = c.get(f"/accounts/{ACME}")
        assert resp.status_code == 200
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", resp.text))
        assert "Acme Analytics" in text and "Ana Silva" in text and "cus_J1" in text
        assert re.search(r"MRR on 2026-06-\d\d 200\b", text)
        assert "csat 85.71" in text and "open tickets 1.00" in text and "fcr 0.71" in text
        assert "ticket 40" in text and "csat 5" in text
    finally:
        store.close()
