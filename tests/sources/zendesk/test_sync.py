"""`csmetrics sync zendesk` against a loopback server playing the Zendesk API (tests/sources/zendesk/fake_api.py)."""

from __future__ import annotations

import base64
import logging
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from csmetrics.cli.main import app
from csmetrics.sources import SourceError
from csmetrics.sources.zendesk import import_dir, sync
from csmetrics.sources.zendesk.pipeline import ZendeskSettings, base_url
from tests.sources.zendesk.company import EXPECTED, EXPECTED_BY_CSM, metric, ticket
from tests.sources.zendesk.conftest import BASIC, EMAIL, TOKEN, crm_workspace, digest, monthly, table_rows
from tests.sources.zendesk.fake_api import Failure, FakeZendesk

runner = CliRunner()
CONTRACT = {"accounts": "account_id", "tickets": "ticket_id", "survey_responses": "response_id"}
EXPORT = "/api/v2/incremental/tickets/cursor.json"


def test_sync_equals_import_with_every_kind_of_paging_and_a_429(
        api: str, fake: FakeZendesk, crm_ws: Path, company_dir: Path, tmp_path: Path) -> None:
    fake.failures.append(Failure("/api/v2/ticket_metrics.json", 429, nth=2, retry_after="7"))
    waits: list[float] = []
    t0 = time.perf_counter()
    result = sync(crm_ws, api_base=api, sleep=waits.append)
    assert result.changed and time.perf_counter() - t0 < 30
    assert waits == [7.0]  # the Retry-After of the 429, honoured once, without sleeping
    # 11 tickets, 4 a page: 3 export pages, the first from start_time 0 and then by after_cursor
    exports = [args for path, _, args in fake.log if path == EXPORT]
    assert len(exports) == 3 and exports[0] == {"start_time": "0"}
    assert all(set(a) == {"cursor"} for a in exports[1:])
    # next_page (offset) and links.next (cursor) are followed on the loopback host, not example.zendesk.com
    assert fake.seen["/api/v2/organizations.json"] == 2  # 3 organizations, 2 a page, offset paging
    assert fake.seen["/api/v2/satisfaction_ratings.json"] == 5  # 9 ratings, offset paging
    assert fake.seen["/api/v2/ticket_metrics.json"] == 5 + 1  # 10 metrics, cursor paging, plus the 429
    metric_pages = [a for p, _, a in fake.log if p == "/api/v2/ticket_metrics.json"]
    assert metric_pages[-1] == {"page[after]": "30009", "page[size]": "2"}
    assert fake.log[0][1] == "Basic " + BASIC  # email/token:token
    got = monthly(crm_ws, list(EXPECTED))
    for name, want in EXPECTED.items():
        assert got[(name, None)] == want, name
    imported = crm_workspace(tmp_path, "imported.duckdb")
    import_dir(company_dir, imported)
    for table, key in CONTRACT.items():
        assert table_rows(crm_ws, table, key) == table_rows(imported, table, key), table
    # the raw objects too: the same 33 objects, kept as Zendesk sent them
    raw = table_rows(crm_ws, "_zendesk_objects", "type, id")
    assert len(raw) == 33 and raw == table_rows(imported, "_zendesk_objects", "type, id")


def test_sync_by_csm_gives_the_hand_computed_metrics(api: str, crm_ws: Path) -> None:
    r = runner.invoke(app, ["sync", "zendesk", "--workspace", str(crm_ws), "--api-base", api])
    assert r.exit_code == 0, r.output
    assert "unmatched 1" in r.output and "103 (Umbrella)" in r.output
    got = monthly(crm_ws, list(EXPECTED), by="csm")
    for csm, metrics in EXPECTED_BY_CSM.items():
        for name, want in metrics.items():
            assert got[(name, csm)] == want, (csm, name)


def test_resync_with_nothing_new_writes_nothing(api: str, fake: FakeZendesk, crm_ws: Path) -> None:
    sync(crm_ws, api_base=api)
    before = digest(crm_ws)
    fake.log.clear()
    result = sync(crm_ws, api_base=api)
    assert not result.changed and digest(crm_ws) == before
    exports = [args for path, _, args in fake.log if path == EXPORT]
    assert len(exports) == 1 and "cursor" in exports[0]  # only changes are asked, from the stored cursor
    last = max(fake.objects["tickets"], key=lambda t: (t["updated_at"], t["id"]))
    assert base64.b64decode(exports[0]["cursor"]).decode().endswith(f"|{last['id']}")


