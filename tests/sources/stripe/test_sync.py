"""`csmetrics sync stripe` against a loopback server playing the Stripe API (tests/sources/stripe/fake_api.py)."""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from csmetrics import clock
from csmetrics.cli.main import app
from csmetrics.sources import SourceError
from csmetrics.sources.stripe import import_dir, sync
from tests.sources.stripe.account import EXPECTED, invoice, line_new, ts
from tests.sources.stripe.conftest import KEY, digest, table_rows
from tests.sources.stripe.fake_api import Failure, FakeStripe
from tests.sources.stripe.test_import import monthly

runner = CliRunner()
CONTRACT = {"accounts": "account_id", "subscriptions": "subscription_id", "charges": "charge_id"}


def test_sync_equals_import_with_paging_truncated_lines_and_a_429(
        api: str, fake: FakeStripe, fx_workspace: Path, account_dir: Path, tmp_path: Path) -> None:
    fake.failures.append(Failure("/v1/invoices", 429, nth=2, retry_after="2"))
    waits: list[float] = []
    t0 = time.perf_counter()
    result = sync(fx_workspace, api_base=api, sleep=waits.append)
    seconds = time.perf_counter() - t0
    assert result.changed and seconds < 30
    assert waits == [2.0]  # the Retry-After of the 429, honoured once
    assert fake.seen["/v1/customers"] == 4  # 16 customers in pages of 4
    assert fake.seen["/v1/invoices/in_O_1/lines"] == 1  # 4 lines, 1 embedded: the rest paged
    # Invoices are listed with their includable `payments`, which tie charges to invoices (rule C2).
    invoice_pages = [args for path, _, args in fake.log if path == "/v1/invoices"]
    assert invoice_pages and all("data.payments" in [v for k, v in args.items() if k.startswith("expand")]
                                 for args in invoice_pages)
    got = monthly(fx_workspace, list(EXPECTED))
    for metric, want in EXPECTED.items():
        assert got[(metric, None)] == want, metric
    imported = tmp_path / "imported.duckdb"
    fx_workspace_copy = imported.with_name("fx.duckdb")
    fx_workspace_copy.write_bytes(b"")
    fx_workspace_copy.unlink()
    from tests.sources.stripe.conftest import ingest  # the same fx-only start as fx_workspace

    data = fx_workspace.parent / "fx"
    ingest(data, imported)
    import_dir(account_dir, imported)
    for table, key in CONTRACT.items():
        assert table_rows(fx_workspace, table, key) == table_rows(imported, table, key), table


def test_resync_with_nothing_new_changes_nothing(api: str, fake: FakeStripe, fx_workspace: Path) -> None:
    sync(fx_workspace, api_base=api)
    before = digest(fx_workspace)
    fake.seen.clear()
    result = sync(fx_workspace, api_base=api)
    assert not result.changed and digest(fx_workspace) == before
    # incremental: invoices are asked from the newest one seen, and events from the last sync
    created = [args for path, _, args in fake.log if path == "/v1/invoices"]
    assert created[-1]["created[gte]"] == str(max(i["created"] for i in fake.objects["invoices"]))
    assert fake.seen["/v1/events"] == 1


def test_a_new_invoice_and_an_event_are_picked_up(api: str, fake: FakeStripe, fx_workspace: Path) -> None:
    sync(fx_workspace, api_base=api)
    # M's May invoice, a draft at the first sync, is paid now (an invoice.paid event) ...
    draft = next(i for i in fake.objects["invoices"] if i["id"] == "in_M_5")
    fake.events.append({"id": "evt_1", "object": "event", "api_version": "2024-06-20", "created": ts("2026-06-15", 13),
                        "data": {"object": dict(draft, status="paid")}, "type": "invoice.paid"})
    # ... and P subscribes: a new 40.00 invoice for June 2025.
    a, b = ts("2025-06-01"), ts("2025-07-01")
    fake.objects["invoices"].append(invoice("in_P_1", "cus_P", "sub_P", "paid", ts("2026-06-15", 12), [
        line_new("il_P_1_1", "in_P_1", "sub_P", "si_P", "price_month50", 4000, a, b)]))
    with clock.frozen(dt.datetime(2026, 6, 15, 14, tzinfo=dt.UTC)):
        result = sync(fx_workspace, api_base=api)
    assert result.changed
    mrr = monthly(fx_workspace, ["mrr"])[("mrr", None)]
    assert mrr[4] == 890 + 100  # May: M paid
    assert mrr[5] == 890 + 40  # June: P's 40


