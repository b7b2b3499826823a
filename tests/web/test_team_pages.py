"""The team pages (web/team.py): alerts with acknowledge / snooze behind CSRF, a CSM's book ranked by risk x MRR.

Alerts are stored by hand (csmetrics.alerts.store.record) for accounts of the web tests' company
(tests/web/company.py: account A{i:04d} has CSM CSMS[i % 4], so A0000 and A0004 are Alice Ng's, A0001 Bruno Diaz's).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from csmetrics import clock
from csmetrics.alerts import store as alert_store
from csmetrics.alerts.store import Alert
from csmetrics.io import ingest
from csmetrics.web import data, team
from csmetrics.web.app import create_app
from csmetrics.web.store import Store
from tests.web.conftest import copy_workspace

ALICE, BRUNO = "Alice Ng", "Bruno Diaz"


def team_app(store: Store) -> FastAPI:
    """The server's app (create_app installs the team routes)."""
    return create_app(store)


def alert(rule: str, account: str, csm: str, severity: str, mrr: float, reason: str) -> Alert:
    key = f"{rule}|{account}|2026-06-14"
    return Alert(alert_store.alert_id(key), key, rule, "health_worsens", account, f"Company {account[1:].lstrip('0')}",
                 csm, severity, reason, mrr, f"/accounts/{account}", "2026-06-14", dt.date(2026, 6, 14),
                 clock.now(), {})


ALERTS = [
    alert("health_worsens", "A0000", ALICE, "warning", 200.0, "health yellow -> red"),
    alert("renewal_risk", "A0004", ALICE, "critical", 1000.0, "renewal in 20 days at score 31.0"),
    alert("health_worsens", "A0001", BRUNO, "warning", 500.0, "health green -> yellow"),
]
A_WARN, A_CRIT, B_WARN = (a.id for a in ALERTS)


@pytest.fixture
def alert_store_(workspace: Path) -> Iterator[Store]:
    s = Store(workspace)
    with s.write_lock:
        alert_store.record(s.writer, ALERTS, [(B_WARN, "webhook", "https://hooks.example/x", clock.now(), None)])
        s.writer.execute(f"UPDATE {alert_store.OUTBOX} SET status = 'failed', last_error = 'HTTP 500'")
    yield s
    s.close()


def signed_in(store: Store, role: str) -> TestClient:
    """A browser-like client signed in through the login form (the token in the cookie, no header)."""
    c = TestClient(team_app(store), follow_redirects=False)
    r = c.post("/login", data={"token": store.create_token(f"tests {role}", role), "next": "/alerts"})
    assert r.status_code == 303
    return c


def csrf(html: str) -> str:
    values = set(re.findall(r'name="csrf" value="([0-9a-f]*)"', html))
    assert len(values) == 1 and len(next(iter(values))) == 64, values
    return values.pop()


def shown(html: str) -> list[str]:
    return re.findall(r'<tr id="alert-([0-9a-f]{16})"', html)


def status_of(store: Store, alert_id: str) -> Alert:
    with store.write_lock:
        return alert_store.get(store.writer, [alert_id])[0]


def test_alerts_list_and_filter(alert_store_: Store) -> None:
    with signed_in(alert_store_, "admin") as c:
        html = c.get("/alerts").text
        assert sorted(shown(html)) == sorted([A_WARN, A_CRIT, B_WARN])
        row = re.search(rf'<tr id="alert-{A_CRIT}".*?</tr>', html, re.S).group(0)  # type: ignore[union-attr]
        assert "renewal in 20 days at score 31.0" in row and "1,000" in row and ALICE in row
        assert 'href="/accounts/A0004"' in row and "2026-06-15 12:00" in row
        assert shown(c.get("/alerts", params={"severity": "critical"}).text) == [A_CRIT]
        assert sorted(shown(c.get("/alerts", params={"rule": "health_worsens"}).text)) == sorted([A_WARN, B_WARN])
        assert sorted(shown(c.get("/alerts", params={"csm": ALICE}).text)) == sorted([A_WARN, A_CRIT])
        failed = c.get("/alerts", params={"status": "failed"}).text
        assert shown(failed) == [B_WARN] and "delivery failed" in failed
        for bad in ({"status": "closed"}, {"severity": "fatal"}, {"rule": "nope"}, {"csm": "Nobody"}):
            r = c.get("/alerts", params=bad)
            assert r.status_code == 400, bad
            assert "expected one of" in r.text