def test_a_new_and_a_changed_ticket_are_picked_up_from_the_cursor(api: str, fake: FakeZendesk, crm_ws: Path) -> None:
    sync(crm_ws, api_base=api)
    # ticket 3 (Globex, open in January) is solved on 1 March with one reply; ticket 12 is new for Acme
    t3 = next(t for t in fake.objects["tickets"] if t["id"] == 3)
    t3.update(status="solved", updated_at="2026-03-01T10:00:00Z")
    m3 = next(m for m in fake.objects["ticket_metrics"] if m["ticket_id"] == 3)
    m3.update(solved_at="2026-03-01T10:00:00Z", replies=1, updated_at="2026-03-01T10:00:00Z")
    fake.objects["tickets"].append(ticket(12, 101, "2026-03-02T09:00:00Z", "2026-03-02T09:00:00Z", "new"))
    fake.objects["ticket_metrics"].append(metric(30012, 12, "2026-03-02T09:00:00Z", "2026-03-02T09:00:00Z",
                                                 None, 0))
    fake.log.clear()
    result = sync(crm_ws, api_base=api)
    # 2 new objects (ticket and metric 12), 2 changed (ticket and metric 3), each counted once
    assert result.changed and result.raw_changed == 2 + 2
    exported = [args for path, _, args in fake.log if path == EXPORT]
    assert len(exported) == 1 and "cursor" in exported[0]  # both came on one page after the cursor
    rows = {r[0]: r for r in table_rows(crm_ws, "tickets", "ticket_id")}
    assert str(rows["3"][3]) == "2026-03-01 10:00:00" and rows["3"][4] == 1
    assert rows["12"][1] == "A-1" and rows["12"][3] is None
    got = monthly(crm_ws, ["tickets_resolved", "fcr_rate"])
    assert got[("tickets_resolved", None)] == [5, 1]  # January: ticket 3 now resolved too
    assert got[("fcr_rate", None)] == [0.8, 0.0]  # 4 / 5


def test_full_exports_every_ticket_again_from_the_start_time(api: str, fake: FakeZendesk, crm_ws: Path,
                                                             tmp_path: Path) -> None:
    sync(crm_ws, api_base=api)
    before = digest(crm_ws)
    fake.log.clear()
    toml = tmp_path / "csmetrics.toml"
    toml.write_text("[sources.zendesk]\nstart_time = 1767225600\n", encoding="utf-8")  # 2026-01-01
    result = sync(crm_ws, ZendeskSettings.load(toml), api_base=api, full=True)
    assert not result.changed and digest(crm_ws) == before  # the same objects again: nothing to write
    assert [a for p, _, a in fake.log if p == EXPORT][0] == {"start_time": "1767225600"}


@pytest.mark.parametrize(("failure", "message", "waits"), [
    (Failure("/api/v2/organizations.json", 401), "while listing organizations: the email/token were rejected "
                                                  "(401", []),
    (Failure(EXPORT, 500, nth=2, times=100), "while exporting tickets: HTTP 500 after 5 retries",
     [1.0, 2.0, 4.0, 8.0, 16.0]),
    (Failure("/api/v2/satisfaction_ratings.json", 503, times=100, retry_after="3"),
     "while listing satisfaction_ratings: HTTP 503 after 5 retries", [3.0] * 5),
    # a rate limit that never lifts: each Retry-After of 600 s capped at max_wait (120 s), 5 times, then it stops
    (Failure(EXPORT, 429, times=100, retry_after="600"), "while exporting tickets: HTTP 429 after 5 retries",
     [120.0] * 5),
])
def test_a_failed_sync_leaves_the_workspace_byte_for_byte_unchanged(
        api: str, fake: FakeZendesk, crm_ws: Path, failure: Failure, message: str, waits: list[float]) -> None:
    sync(crm_ws, api_base=api)
    fake.objects["organizations"][2]["name"] = "Umbrella Corp"  # a change the failed sync must not land
    fake.objects["tickets"].append(ticket(12, 101, "2026-03-02T09:00:00Z", "2026-03-02T09:00:00Z", "new"))
    before = digest(crm_ws)
    fake.seen.clear()
    fake.failures.append(failure)
    slept: list[float] = []
    with pytest.raises(SourceError) as info:
        sync(crm_ws, api_base=api, sleep=slept.append, full=True, page_size=100)
    text = str(info.value)
    assert message in text and "the workspace was not changed" in text
    assert EMAIL not in text and TOKEN not in text and BASIC not in text
    assert digest(crm_ws) == before
    assert slept == waits  # bounded: 5 retries, then it gives up