def test_an_event_window_older_than_30_days_relists_everything(api: str, fake: FakeStripe, fx_workspace: Path) -> None:
    sync(fx_workspace, api_base=api)
    fake.log.clear()
    with clock.frozen(dt.datetime(2026, 7, 20, tzinfo=dt.UTC)):
        sync(fx_workspace, api_base=api)
    invoices = [args for path, _, args in fake.log if path == "/v1/invoices"]
    assert "created[gte]" not in invoices[0]
    assert not any(path == "/v1/events" for path, _, _ in fake.log)


@pytest.mark.parametrize(("failure", "message"), [
    (Failure("/v1/subscriptions", 401), "while listing subscriptions: the API key was rejected (401"),
    (Failure("/v1/invoices", 500, times=100), "while listing invoices: HTTP 500"),
    (Failure("/v1/invoices/in_O_2/lines", 500, times=100), "while listing the lines of invoice in_O_2: HTTP 500"),
])
def test_a_failed_sync_leaves_the_workspace_byte_for_byte_unchanged(
        api: str, fake: FakeStripe, fx_workspace: Path, failure: Failure, message: str) -> None:
    sync(fx_workspace, api_base=api)
    fake.objects["customers"][0]["name"] = "Renamed"  # a change the failed sync must not land
    before = digest(fx_workspace)
    fake.seen.clear()
    fake.failures.append(failure)
    waits: list[float] = []
    with pytest.raises(SourceError) as info:
        sync(fx_workspace, api_base=api, sleep=waits.append, full=True)
    assert message in str(info.value) and "the workspace was not changed" in str(info.value)
    assert KEY not in str(info.value) and "sk_test" not in str(info.value)
    assert digest(fx_workspace) == before
    if failure.status == 500:
        assert waits == [1.0, 2.0, 4.0, 8.0, 16.0]  # bounded: 5 retries, then it gives up


def test_the_key_appears_nowhere(api: str, fake: FakeStripe, fx_workspace: Path, caplog: pytest.LogCaptureFixture,
                                 tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG)
    r = runner.invoke(app, ["sync", "stripe", "--workspace", str(fx_workspace), "--api-base", api])
    assert r.exit_code == 0, r.output
    fake.seen.clear()
    fake.failures.append(Failure("/v1/customers", 401))
    r401 = runner.invoke(app, ["sync", "stripe", "--workspace", str(fx_workspace), "--api-base", api, "--full"])
    assert r401.exit_code == 1 and "401" in r401.output
    r = runner.invoke(app, ["sources", "--workspace", str(fx_workspace)])
    assert fake.log[0][1] == f"Bearer {KEY}"  # the key did reach the API ...
    for text in (r.output, r401.output, caplog.text):  # ... and nothing else
        assert KEY not in text and KEY[8:30] not in text
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert KEY.encode() not in f.read_bytes(), f


def test_no_key_is_a_clear_error(fx_workspace: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    r = runner.invoke(app, ["sync", "stripe", "--workspace", str(fx_workspace)])
    assert r.exit_code == 2 and "STRIPE_API_KEY" in r.output
    toml = tmp_path / "csmetrics.toml"
    toml.write_text('[sources.stripe]\napi_key_env = "BILLING_KEY"\n', encoding="utf-8")
    r = runner.invoke(app, ["sync", "stripe", "--workspace", str(fx_workspace), "--config", str(toml)])
    assert r.exit_code == 2 and "BILLING_KEY" in r.output
