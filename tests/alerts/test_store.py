"""Dedup keys, cool-down, snooze, acknowledge, list filters, and the one-transaction record."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from csmetrics import alerts
from csmetrics.alerts import store
from csmetrics.schema.errors import UsageError
from tests.alerts.company import T, health, make_workspace

LATER = [
    {"response_id": "R5", "account_id": "A1", "survey": "nps", "score": 2, "responded_at": "2026-06-20T12:00:00Z",
     "comment": "Still slow", "ticket_id": None},
    {"response_id": "R6", "account_id": "A1", "survey": "nps", "score": 5, "responded_at": "2026-06-28T12:00:00Z",
     "comment": "", "ticket_id": None},
]


def _run(ws: Path, day: dt.date = T, only: list[str] | None = None) -> list[alerts.Alert]:
    return alerts.evaluate(ws, day, health=health(), only=only)


def test_rerun_on_the_same_data_raises_nothing_new(ws: Path) -> None:
    first = _run(ws)
    assert sorted((a.rule, a.account_id) for a in first) == [
        ("csat_negative", "A2"), ("health_worsens", "A7"), ("health_worsens", "A8"), ("mrr_contraction", "A5"),
        ("nps_detractor", "A1"), ("renewal_risk", "A8"), ("score_drop", "A7"), ("score_drop", "A8"),
        ("usage_drop", "A3")]
    assert _run(ws) == []
    stored = {a.key: a for a in alerts.list_alerts(ws)}
    assert len(stored) == 9
    a = stored["nps_detractor|A1|R1"]
    assert a.id == store.alert_id("nps_detractor|A1|R1")
    assert (a.reason, a.mrr, a.csm, a.status, a.as_of) == ('NPS 3 on 2026-06-12: "Too slow"', 1000.0, "Ana Ruiz",
                                                          "open", T)


def test_cooldown_suppresses_then_a_newer_event_raises_again(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, {"survey_responses": LATER})
    assert [a.key for a in _run(ws, T, ["nps_detractor"])] == ["nps_detractor|A1|R1"]
    # R5 on 06-20 is a new event, but 06-21 < 06-15 + 14 days (cooldown_days of nps_detractor).
    assert _run(ws, dt.date(2026, 6, 21), ["nps_detractor"]) == []
    # R6 on 06-28, evaluated on 06-29 = 06-15 + 14: the cool-down is over.
    again = _run(ws, dt.date(2026, 6, 29), ["nps_detractor"])
    assert [(a.key, a.reason) for a in again] == [("nps_detractor|A1|R6", "NPS 5 on 2026-06-28: (no comment)")]


def test_snooze_suppresses_new_alerts_of_the_rule_until_the_day(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, {"survey_responses": LATER})
    rules = tmp_path / "alerts.toml"
    rules.write_text("[rules.nps_detractor]\ncooldown_days = 0\n", encoding="utf-8")
    (first,) = alerts.evaluate(ws, T, rules, health=health(), only=["nps_detractor"])
    s = alerts.snooze(ws, first.id, dt.date(2026, 7, 1), "ana")
    assert (s.status, s.snoozed_until, s.snoozed_by) == ("snoozed", dt.date(2026, 7, 1), "ana")
    assert alerts.evaluate(ws, dt.date(2026, 6, 21), rules, health=health(), only=["nps_detractor"]) == []
    assert [a.id for a in alerts.list_alerts(ws, status="snoozed")] == [first.id]
    with pytest.raises(UsageError, match="expected a day after today"):
        alerts.snooze(ws, first.id, T, "ana")


def test_acknowledge_and_list_filters(ws: Path) -> None:
    new = {a.key: a for a in _run(ws)}
    a = alerts.acknowledge(ws, new["usage_drop|A3|2026-06-15"].id, "lead")
    assert (a.status, a.acknowledged_by) == ("acknowledged", "lead")
    assert [x.account_id for x in alerts.list_alerts(ws, status="acknowledged")] == ["A3"]
    assert len(alerts.list_alerts(ws, status="open")) == 8
    assert sorted(x.account_id for x in alerts.list_alerts(ws, csm="Ana Ruiz")) == ["A1", "A7", "A7"]
    with pytest.raises(UsageError, match="does not exist"):
        alerts.acknowledge(ws, "nope", "lead")
    with pytest.raises(UsageError, match="expected one of open, acknowledged, snoozed, failed"):
        alerts.list_alerts(ws, status="closed")


def test_record_is_one_transaction(ws: Path) -> None:
    new = alerts.evaluate(ws, T, health=health(), record=False)
    con = duckdb.connect(str(ws))
    try:
        store.ensure_tables(con)
        # The second outbox row breaks NOT NULL (recipient): neither alerts nor outbox rows stay.
        bad = [(new[0].id, "webhook", "http://x", alerts.engine.clock.now(), None),
               (new[1].id, "webhook", None, alerts.engine.clock.now(), None)]
        with pytest.raises(duckdb.ConstraintException):
            store.record(con, new, bad)  # type: ignore[arg-type]
        assert con.execute(f"SELECT count(*) FROM {store.ALERTS}").fetchone() == (0,)
        assert con.execute(f"SELECT count(*) FROM {store.OUTBOX}").fetchone() == (0,)
    finally:
        con.close()


def test_evaluate_on_an_open_connection(ws: Path) -> None:
    # The server passes its writer connection: nothing else opens the file.
    con = duckdb.connect(str(ws))
    try:
        assert len(alerts.evaluate(con, T, health=health())) == 9
        assert len(alerts.list_alerts(con)) == 9
    finally:
        con.close()


def test_deliver_holds_the_callers_write_lock_only_for_database_steps(ws: Path) -> None:
    # As the server does (Store.write): every claim and mark under the lock, every send outside it.
    import threading

    (ws.parent / "alerts.toml").write_text('[channels.webhook]\nurl = "http://127.0.0.1:9/x"\n'
                                           'secret_env = "UNUSED"\n', encoding="utf-8")
    con = duckdb.connect(str(ws))
    lock = threading.Lock()
    steps: list[str] = []

    def write(fn):  # type: ignore[no-untyped-def]
        with lock:
            steps.append("db")
            return fn(con)

    def send(settings, recipient, batch, key):  # type: ignore[no-untyped-def]
        assert not lock.locked()
        steps.append(f"send {batch[0].rule}")

    try:
        alerts.evaluate(con, T, ws.parent / "alerts.toml", health=health(), only=["nps_detractor", "csat_negative"])
        report = alerts.deliver(con, ws.parent / "alerts.toml", write=write, senders={"webhook": send})
    finally:
        con.close()
    assert len(report.sent) == 2
    # one query of the due rows, then per row: claim, send, mark
    assert steps in (["db", "db", "send nps_detractor", "db", "db", "send csat_negative", "db"],
                     ["db", "db", "send csat_negative", "db", "db", "send nps_detractor", "db"])
