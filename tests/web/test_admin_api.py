"""Audit log, failed sign-in rate limit, token administration and ingest through the server's API.

All on the four-account book company (tests/web/book.py), each test on its own workspace copy.
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from csmetrics import clock
from csmetrics.io import ingest
from csmetrics.web import audit, auth
from csmetrics.web.store import Store
from tests.conftest import FROZEN_NOW
from tests.web.book import ANN, make_book_company

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from csmetrics.web.app import create_app

MAY = {"metrics": "mrr", "start": "2026-05-01", "end": "2026-06-01"}


@pytest.fixture(scope="module")
def book_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("bookbase")
    ws = base / "workspace.duckdb"
    ingest(make_book_company(base / "data"), ws)
    return ws


@pytest.fixture
def store(book_ws: Path, tmp_path: Path) -> Iterator[Store]:
    ws = tmp_path / "workspace.duckdb"
    ws.write_bytes(book_ws.read_bytes())
    s = Store(ws)
    yield s
    s.close()


@pytest.fixture
def admin_token(store: Store) -> str:
    return store.create_token("admin", "admin")


@pytest.fixture
def admin(store: Store, admin_token: str) -> Iterator[TestClient]:
    with TestClient(create_app(store), headers={"Authorization": f"Bearer {admin_token}"},
                    follow_redirects=False) as c:
        yield c


def _client(store: Store, ip: str = "10.0.0.1") -> TestClient:
    return TestClient(create_app(store), follow_redirects=False, client=(ip, 50000))


def _events(store: Store, action: str) -> list[audit.Event]:
    with store.write_lock:
        return audit.read(store.writer, 100, action)


# -- audit log ------------------------------------------------------------------------------------

def test_logins_are_audited_with_token_id_role_ip_and_outcome(store: Store) -> None:
    token = store.create_token("ann", f"csm:{ANN}")
    token_id = token.split("_")[1]
    c = _client(store, "10.1.2.3")
    at = dt.datetime(2026, 6, 15, 12, 30, tzinfo=dt.UTC)
    with clock.frozen(at):
        assert c.post("/login", data={"token": token, "next": "/"}).status_code == 303
        assert c.post("/login", data={"token": f"csm_{token_id}_wrong", "next": "/"}).status_code == 401
    fail, ok = _events(store, "login")  # newest first
    assert ok == audit.Event(at.replace(tzinfo=None), token_id, f"csm:{ANN}", "login", None, "10.1.2.3", "ok")
    assert fail == audit.Event(at.replace(tzinfo=None), token_id, None, "login", None, "10.1.2.3", "fail")
    # No secret is ever stored: neither the token nor its wrong twin.
    with store.write_lock:
        dump = json.dumps(store.writer.execute(f"SELECT * FROM {audit.AUDIT}").fetchall(), default=str)
    assert token not in dump and token.split("_", 2)[2] not in dump and "wrong" not in dump


def test_token_use_is_audited_once_per_token_per_day(store: Store, admin_token: str) -> None:
    c = _client(store)
    h = {"Authorization": f"Bearer {admin_token}"}
    for _ in range(3):
        assert c.get("/api/v1/metrics/definitions", headers=h).status_code == 200
    with clock.frozen(FROZEN_NOW + dt.timedelta(days=1)):
        assert c.get("/api/v1/metrics/definitions", headers=h).status_code == 200
    uses = _events(store, "token.use")
    assert [(e.actor, e.at.date()) for e in uses] == [
        (admin_token.split("_")[1], dt.date(2026, 6, 16)), (admin_token.split("_")[1], dt.date(2026, 6, 15))]


def test_token_create_and_revoke_through_the_api_are_audited_and_work(store: Store, admin: TestClient,
                                                                      admin_token: str) -> None:
    r = admin.post("/api/v1/tokens", json={"name": "ann laptop", "role": f"csm:{ANN}"})
    assert r.status_code == 201
    made = r.json()
    assert (made["name"], made["role"], made["revoked_at"]) == ("ann laptop", f"csm:{ANN}", None)
    new = made["token"]
    assert new.startswith(f"csm_{made['token_id']}_")
    ann = _client(store, "10.9.9.9")
    assert [a["account_id"] for a in ann.get("/api/v1/accounts", headers={"Authorization": f"Bearer {new}"}
                                             ).json()] == ["A1", "A2"]
    # The list shows ids, names and roles, never a token.
    listed = admin.get("/api/v1/tokens").json()
    assert {t["token_id"]: t["role"] for t in listed}[made["token_id"]] == f"csm:{ANN}"
    assert new not in json.dumps(listed) and "token" not in listed[0]
    gone = admin.delete(f"/api/v1/tokens/{made['token_id']}")
    assert gone.status_code == 200 and gone.json()["revoked_at"] is not None
    assert ann.get("/api/v1/accounts", headers={"Authorization": f"Bearer {new}"}).status_code == 401
    assert admin.delete("/api/v1/tokens/nope").json() == {"detail": "no token with id 'nope'"}
    bad = admin.post("/api/v1/tokens", json={"name": "x", "role": "csm:Nobody"})
    assert bad.status_code == 400 and "no account has csm 'Nobody'" in bad.json()["detail"]
    actor = admin_token.split("_")[1]
    created = _events(store, "token.create")
    assert [(e.actor, e.role, e.target, e.outcome) for e in created] == [
        (actor, "admin", "csm:Nobody",
         "fail: role 'csm:Nobody': no account has csm 'Nobody' (expected one of Ann, Bob)"),
        (actor, "admin", f"{made['token_id']} (csm:{ANN})", "ok")]
    revoked = _events(store, "token.revoke")
    assert [(e.target, e.outcome) for e in revoked] == [("nope", "fail: no such token"), (made["token_id"], "ok")]
    # The admin reads the same events through the API, newest first, filtered by action.
    api = admin.get("/api/v1/audit", params={"action": "token.revoke"}).json()
    assert [(e["target"], e["outcome"]) for e in api] == [("nope", "fail: no such token"), (made["token_id"], "ok")]


def test_non_admin_tokens_get_403_on_admin_endpoints(store: Store) -> None:
    c = _client(store)
    for role in ("viewer", f"csm:{ANN}"):
        h = {"Authorization": f"Bearer {store.create_token(role, role)}"}
        assert c.get("/api/v1/tokens", headers=h).status_code == 403
        assert c.get("/api/v1/audit", headers=h).status_code == 403
        assert c.post("/api/v1/tokens", headers=h, json={"role": "admin"}).json() == {
            "detail": "this needs an admin token (role admin)"}
        r = c.post("/api/v1/ingest", headers=h, files=[("files", ("accounts.csv", b"account_id\nZ1\n", "text/csv"))])
        assert r.status_code == 403
    with store.write_lock:
        assert store.writer.execute("SELECT count(*) FROM accounts WHERE account_id = 'Z1'").fetchone() == (0,)


# -- rate limit -----------------------------------------------------------------------------------

def test_the_sixth_failed_login_within_a_minute_is_429_until_the_window_moves_on(store: Store) -> None:
    good = store.create_token("ok", "viewer")
    c = _client(store, "10.6.6.6")
    t0 = dt.datetime(2026, 6, 15, 12, 0, 0, tzinfo=dt.UTC)
    for k in range(5):
        with clock.frozen(t0 + dt.timedelta(seconds=10 * k)):  # 12:00:00 ... 12:00:40
            assert c.post("/login", data={"token": "csm_00000000_guess", "next": "/"}).status_code == 401
    with clock.frozen(t0 + dt.timedelta(seconds=50)):
        r = c.post("/login", data={"token": good, "next": "/"})  # even the right token: the limit is not a probe
        assert r.status_code == 429 and r.headers["retry-after"] == "10"
        api = c.get("/api/v1/metrics/definitions", headers={"Authorization": f"Bearer {good}"})
        assert api.status_code == 429 and api.headers["retry-after"] == "10"
        # Another address is not limited.
        other = _client(store, "10.7.7.7").post("/login", data={"token": good, "next": "/"})
        assert other.status_code == 303
    with clock.frozen(t0 + dt.timedelta(seconds=60)):  # the 12:00:00 failure has left the window
        assert c.post("/login", data={"token": good, "next": "/"}).status_code == 303
    limited = _events(store, "auth") + _events(store, "login")
    assert sum(e.outcome == "limited" for e in limited) == 1  # one row per window, not per refusal
    assert sum(e.outcome == "fail" for e in _events(store, "login")) == 5


def test_failures_for_one_token_id_are_limited_from_any_address(store: Store) -> None:
    token = store.create_token("target", "admin")
    token_id = token.split("_")[1]
    for k in range(5):
        bad = _client(store, f"10.8.0.{k}").get("/api/v1/tokens",
                                                  headers={"Authorization": f"Bearer csm_{token_id}_guess{k}"})
        assert bad.status_code == 401
    r = _client(store, "10.8.1.1").get("/api/v1/tokens", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 429 and int(r.headers["retry-after"]) == 60
    with clock.frozen(FROZEN_NOW + dt.timedelta(minutes=1)):
        ok = _client(store, "10.8.1.1").get("/api/v1/tokens", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200


# -- ingest through the server --------------------------------------------------------------------

def _files(data: Path) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (p.name, p.read_bytes(), "text/csv")) for p in sorted(data.iterdir())]


def test_an_upload_changes_the_served_numbers_without_a_restart(store: Store, admin: TestClient,
                                                                tmp_path: Path, admin_token: str) -> None:
    assert admin.get("/api/v1/metrics", params=MAY).json()[0]["value"] == 350.0
    data = make_book_company(tmp_path / "more")
    with (data / "accounts.csv").open("a", encoding="utf-8") as f:
        f.write("A3,Ann Three,2026-02-01,smb,Ann\n")
    with (data / "subscriptions.csv").open("a", encoding="utf-8") as f:
        f.write("SA3,A3,2026-02-01,,25,month\n")
    r = admin.post("/api/v1/ingest", files=_files(data))
    assert r.status_code == 200, r.text
    assert r.json()["tables"]["accounts"] == {"read": 5, "stored": 5}
    assert r.json()["tables"]["subscriptions"] == {"read": 5, "stored": 5}
    assert r.json()["alerts"] is None  # no alerts.toml next to the workspace: none evaluated
    # Read back by key: the new account, and the new MRR of May (350 + 25) for the company and Ann (150 + 25).
    assert admin.get("/api/v1/accounts/A3").json()["mrr"] == 25.0
    assert admin.get("/api/v1/metrics", params=MAY).json()[0]["value"] == 375.0
    ann = store.create_token("ann", f"csm:{ANN}")
    mine = _client(store).get("/api/v1/metrics", params=MAY, headers={"Authorization": f"Bearer {ann}"})
    assert mine.json()[0]["value"] == 175.0
    [ev] = _events(store, "ingest")
    assert (ev.actor, ev.role, ev.outcome) == (admin_token.split("_")[1], "admin", "ok")
    assert ev.target == "accounts.csv, costs.csv, subscriptions.csv, survey_responses.csv, tickets.csv"


def test_an_upload_evaluates_the_alerts_as_csmetrics_ingest_does(store: Store, admin: TestClient,
                                                                  tmp_path: Path) -> None:
    only_detractors = "".join(f"[rules.{r}]\nenabled = false\n" for r in (
        "health_worsens", "score_drop", "csat_negative", "usage_drop", "renewal_risk", "mrr_contraction"))
    (store.workspace.parent / "alerts.toml").write_text(only_detractors, encoding="utf-8")
    data = tmp_path / "answers"
    data.mkdir()
    (data / "accounts.csv").write_text("account_id\n", encoding="utf-8")
    (data / "survey_responses.csv").write_text(
        "response_id,account_id,survey,score,responded_at,comment\n"
        "RB9,B1,nps,2,2026-05-14T09:00:00Z,Export keeps failing\n", encoding="utf-8")
    r = admin.post("/api/v1/ingest", files=_files(data))
    assert r.status_code == 200, r.text
    # As of the new last data day (14 May) the rule looks back 7 days: B1's new NPS 2 and A2's NPS 3 of
    # 11 May (tests/web/book.py) are detractors; nothing to deliver (no channel is configured).
    assert r.json()["alerts"] == "2 new alert(s); 0 sent, 0 to retry, 0 failed"
    alerts = store.writer.execute("SELECT rule, account_id, reason FROM _csmetrics_alerts ORDER BY account_id"
                                  ).fetchall()
    assert alerts == [("nps_detractor", "A2", "NPS 3 on 2026-05-11: (no comment)"),
                      ("nps_detractor", "B1", 'NPS 2 on 2026-05-14: "Export keeps failing"')]
    again = admin.post("/api/v1/ingest", files=_files(data))
    assert again.json()["alerts"] == "0 new alert(s); 0 sent, 0 to retry, 0 failed"


def test_a_bad_file_is_422_naming_file_row_column_and_nothing_is_written(store: Store, admin: TestClient,
                                                                        tmp_path: Path) -> None:
    data = make_book_company(tmp_path / "bad")
    with (data / "accounts.csv").open("a", encoding="utf-8") as f:
        f.write("A9,Nine,2026-02-01,smb,Ann\n")
    with (data / "subscriptions.csv").open("a", encoding="utf-8") as f:
        f.write("SA9,A9,2026-02-30,,25,month\n")  # no 30 February
    r = admin.post("/api/v1/ingest", files=_files(data))
    assert r.status_code == 422
    [d] = r.json()["defects"]
    assert (d["file"], d["row"], d["column"], d["value"]) == ("subscriptions.csv", 6, "started_at", "2026-02-30")
    assert r.json()["detail"].startswith("subscriptions.csv row 6, column started_at: '2026-02-30'")
    assert "csmetrics-upload" not in r.text  # the server's temporary directory is not shown
    # Nothing written: A9 (valid in accounts.csv) is not there, the numbers are unchanged.
    assert admin.get("/api/v1/accounts/A9").status_code == 404
    assert admin.get("/api/v1/metrics", params=MAY).json()[0]["value"] == 350.0
    [ev] = _events(store, "ingest")
    assert ev.outcome.startswith("fail: subscriptions.csv row 6, column started_at")


def test_upload_names_must_be_data_directory_files(admin: TestClient) -> None:
    r = admin.post("/api/v1/ingest", files=[("files", ("../etc/passwd", b"x", "text/plain"))])
    assert r.status_code == 400 and r.json()["detail"].startswith("unknown file name 'passwd'")
    twice = [("files", ("accounts.csv", b"account_id\nA1\n", "text/csv"))] * 2
    assert admin.post("/api/v1/ingest", files=twice).json() == {"detail": "accounts.csv is uploaded twice"}
    no_length = admin.post("/api/v1/ingest", content=iter([b"x"]),
                           headers={"content-type": "multipart/form-data; boundary=x"})
    assert no_length.status_code == 411


def test_a_small_body_limit_still_holds_for_other_routes(admin: TestClient) -> None:
    r = admin.post("/api/v1/tokens", content=b"{" + b" " * (65 * 1024) + b"}",
                   headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_the_role_defaults_to_admin_on_the_command_line_and_must_be_chosen_in_the_api(
        store: Store, admin: TestClient) -> None:
    with store.write_lock:
        _, info = auth.create_token(store.writer, "default")
        roles = {t.name: t.role for t in auth.list_tokens(store.writer)}
    assert info.role == "admin" and roles["default"] == "admin"
    r = admin.post("/api/v1/tokens", json={"name": "no role"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "role"]
