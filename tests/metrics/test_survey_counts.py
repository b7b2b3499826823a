"""Survey answer counts (nps_responses, csat_responses, ces_responses) on hand-made answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.metrics.helpers import values, write_dir


def _answer(rid: str, account: str, survey: str, score: int, at: str) -> dict[str, Any]:
    return {"response_id": rid, "account_id": account, "survey": survey, "score": score, "responded_at": at}


ANSWERS = [
    _answer("e1", "a", "ces", 7, "2025-01-31T23:30:00-02:00"),  # 1 Feb 01:30 UTC: February
    _answer("e2", "a", "ces", 2, "2025-01-15T09:00:00Z"),
    _answer("e3", "b", "ces", 6, "2025-01-20T09:00:00Z"),
    _answer("e4", "c", "ces", 5, "2025-02-10T09:00:00Z"),
    _answer("e5", "b", "csat", 5, "2025-01-20T09:00:00Z"),  # not CES
    _answer("e6", "c", "nps", 9, "2025-01-21T09:00:00Z"),  # not CES
    _answer("e7", "a", "nps", 0, "2025-03-01T00:00:00Z"),
]
M = "ces_responses,ces,csat_responses,nps_responses"


def test_ces_responses_count_the_ces_answers_of_each_month(tmp_path: Path) -> None:
    d = write_dir(tmp_path, survey_responses=ANSWERS)
    v = values(d, M, end="2025-04-01")
    # January: e2, e3 (e1 is 1 Feb in UTC) = 2; ces 1 of 2 (e3 6) -> 50
    assert v[("ces_responses", "2025-01", None)] == 2
    assert v[("ces", "2025-01", None)] == 50
    # February: e1 7, e4 5 = 2, both positive -> 100
    assert v[("ces_responses", "2025-02", None)] == 2
    assert v[("ces", "2025-02", None)] == 100
    # March: no CES answer: count 0, score null
    assert v[("ces_responses", "2025-03", None)] == 0
    assert v[("ces", "2025-03", None)] is None
    # the other surveys are counted apart: csat e5 in January, nps e6 in January and e7 in March
    assert v[("csat_responses", "2025-01", None)] == 1
    assert v[("nps_responses", "2025-01", None)] == 1
    assert v[("nps_responses", "2025-03", None)] == 1
    assert v[("csat_responses", "2025-02", None)] == 0


def test_ces_responses_by_segment_count_each_segments_answers(tmp_path: Path) -> None:
    d = write_dir(tmp_path, survey_responses=ANSWERS,
                  accounts=[{"account_id": "a", "segment": "smb"}, {"account_id": "b", "segment": "smb"},
                            {"account_id": "c", "segment": "ent"}])
    v = values(d, "ces_responses", end="2025-03-01", by="segment")
    # January: smb e2 (a), e3 (b) = 2, ent 0; February: smb e1 (a) = 1, ent e4 (c) = 1
    assert v == {("ces_responses", "2025-01", "ent"): 0, ("ces_responses", "2025-01", "smb"): 2,
                 ("ces_responses", "2025-02", "ent"): 1, ("ces_responses", "2025-02", "smb"): 1}


def test_ces_responses_over_a_quarter(tmp_path: Path) -> None:
    d = write_dir(tmp_path, survey_responses=ANSWERS)
    v = values(d, "ces_responses,ces", period="quarter", start="2025-01-01", end="2025-07-01")
    # Q1: e1, e2, e3, e4 = 4; positive e1 7, e3 6, e4 5 = 3 of 4 -> 75
    assert v[("ces_responses", "2025-Q1", None)] == 4
    assert v[("ces", "2025-Q1", None)] == 75
    assert v[("ces_responses", "2025-Q2", None)] == 0