def test_acknowledge_and_snooze_need_the_csrf_token(alert_store_: Store) -> None:
    with signed_in(alert_store_, "admin") as c:
        token = csrf(c.get("/alerts").text)
        for form in ({}, {"csrf": ""}, {"csrf": "0" * 64}, {"csrf": token[:-1] + ("0" if token[-1] != "0" else "1")}):
            r = c.post(f"/alerts/{A_WARN}/ack", data=form)
            assert r.status_code == 403, form
            assert "CSRF" in r.text
        r = c.post(f"/alerts/{A_WARN}/snooze", data={"until": "2026-06-20"})
        assert r.status_code == 403
        assert status_of(alert_store_, A_WARN).status == "open"

        version = alert_store_.version  # the result cache outlives acknowledgements (no metric reads alerts)
        r = c.post(f"/alerts/{A_WARN}/ack", data={"csrf": token, "back": "status=open"})
        assert r.status_code == 303 and r.headers["location"] == f"/alerts?status=open#alert-{A_WARN}"
        a = status_of(alert_store_, A_WARN)
        assert a.status == "acknowledged" and a.acknowledged_by is not None and a.acknowledged_by.startswith("admin")
        assert a.acknowledged_at == clock.naive_now()

        r = c.post(f"/alerts/{A_CRIT}/snooze", data={"csrf": token, "until": "2026-06-22"})
        assert r.status_code == 303
        a = status_of(alert_store_, A_CRIT)
        assert (a.status, a.snoozed_until) == ("snoozed", dt.date(2026, 6, 22))
        assert alert_store_.version == version
        assert shown(c.get("/alerts", params={"status": "snoozed"}).text) == [A_CRIT]
        assert shown(c.get("/alerts", params={"status": "open"}).text) == [B_WARN]
        # A snooze must end after today (2026-06-15), and needs a day.
        for until in ("2026-06-15", "2026-13-01", ""):
            r = c.post(f"/alerts/{B_WARN}/snooze", data={"csrf": token, "until": until})
            assert r.status_code == 400, until
        assert status_of(alert_store_, B_WARN).status == "open"
        assert c.post("/alerts/ffffffffffffffff/ack", data={"csrf": token}).status_code == 404
    with alert_store_.write_lock:
        events = alert_store_.writer.execute(
            "SELECT action, target FROM _csmetrics_audit WHERE action LIKE 'alert.%' ORDER BY ALL").fetchall()
    assert events == [("alert.ack", A_WARN), ("alert.snooze", A_CRIT)]


def test_another_sessions_csrf_token_is_refused(alert_store_: Store) -> None:
    with signed_in(alert_store_, "admin") as one, signed_in(alert_store_, "admin") as two:
        theirs = csrf(one.get("/alerts").text)
        assert theirs != csrf(two.get("/alerts").text)
        assert two.post(f"/alerts/{A_WARN}/ack", data={"csrf": theirs}).status_code == 403
    assert status_of(alert_store_, A_WARN).status == "open"


def test_a_csm_sees_and_acts_on_their_book_only(alert_store_: Store) -> None:
    with signed_in(alert_store_, f"csm:{ALICE}") as c:
        html = c.get("/alerts").text
        assert sorted(shown(html)) == sorted([A_WARN, A_CRIT])
        assert BRUNO not in html
        token = csrf(html)
        r = c.post(f"/alerts/{B_WARN}/ack", data={"csrf": token})
        assert r.status_code == 404 and B_WARN in r.text
        assert c.post(f"/alerts/{B_WARN}/snooze", data={"csrf": token, "until": "2026-07-01"}).status_code == 404
        assert status_of(alert_store_, B_WARN).status == "open"
        assert c.post(f"/alerts/{A_WARN}/ack", data={"csrf": token}).status_code == 303
        assert status_of(alert_store_, A_WARN).acknowledged_by.startswith(f"csm:{ALICE}")  # type: ignore[union-attr]
        # Another book's account page is "not found" for them.
        assert c.get("/accounts/A0001").status_code == 404


