"""Each rule kind on the hand-made company (company.py): fires when it should, with its reason and MRR."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from csmetrics import alerts
from csmetrics.alerts import Alert
from csmetrics.io.dataset import ingest
from tests.alerts.company import T, company_rows, health
from tests.metrics.helpers import write_dir


def _found(ws: Path, rule: str, as_of: dt.date = T) -> dict[str, Alert]:
    return {a.account_id: a for a in alerts.evaluate(ws, as_of, health=health(), record=False, only=[rule])}


def test_health_worsens_names_the_day_and_the_colours(ws: Path) -> None:
    found = _found(ws, "health_worsens")
    assert sorted(found) == ["A7", "A8"]  # every other account stays green (no open ticket: score 100)
    a7 = found["A7"]
    # One open ticket from 06-12: thresholds band "at most 1" scores 60, yellow (40 <= 60 < 70).
    assert a7.reason == "health green -> yellow (score 100 -> 60) on 2026-06-12: 1 open ticket"
    assert a7.event == "2026-06-12:green->yellow"
    assert (a7.mrr, a7.account_name, a7.csm, a7.severity) == (100.0, "Eta", "Ana Ruiz", "warning")
    assert a7.link == "http://127.0.0.1:8000/accounts/A7"
    assert found["A8"].reason == "health green -> red (score 100 -> 0) on 2026-06-11: 2 open tickets"
    assert found["A8"].mrr == 700.0


def test_health_worsens_outside_the_window_does_not_fire(ws: Path, tmp_path: Path) -> None:
    # within_days = 2: colours of 06-13 and 06-15 are compared; both changes happened before 06-13.
    rules = tmp_path / "alerts.toml"
    rules.write_text("[rules.health_worsens]\nwithin_days = 2\n", encoding="utf-8")
    assert alerts.evaluate(ws, T, rules, health=health(), record=False, only=["health_worsens"]) == []


@pytest.mark.parametrize(("toml", "fired"), [
    ('into = "red"', ["A8"]),           # A7 only turned yellow
    ("min_points = 41", ["A8"]),         # A7 fell 40 points, A8 100
    ("min_points = 40", ["A7", "A8"]),
])
def test_health_worsens_into_red_and_min_points(ws: Path, tmp_path: Path, toml: str, fired: list[str]) -> None:
    rules = tmp_path / "alerts.toml"
    rules.write_text(f"[rules.health_worsens]\n{toml}\n", encoding="utf-8")
    got = alerts.evaluate(ws, T, rules, health=health(), record=False, only=["health_worsens"])
    assert sorted(a.account_id for a in got) == fired


def test_score_drop_fires_at_the_threshold_only(ws: Path, tmp_path: Path) -> None:
    found = _found(ws, "score_drop")
    assert sorted(found) == ["A7", "A8"]
    assert found["A7"].reason == "health score down 40 points in 30 days (100 -> 60): 1 open ticket"
    assert found["A8"].reason == "health score down 100 points in 30 days (100 -> 0): 2 open tickets"
    assert found["A8"].details == {"score_before": 100.0, "score": 0.0, "drop": 100.0}
    rules = tmp_path / "alerts.toml"
    rules.write_text("[rules.score_drop]\npoints = 41\n", encoding="utf-8")  # A7 dropped 40 < 41
    got = alerts.evaluate(ws, T, rules, health=health(), record=False, only=["score_drop"])
    assert [a.account_id for a in got] == ["A8"]


def test_nps_detractor_quotes_the_comment(ws: Path) -> None:
    found = _found(ws, "nps_detractor")
    assert list(found) == ["A1"]  # R2 (score 9) is a promoter
    a = found["A1"]
    assert a.reason == 'NPS 3 on 2026-06-12: "Too slow"'
    assert (a.event, a.mrr, a.key) == ("R1", 1000.0, "nps_detractor|A1|R1")
    # Seven days later (06-19) R1 (06-12) is outside the window (06-12, 06-19].
    assert _found(ws, "nps_detractor", dt.date(2026, 6, 19)) == {}
    assert list(_found(ws, "nps_detractor", dt.date(2026, 6, 18))) == ["A1"]


def test_csat_negative_is_below_the_positive_minimum(ws: Path) -> None:
    found = _found(ws, "csat_negative")
    assert list(found) == ["A2"]  # R4 scores 4 = csat_positive_min: positive
    assert found["A2"].reason == 'CSAT 2/5 on 2026-06-14 (ticket T1), below 4: "Waited days"'
    assert (found["A2"].event, found["A2"].mrr, found["A2"].csm) == ("R3", 500.0, "Bo Chen")


def test_usage_drop_counts_both_windows(ws: Path) -> None:
    found = _found(ws, "usage_drop")
    assert list(found) == ["A3"]  # A4: 60 vs 100 is down 40% < 50%
    a = found["A3"]
    assert a.reason == "usage down 60% over 30 days: 40 events vs 100 in the 30 days before"
    assert (a.mrr, a.csm, a.details["recent_events"], a.details["prior_events"]) == (300.0, None, 40, 100)


def test_renewal_risk_needs_a_low_score_and_a_renewal_in_the_window(ws: Path) -> None:
    found = _found(ws, "renewal_risk")
    # N1 (A1) is due in the window but A1 scores 100; N3 (A8) is due 2026-09-01, after T + 60 days.
    assert list(found) == ["A8"]
    assert found["A8"].reason == ("renewal N2 due 2026-07-01 (in 16 days) with health score 0.0 < 50: "
                                  "2 open tickets")
    assert (found["A8"].event, found["A8"].mrr, found["A8"].severity) == ("N2", 700.0, "critical")


def test_mrr_contraction_above_the_amount(ws: Path) -> None:
    found = _found(ws, "mrr_contraction")
    assert list(found) == ["A5"]  # A6 lost 50 < 100
    a = found["A5"]
    assert a.reason == ("MRR down 300.00 USD in 2026-06 (contraction): 800.00 on 2026-05-31 -> "
                        "500.00 on 2026-06-15")
    assert (a.event, a.mrr) == ("2026-06", 500.0)
    # In May nothing had changed yet.
    assert _found(ws, "mrr_contraction", dt.date(2026, 5, 31)) == {}


def test_churn_is_a_contraction_to_zero(tmp_path: Path) -> None:
    # A5's 500 ends on 07-01 (exclusive): as of 2026-07-05 it churned, 500 on 06-30 -> 0.
    rows = company_rows()
    for r in rows["subscriptions"]:
        if r["subscription_id"] == "S5b":
            r["ended_at"] = "2026-07-01"
    ws2 = tmp_path / "ws.duckdb"
    ingest(write_dir(tmp_path / "data", **rows), ws2)
    found = {a.account_id: a for a in alerts.evaluate(ws2, dt.date(2026, 7, 5), health=health(), record=False,
                                                      only=["mrr_contraction"])}
    assert found["A5"].reason == ("MRR down 500.00 USD in 2026-07 (churned): 500.00 on 2026-06-30 -> "
                                  "0.00 on 2026-07-05")
    assert found["A5"].mrr == 500.0  # at stake: the MRR it had, what a win-back recovers (it has 0 now)
    assert found["A5"].details["mrr_now"] == 0.0


@pytest.mark.parametrize("rule", ["health_worsens", "score_drop", "nps_detractor", "csat_negative", "usage_drop",
                                  "renewal_risk", "mrr_contraction"])
def test_probe_agrees_with_evaluate(ws: Path, rule: str) -> None:
    fired = set(_found(ws, rule))
    for aid in ("A1", "A3", "A5", "A8"):
        p = alerts.probe(ws, rule, aid, T, health=health())
        assert p["fires"] == (aid in fired)
        assert p["numbers"]["paying"] is True