def test_a_transient_500_is_retried_after_one_second(api: str, fake: FakeZendesk, crm_ws: Path) -> None:
    fake.failures.append(Failure("/api/v2/organizations.json", 500))
    slept: list[float] = []
    result = sync(crm_ws, api_base=api, sleep=slept.append)
    assert result.changed and slept == [1.0] and result.rows["accounts"] == 3


def test_the_credentials_appear_nowhere(api: str, fake: FakeZendesk, crm_ws: Path, caplog: pytest.LogCaptureFixture,
                                        tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG)
    r = runner.invoke(app, ["sync", "zendesk", "--workspace", str(crm_ws), "--api-base", api])
    assert r.exit_code == 0, r.output
    fake.failures.append(Failure(EXPORT, 401, nth=fake.seen[EXPORT] + 1))
    r401 = runner.invoke(app, ["sync", "zendesk", "--workspace", str(crm_ws), "--api-base", api, "--full"])
    assert r401.exit_code == 1 and "401" in r401.output and "ZENDESK_API_TOKEN" in r401.output
    s = runner.invoke(app, ["sources", "--workspace", str(crm_ws)])
    assert s.exit_code == 0, s.output
    assert all(auth == "Basic " + BASIC for _, auth, _ in fake.log)  # they did reach the API ...
    secrets = (EMAIL, TOKEN, BASIC, TOKEN[5:25], BASIC[10:40])
    for text in (r.output, r401.output, s.output, caplog.text):  # ... and nothing else
        assert not any(x in text for x in secrets)
    assert "ticket_metrics.json" in caplog.text  # the DEBUG log was captured (urllib3's requests)
    for f in tmp_path.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            assert not any(x.encode() in data for x in secrets), f


def test_missing_credentials_or_subdomain_are_clear_errors(crm_ws: Path, monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    monkeypatch.delenv("ZENDESK_EMAIL", raising=False)
    monkeypatch.delenv("ZENDESK_API_TOKEN", raising=False)
    monkeypatch.setenv("ZENDESK_SUBDOMAIN", "acme")
    before = digest(crm_ws)
    r = runner.invoke(app, ["sync", "zendesk", "--workspace", str(crm_ws)])
    assert r.exit_code == 2 and "ZENDESK_EMAIL and ZENDESK_API_TOKEN" in r.output
    monkeypatch.setenv("ZENDESK_EMAIL", EMAIL)
    monkeypatch.setenv("ZENDESK_API_TOKEN", TOKEN)
    monkeypatch.delenv("ZENDESK_SUBDOMAIN")
    r = runner.invoke(app, ["sync", "zendesk", "--workspace", str(crm_ws)])
    assert r.exit_code == 2 and "no Zendesk subdomain" in r.output and TOKEN not in r.output
    assert digest(crm_ws) == before


def test_the_host_comes_from_the_settings_the_environment_or_api_base(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZENDESK_SUBDOMAIN", "fromenv")
    assert base_url(ZendeskSettings(), None) == "https://fromenv.zendesk.com"
    assert base_url(ZendeskSettings(subdomain="acme"), None) == "https://acme.zendesk.com"
    assert base_url(ZendeskSettings(subdomain="acme"), "http://127.0.0.1:8080/zd/") == "http://127.0.0.1:8080/zd"


def test_a_first_sync_creates_the_workspace_with_every_organization_unmatched(api: str, tmp_path: Path) -> None:
    ws = tmp_path / "new" / "ws.duckdb"
    result = sync(ws, api_base=api)
    assert result.changed and (result.matched, result.unmatched) == (0, 3)
    assert result.rows == {"accounts": 3, "tickets": 9, "survey_responses": 5}
    got = monthly(ws, ["tickets", "csat"], by="csm")
    assert got[("tickets", "(none)")] == EXPECTED["tickets"]  # no CRM: every ticket is in (none)
    assert got[("csat", "(none)")] == EXPECTED["csat"]