def test_a_viewer_reads_alerts_but_may_not_act(alert_store_: Store) -> None:
    with signed_in(alert_store_, "viewer") as c:
        html = c.get("/alerts").text
        assert len(shown(html)) == 3 and 'name="csrf"' not in html
        token = team.csrf_for(alert_store_, c.cookies["csmetrics_token"])
        r = c.post(f"/alerts/{A_WARN}/ack", data={"csrf": token})
        assert r.status_code == 403 and "viewer" in r.text
    assert status_of(alert_store_, A_WARN).status == "open"


def test_the_jobs_api_is_for_admins(alert_store_: Store) -> None:
    from csmetrics.web.schedule import record_run

    record_run(alert_store_, "alerts", dt.datetime(2026, 6, 15, 11, 0), 0.25, True, None, "0 new alert(s)")
    record_run(alert_store_, "sync", dt.datetime(2026, 6, 15, 11, 30), 1.5, False, "stripe: HTTP 500", None)
    admin = alert_store_.create_token("admin", "admin")
    viewer = alert_store_.create_token("viewer", "viewer")
    with TestClient(team_app(alert_store_)) as c:
        r = c.get("/api/v1/jobs", headers={"Authorization": f"Bearer {admin}"})
        assert r.status_code == 200
        assert [(j["job"], j["started_at"], j["ok"], j["error"]) for j in r.json()["jobs"]] == [
            ("sync", "2026-06-15T11:30:00Z", False, "stripe: HTTP 500"),
            ("alerts", "2026-06-15T11:00:00Z", True, None)]
        assert c.get("/api/v1/jobs", params={"job": "alerts"},
                     headers={"Authorization": f"Bearer {admin}"}).json()["jobs"][0]["seconds"] == 0.25
        r = c.get("/api/v1/jobs", params={"job": "x"}, headers={"Authorization": f"Bearer {admin}"})
        assert r.status_code == 400
        assert c.get("/api/v1/jobs", headers={"Authorization": f"Bearer {viewer}"}).status_code == 403
        assert c.get("/api/v1/jobs").status_code == 401
        page = c.get("/alerts", headers={"Authorization": f"Bearer {admin}"}).text
        assert 'id="jobs"' in page and "stripe: HTTP 500" in page


# -- My book --------------------------------------------------------------------------------

