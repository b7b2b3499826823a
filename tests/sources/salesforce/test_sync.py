"""`csmetrics sync salesforce` against a loopback HTTPS server playing the REST query resource (fake_api.py)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from csmetrics.cli.main import app
from csmetrics.sources import SourceError
from csmetrics.sources.salesforce import extract, import_dir, sync
from csmetrics.sources.salesforce.pipeline import SalesforceSettings, credentials
from tests.sources.salesforce.conftest import PASSWORD, SECURITY_TOKEN, TOKEN, accounts, digest
from tests.sources.salesforce.fake_api import BASE, Failure, FakeSalesforce
from tests.sources.salesforce.org import STAMP, account_id, record

runner = CliRunner()


def table(ws: Path, name: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(ws), read_only=True)
    try:
        return con.execute(f"SELECT * FROM {name} ORDER BY ALL").fetchall()
    finally:
        con.close()
TIER = SalesforceSettings(fields=("Tier__c",))
COLS = "account_id, name, created_at, segment, csm, industry, source, tier"


def test_sync_equals_import_with_paging_and_a_429(api: str, fake: FakeSalesforce, org_dir: Path,
                                                  tmp_path: Path) -> None:
    fake.failures.append(Failure("more", 429, nth=1, retry_after="3"))
    waits: list[float] = []
    ws = tmp_path / "synced.duckdb"
    result = sync(ws, TIER, api_base=api, sleep=waits.append)
    assert result.changed and result.rows == {"accounts": 7} and result.objects == 8
    assert waits == [3.0]  # the 429's Retry-After, honoured once
    assert result.requests == 3  # 8 records in pages of 3: the query and two nextRecordsUrl
    paths = [p for p, _, _ in fake.log]
    assert paths == [f"{BASE}/queryAll/", f"{BASE}/query/01gFAKE-3", f"{BASE}/query/01gFAKE-3",
                     f"{BASE}/query/01gFAKE-6"]
    assert fake.log[0][2]["q"] == ("SELECT Id, Name, CreatedDate, Industry, Owner.Name, IsDeleted, SystemModstamp, "
                                   "Type, Tier__c FROM Account")
    assert fake.log[0][1] == f"Bearer {TOKEN}"
    imported = tmp_path / "imported.duckdb"
    import_dir(org_dir, imported, TIER)
    assert accounts(ws, COLS) == accounts(imported, COLS)
    for name in ("accounts", "_salesforce_objects"):  # every column, and the raw records byte for byte
        assert table(ws, name) == table(imported, name), name
    assert len(table(ws, "_salesforce_objects")) == 8


def test_resync_asks_only_for_modified_records_and_writes_nothing(api: str, fake: FakeSalesforce,
                                                                   tmp_path: Path) -> None:
    ws = tmp_path / "ws.duckdb"
    sync(ws, api_base=api)
    before = digest(ws)
    fake.log.clear()
    result = sync(ws, api_base=api)
    assert not result.changed and digest(ws) == before
    assert fake.log[0][2]["q"].endswith("FROM Account WHERE SystemModstamp >= 2026-06-01T08:00:00Z")


def test_a_modified_and_a_deleted_account_are_picked_up(api: str, fake: FakeSalesforce, tmp_path: Path) -> None:
    fake.records = [dict(r, SystemModstamp=f"2026-05-0{i + 1}T08:00:00.000+0000") for i, r in enumerate(fake.records)]
    ws = tmp_path / "ws.duckdb"
    sync(ws, api_base=api)
    later = "2026-06-10T09:00:00.000+0000"
    fake.records[0] = dict(fake.records[0], Name="Acme Analytics Group", SystemModstamp=later)
    fake.records[1] = dict(fake.records[1], IsDeleted=True, SystemModstamp=later)  # to the recycle bin
    fake.records.append(record(9, "Iris Labs", "2026-06-09T10:00:00.000+0000", "Chloe Martin", None,
                               "Customer - Direct", None, stamp=later))
    fake.log.clear()
    result = sync(ws, api_base=api)
    # only the 3 modified records and the newest unchanged one (>= the cursor) come: 4 in pages of 3
    assert result.changed and result.requests == 2 and len(fake.queries["01gFAKE"]) == 4
    assert fake.log[0][2]["q"].endswith("WHERE SystemModstamp >= 2026-05-08T08:00:00Z")
    got = accounts(ws)
    assert got[account_id(1)][0] == "Acme Analytics Group" and got[account_id(9)][3] == "Chloe Martin"
    # the Account row of a deleted record stays (accounts are upserted), its deletion is counted
    r = runner.invoke(app, ["sources", "--workspace", str(ws), "--format", "json"])
    row = json.loads(r.output)[0]
    assert (row["source"], row["deleted_accounts"], row["objects"]) == ("salesforce", 2, 9)
    assert accounts(ws)[account_id(2)][0] == "Birch Logistics"


def test_full_relists_and_drops_records_gone_for_good(api: str, fake: FakeSalesforce, tmp_path: Path) -> None:
    ws = tmp_path / "ws.duckdb"
    sync(ws, api_base=api)
    fake.records.pop()  # Harbor Retail purged from the recycle bin
    fake.log.clear()
    result = sync(ws, api_base=api, full=True)
    assert "WHERE" not in fake.log[0][2]["q"]
    assert result.changed and result.objects == 7
    r = runner.invoke(app, ["sources", "--workspace", str(ws), "--format", "json"])
    assert json.loads(r.output)[0]["deleted_accounts"] == 0


@pytest.mark.parametrize(("failure", "message"), [
    (Failure("query", 401), "while querying Account: the access token was rejected (401 INVALID_SESSION_ID"),
    (Failure("more", 500, times=100), "while reading the next page of Account (nextRecordsUrl): HTTP 500: "
     "UNKNOWN_EXCEPTION"),
    (Failure("query", 400), "while querying Account: HTTP 400: INVALID_FIELD: No such column 'Segment__c'"),
    (Failure("query", 403), "while querying Account: HTTP 403: REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded"),
])
def test_a_failed_sync_leaves_the_workspace_byte_for_byte_unchanged(
        api: str, fake: FakeSalesforce, tmp_path: Path, failure: Failure, message: str) -> None:
    ws = tmp_path / "ws.duckdb"
    sync(ws, api_base=api)
    fake.records[0] = dict(fake.records[0], Name="Renamed", SystemModstamp="2026-06-11T00:00:00.000+0000")
    before = digest(ws)
    fake.seen.clear()
    fake.failures.append(failure)
    waits: list[float] = []
    with pytest.raises(SourceError) as info:
        sync(ws, api_base=api, sleep=waits.append, full=True)
    assert message in str(info.value) and "the workspace was not changed" in str(info.value)
    assert TOKEN not in str(info.value) and "AQEAQ" not in str(info.value)
    assert digest(ws) == before
    if failure.status == 500:
        assert waits == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_credentials_appear_nowhere(api: str, fake: FakeSalesforce, caplog: pytest.LogCaptureFixture,
                                    tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("SALESFORCE_PASSWORD", PASSWORD)  # set, unused with a session: must not leak either
    monkeypatch.setenv("SALESFORCE_SECURITY_TOKEN", SECURITY_TOKEN)
    waits: list[float] = []
    monkeypatch.setattr(extract, "wait", waits.append)
    ws = tmp_path / "ws.duckdb"
    r = runner.invoke(app, ["sync", "salesforce", "--workspace", str(ws), "--api-base", api])
    assert r.exit_code == 0, r.output
    fake.seen.clear()
    fake.failures.append(Failure("query", 401))
    r401 = runner.invoke(app, ["sync", "salesforce", "--workspace", str(ws), "--api-base", api, "--full"])
    assert r401.exit_code == 1 and "401" in r401.output
    fake.failures[:] = [Failure("query", 500, nth=2, times=100)]
    r500 = runner.invoke(app, ["sync", "salesforce", "--workspace", str(ws), "--api-base", api, "--full"])
    assert r500.exit_code == 1 and "HTTP 500" in r500.output and waits == [1.0, 2.0, 4.0, 8.0, 16.0]
    rs = runner.invoke(app, ["sources", "--workspace", str(ws), "--format", "json"])
    assert fake.log[0][1] == f"Bearer {TOKEN}" and caplog.text
    for text in (r.output, r401.output, r500.output, rs.output, caplog.text):
        for secret in (TOKEN, TOKEN[20:40], PASSWORD, SECURITY_TOKEN):
            assert secret not in text
    for f in tmp_path.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            assert TOKEN.encode() not in data and PASSWORD.encode() not in data, f


def test_credentials_come_from_configurable_environment_variables(monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    for name in ("SALESFORCE_INSTANCE_URL", "SALESFORCE_ACCESS_TOKEN", "SALESFORCE_USERNAME", "SALESFORCE_PASSWORD",
                 "SALESFORCE_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    r = runner.invoke(app, ["sync", "salesforce", "--workspace", str(tmp_path / "ws.duckdb")])
    assert r.exit_code == 2 and "SALESFORCE_ACCESS_TOKEN" in r.output and "SALESFORCE_USERNAME" in r.output
    toml = tmp_path / "csmetrics.toml"
    toml.write_text('[sources.salesforce]\naccess_token_env = "SF_SID"\ninstance_url_env = "SF_URL"\n'
                    'username_env = "SF_USER"\npassword_env = "SF_PASS"\nsecurity_token_env = "SF_TOK"\n'
                    'domain = "test"\n', encoding="utf-8")
    settings = SalesforceSettings.load(toml)
    monkeypatch.setenv("SF_SID", TOKEN)
    with pytest.raises(Exception, match="set SF_URL"):
        credentials(settings)
    monkeypatch.setenv("SF_URL", "https://acme.my.salesforce.com")
    c = credentials(settings)
    assert (c.instance_url, c.access_token, c.username) == ("https://acme.my.salesforce.com", TOKEN, None)
    assert credentials(settings, "https://proxy.internal").instance_url == "https://proxy.internal"
    monkeypatch.delenv("SF_SID")
    monkeypatch.setenv("SF_USER", "cs@acme.example")
    monkeypatch.setenv("SF_PASS", PASSWORD)
    monkeypatch.setenv("SF_TOK", SECURITY_TOKEN)
    c = credentials(settings)
    assert (c.username, c.password, c.security_token, c.domain, c.access_token) == (
        "cs@acme.example", PASSWORD, SECURITY_TOKEN, "test", None)
    assert PASSWORD not in repr(c) and SECURITY_TOKEN not in repr(c)


def test_the_cursor_is_the_newest_systemmodstamp(api: str, fake: FakeSalesforce, tmp_path: Path) -> None:
    fake.records[3] = dict(fake.records[3], SystemModstamp="2026-06-05T10:11:12.000+0200")
    ws = tmp_path / "ws.duckdb"
    sync(ws, api_base=api)
    r = runner.invoke(app, ["sources", "--workspace", str(ws), "--format", "json"])
    assert r.exit_code == 0
    fake.log.clear()
    sync(ws, api_base=api)
    assert fake.log[0][2]["q"].endswith(">= 2026-06-05T08:11:12Z")  # +0200 -> UTC
    assert STAMP < "2026-06-05"


def test_a_username_login_goes_to_the_sdk_and_a_refusal_names_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    import simple_salesforce
    from simple_salesforce.exceptions import SalesforceAuthenticationFailed

    from csmetrics.sources.salesforce.extract import Credentials, SyncOptions, client

    calls: list[dict[str, object]] = []

    class Refusing:
        def __init__(self, **kwargs: object) -> None:
            calls.append(kwargs)
            raise SalesforceAuthenticationFailed("INVALID_LOGIN", f"Invalid username, password {PASSWORD}, "
                                                 "security token; or user locked out.")

    monkeypatch.setattr(simple_salesforce, "Salesforce", Refusing)
    creds = Credentials(username="cs@acme.example", password=PASSWORD, security_token=SECURITY_TOKEN,
                        domain="test")
    with pytest.raises(SourceError) as info:
        client(SyncOptions(credentials=creds, max_retries=2))
    message = str(info.value)
    assert "salesforce sync failed while logging in: the login was refused" in message
    assert PASSWORD not in message and SECURITY_TOKEN not in message
    (kwargs,) = calls
    assert (kwargs["username"], kwargs["password"], kwargs["security_token"], kwargs["domain"]) == (
        "cs@acme.example", PASSWORD, SECURITY_TOKEN, "test")
    adapter = kwargs["session"].get_adapter("https://acme.my.salesforce.com")  # type: ignore[attr-defined]
    assert adapter.max_retries.total == 2 and 429 in adapter.max_retries.status_forcelist
