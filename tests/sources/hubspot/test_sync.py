"""`csmetrics sync hubspot` against a loopback server playing HubSpot's CRM v3 API (fake_api.py)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from csmetrics.cli.main import app
from csmetrics.sources import SourceError
from csmetrics.sources.hubspot import extract, import_dir, sync
from csmetrics.sources.hubspot.pipeline import HubSpotSettings
from tests.sources.hubspot.conftest import TOKEN, accounts, digest
from tests.sources.hubspot.fake_api import Failure, FakeHubSpot
from tests.sources.hubspot.portal import company

runner = CliRunner()
TIER = HubSpotSettings(properties=("tier",))


def table(ws: Path, name: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(ws), read_only=True)
    try:
        return con.execute(f"SELECT * FROM {name} ORDER BY ALL").fetchall()
    finally:
        con.close()


def raw_rows(ws: Path) -> list[tuple[object, ...]]:
    return table(ws, "_hubspot_objects")


def test_sync_equals_import_with_paging_and_a_429(api: str, fake: FakeHubSpot, portal_dir: Path,
                                                  tmp_path: Path) -> None:
    fake.failures.append(Failure("companies", 429, nth=2, retry_after="2"))
    waits: list[float] = []
    ws = tmp_path / "synced.duckdb"
    result = sync(ws, TIER, api_base=api, sleep=waits.append)
    assert result.changed and result.rows == {"accounts": 8}
    assert waits == [2.0]  # the Retry-After of the 429, honoured once
    # 8 companies in pages of 3: 3 pages (+1 retried) + 1 archived listing; owners: 1 page + 1 archived
    assert fake.seen["companies"] == 5 and fake.seen["owners"] == 2
    assert result.requests == 6  # the SDK retried the 429 inside one request
    afters = [args.get("after") for path, _, args in fake.log if path == "/crm/v3/objects/companies"]
    assert afters == [None, ["3"], ["3"], ["6"], None]
    props = next(args["properties"] for path, _, args in fake.log if path == "/crm/v3/objects/companies")
    assert props == ["name", "domain", "createdate", "hubspot_owner_id", "industry", "segment", "tier"]
    assert fake.log[0][1] == f"Bearer {TOKEN}"
    imported = tmp_path / "imported.duckdb"
    import_dir(portal_dir, imported, TIER)
    cols = "account_id, name, domain, created_at, segment, csm, industry, source, tier"
    assert accounts(ws, cols) == accounts(imported, cols)
    assert accounts(ws, cols)["18200000003"] == ("Cobalt Health", "cobalt-health.example",
                                                 accounts(ws)["18200000003"][1], "enterprise", "Chloe Martin",
                                                 "HOSPITAL_HEALTH_CARE", "hubspot", "gold")
    # the same raw objects, byte for byte (the fixture holds what the API returns for these properties),
    # and the same accounts table, every column
    assert raw_rows(ws) == raw_rows(imported) and len(raw_rows(ws)) == 11
    assert table(ws, "accounts") == table(imported, "accounts")


def test_resync_with_nothing_new_changes_nothing(api: str, fake: FakeHubSpot, tmp_path: Path) -> None:
    ws = tmp_path / "ws.duckdb"
    sync(ws, api_base=api)
    before = digest(ws)
    for full in (False, True):
        result = sync(ws, api_base=api, full=full)
        assert not result.changed and digest(ws) == before


def test_changes_are_picked_up_by_the_next_sync(api: str, fake: FakeHubSpot, tmp_path: Path) -> None:
    ws = tmp_path / "ws.duckdb"
    sync(ws, api_base=api)
    companies = fake.objects["companies"]
    companies[0]["properties"]["name"] = "Acme Analytics Group"  # renamed
    companies[1]["properties"]["hubspot_owner_id"] = "61000003"  # handed to Chloe
    fake.objects["owners"][0]["lastName"] = "Silva-Costa"  # Ana married
    companies.append(company("18200000009", "Iris Labs", None, "2025-06-02T10:00:00Z", None, None, "smb", None))
    companies.append(company("18200000010", "Binned", None, "2025-06-03T10:00:00Z", None, None, "smb", None,
                             archived=True))
    result = sync(ws, api_base=api)
    assert result.changed and result.rows == {"accounts": 9}
    got = accounts(ws)
    assert got["18200000001"][0] == "Acme Analytics Group" and got["18200000001"][3] == "Ana Silva-Costa"
    assert got["18200000002"][3] == "Chloe Martin"
    assert got["18200000009"][3] is None and "18200000010" not in got
    r = runner.invoke(app, ["sources", "--workspace", str(ws), "--format", "json"])
    row = json.loads(r.output)[0]
    assert (row["source"], row["accounts"], row["archived_companies"], row["objects"]) == ("hubspot", 9, 1, 13)


@pytest.mark.parametrize(("failure", "message"), [
    (Failure("owners", 401), "while listing owners: the token was rejected (401"),
    (Failure("companies", 401, nth=2), "while listing companies: the token was rejected (401"),
    (Failure("companies", 403), "while listing companies: the token may not read these objects (403: it needs the "
     "crm.objects.companies.read"),
    (Failure("companies", 500, times=100), "while listing companies: HTTP 500: internal error"),
    (Failure("companies", 429, times=100, retry_after="600"), "while listing companies: HTTP 429: You have reached"),
])
def test_a_failed_sync_leaves_the_workspace_byte_for_byte_unchanged(
        api: str, fake: FakeHubSpot, tmp_path: Path, failure: Failure, message: str) -> None:
    ws = tmp_path / "ws.duckdb"
    sync(ws, api_base=api)
    fake.objects["companies"][0]["properties"]["name"] = "Renamed"  # a change the failed sync must not land
    before = digest(ws)
    fake.seen.clear()
    fake.failures.append(failure)
    waits: list[float] = []
    with pytest.raises(SourceError) as info:
        sync(ws, api_base=api, sleep=waits.append)
    assert message in str(info.value) and "the workspace was not changed" in str(info.value)
    assert TOKEN not in str(info.value) and "pat-na1" not in str(info.value)
    assert digest(ws) == before
    if failure.status == 500:
        assert waits == [1.0, 2.0, 4.0, 8.0, 16.0]  # bounded: 5 retries, then it gives up
    if failure.status == 429:
        assert waits == [60.0] * 5  # Retry-After 600 capped at max_wait 60, 5 times


def test_a_failed_first_sync_creates_no_workspace(api: str, fake: FakeHubSpot, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr(extract, "wait", waits.append)
    fake.failures.append(Failure("companies", 500, times=100))
    ws = tmp_path / "new.duckdb"
    r = runner.invoke(app, ["sync", "hubspot", "--workspace", str(ws), "--api-base", api])
    assert r.exit_code == 1 and "HTTP 500" in r.output and not ws.exists()
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_a_connection_failure_is_retried_then_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HUBSPOT_TOKEN", TOKEN)
    waits: list[float] = []
    with pytest.raises(SourceError) as info:
        sync(tmp_path / "ws.duckdb", api_base=f"http://127.0.0.1:{port}", sleep=waits.append)
    assert "while listing owners: connection failed" in str(info.value) and TOKEN not in str(info.value)
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0] and not (tmp_path / "ws.duckdb").exists()


def test_the_token_appears_nowhere(api: str, fake: FakeHubSpot, caplog: pytest.LogCaptureFixture,
                                   tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG)
    ws = tmp_path / "ws.duckdb"
    r = runner.invoke(app, ["sync", "hubspot", "--workspace", str(ws), "--api-base", api])
    assert r.exit_code == 0, r.output
    assert "synced hubspot" in r.output
    fake.seen.clear()
    fake.failures.append(Failure("owners", 401))
    r401 = runner.invoke(app, ["sync", "hubspot", "--workspace", str(ws), "--api-base", api, "--full"])
    assert r401.exit_code == 1 and "401" in r401.output
    rs = runner.invoke(app, ["sources", "--workspace", str(ws), "--format", "json"])
    assert all(auth == f"Bearer {TOKEN}" for _, auth, _ in fake.log)  # the token did reach the API ...
    assert caplog.text  # urllib3 logged its requests at DEBUG ...
    for text in (r.output, r401.output, rs.output, caplog.text):  # ... and nothing holds the token
        assert TOKEN not in text and TOKEN[8:30] not in text
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert TOKEN.encode() not in f.read_bytes(), f


def test_no_token_is_a_clear_error_and_its_variable_is_configurable(
        api: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("HUBSPOT_TOKEN", raising=False)
    ws = tmp_path / "ws.duckdb"
    r = runner.invoke(app, ["sync", "hubspot", "--workspace", str(ws), "--api-base", api])
    assert r.exit_code == 2 and "HUBSPOT_TOKEN" in r.output and not ws.exists()
    toml = tmp_path / "csmetrics.toml"
    toml.write_text(f'[sources.hubspot]\ntoken_env = "CRM_TOKEN"\napi_base = "{api}"\n', encoding="utf-8")
    r = runner.invoke(app, ["sync", "hubspot", "--workspace", str(ws), "--config", str(toml)])
    assert r.exit_code == 2 and "CRM_TOKEN" in r.output
    monkeypatch.setenv("CRM_TOKEN", TOKEN)
    r = runner.invoke(app, ["sync", "hubspot", "--workspace", str(ws), "--config", str(toml)])  # api_base from toml
    assert r.exit_code == 0, r.output
    assert len(accounts(ws)) == 8


def test_a_malformed_company_from_the_api_fails_the_sync(api: str, fake: FakeHubSpot, tmp_path: Path) -> None:
    fake.objects["companies"][4]["properties"]["createdate"] = "yesterday"
    with pytest.raises(SourceError) as info:
        sync(tmp_path / "ws.duckdb", api_base=api)
    assert "object '18200000005' field properties.createdate 'yesterday' is not a timestamp" in str(info.value)
    assert not (tmp_path / "ws.duckdb").exists()