def _csv(path: Path, header: str, rows: list[str]) -> None:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def book_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five accounts: K1-K4 are Ann's (MRR 1,000, 5,000, 200, none), K5 is Bob's (MRR 3,000)."""
    d = tmp_path_factory.mktemp("bookco")
    _csv(d / "accounts.csv", "account_id,name,created_at,segment,csm", [
        "K1,Kilo One,2026-01-01,smb,Ann", "K2,Kilo Two,2026-01-01,smb,Ann", "K3,Kilo Three,2026-01-01,smb,Ann",
        "K4,Kilo Four,2026-01-01,smb,Ann", "K5,Kilo Five,2026-01-01,smb,Bob"])
    _csv(d / "subscriptions.csv", "subscription_id,account_id,started_at,ended_at,amount,interval", [
        "S1,K1,2026-01-01,,1000,month", "S2,K2,2026-01-01,,5000,month", "S3,K3,2026-01-01,,200,month",
        "S5,K5,2026-01-01,,3000,month"])
    ws = tmp_path_factory.mktemp("bookws") / "workspace.duckdb"
    ingest(d, ws)
    return ws


# Health by hand: score, and per component its score and weight (cost = weight x (100 - score)).
HAND = pd.DataFrame([
    # K1: usage costs 0.6 x 80 = 48, tickets 0.4 x 30 = 12 -> usage
    ("K1", 40.0, "red", "usage down 60% over 90 days", 20.0, 0.6, 70.0, 0.4),
    # K2: usage 0.6 x 5 = 3, tickets 0.4 x 20 = 8 -> tickets
    ("K2", 90.0, "green", "2 tickets a week", 95.0, 0.6, 80.0, 0.4),
    ("K3", 0.0, "red", "no usage", 0.0, 0.6, 0.0, 0.4),
    ("K4", 50.0, "yellow", None, 50.0, 0.6, 50.0, 0.4),
    ("K5", 10.0, "red", "no usage", 0.0, 0.6, 30.0, 0.4),
], columns=["account_id", "health_score", "health_color", "main_drag", "usage_score", "usage_weight",
            "tickets_score", "tickets_weight"])


@pytest.fixture
def book_store(book_workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    def hand(store: Store, day: dt.date) -> pd.DataFrame:
        return store.in_scope(HAND).reset_index(drop=True)

    monkeypatch.setattr(data, "health_scores", hand)
    s = Store(copy_workspace(book_workspace, tmp_path / "w"))
    key = "renewal_risk|K3|2026-06-14"
    with s.write_lock:
        alert_store.record(s.writer, [
            Alert(alert_store.alert_id(key), key, "renewal_risk", "renewal_risk", "K3", "Kilo Three", "Ann", "critical",
                  "renewal soon", 200.0, "/accounts/K3", "2026-06-14", dt.date(2026, 6, 14), clock.now())], [])
    yield s
    s.close()


def test_book_ranks_by_risk_with_the_main_drag(book_store: Store) -> None:
    # risk = (100 - score) / 100 x MRR: K1 0.6 x 1000 = 600, K2 0.1 x 5000 = 500, K3 1.0 x 200 = 200, K4 0.
    rows = team.book_rows(book_store.view(team.Scope.of("csm:Ann")), dt.date(2026, 6, 15), "Ann")
    assert [(r["account_id"], r["risk"], r["drag"], r["open_alerts"]) for r in rows] == [
        ("K1", 600.0, "usage", 0), ("K2", 500.0, "tickets", 0), ("K3", 200.0, "usage", 1), ("K4", 0.0, "usage", 0)]
    assert rows[0]["main_drag"] == "usage down 60% over 90 days"
    with signed_in(book_store, "csm:Ann") as c:
        html = c.get("/book").text
        assert re.findall(r'<tr data-account="(\w+)"', html) == ["K1", "K2", "K3", "K4"]
        assert "Book of Ann" in html and "Kilo Five" not in html
        assert "<strong>usage</strong>: usage down 60% over 90 days" in html
        # Total MRR 6,200, at risk 1,300.
        assert "MRR 6,200, at risk 1,300" in html
        assert c.get("/book", params={"csm": "Bob"}).status_code == 404
        assert c.get("/accounts/K5").status_code == 404
    with signed_in(book_store, "viewer") as c:
        assert 'id="book"' not in c.get("/book").text  # a picker until a CSM is chosen
        bob = c.get("/book", params={"csm": "Bob"}).text
        assert re.findall(r'<tr data-account="(\w+)"', bob) == ["K5"] and "2,700" in bob  # 0.9 x 3000
        assert c.get("/book", params={"csm": "Nobody"}).status_code == 400


def test_book_with_the_real_health_model_is_ordered_by_risk(shared_store: Store) -> None:
    day = data.last_day(shared_store)
    rows = team.book_rows(shared_store, day, ALICE)
    assert len(rows) == 20  # 80 accounts, every fourth is Alice's
    risks = [r["risk"] for r in rows]
    assert risks == sorted(risks, reverse=True)
    for r in rows:
        assert r["risk"] == pytest.approx((100 - r["health_score"]) / 100 * r["mrr"])
