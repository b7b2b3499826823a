"""Signed survey links and answer recording, without the web layer."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csmetrics import surveys
from csmetrics.config import Config
from csmetrics.surveys import LinkError

KEY = b"s" * 32
NOW = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)


def test_a_link_round_trips_and_expires_exactly_at_its_ttl() -> None:
    token, link = surveys.make_link_token(KEY, "A1", "nps", "T9", dt.timedelta(hours=2), now=NOW)
    got = surveys.verify_link_token(KEY, token, now=NOW + dt.timedelta(hours=1, minutes=59))
    assert got == link and got.ticket_id == "T9"
    with pytest.raises(LinkError) as exc:
        surveys.verify_link_token(KEY, token, now=NOW + dt.timedelta(hours=2))
    assert exc.value.reason == "expired"


@settings(max_examples=60, deadline=None)
@given(pos=st.integers(min_value=0, max_value=200), ch=st.sampled_from("AaZz09-_."))
def test_changing_any_character_of_a_link_makes_it_invalid(pos: int, ch: str) -> None:
    token, _ = surveys.make_link_token(KEY, "A1", "csat", now=NOW)
    i = pos % len(token)
    if token[i] == ch:
        return
    bad = token[:i] + ch + token[i + 1:]
    with pytest.raises(LinkError):
        surveys.verify_link_token(KEY, bad, now=NOW)


def test_each_link_has_its_own_nonce() -> None:
    a = surveys.make_link_token(KEY, "A1", "nps", now=NOW)[1]
    b = surveys.make_link_token(KEY, "A1", "nps", now=NOW)[1]
    assert a.nonce != b.nonce


@pytest.mark.parametrize("survey, ok, bad", [
    ("nps", ["0", "10", "7"], ["11", "-1", "5.5"]),
    ("csat", ["1", "5"], ["0", "6"]),
    ("ces", ["1", "7"], ["0", "8"]),
])
def test_scores_follow_the_survey_scales(survey: str, ok: list[str], bad: list[str]) -> None:
    for s in ok:
        assert surveys.check_score(survey, s, Config()) == int(s)
    for s in bad:
        with pytest.raises(LinkError):
            surveys.check_score(survey, s, Config())


def test_csat_scale_comes_from_the_company_settings() -> None:
    assert surveys.check_score("csat", "10", Config(csat_scale_max=10, csat_positive_min=6)) == 10


def test_recording_is_atomic_and_once_per_link() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE accounts AS SELECT 'A1' AS account_id")  # answers are only for known accounts
    assert surveys.ensure_tables(con) is True
    assert surveys.ensure_tables(con) is False
    _, link = surveys.make_link_token(KEY, "A1", "nps", now=NOW)
    rid = surveys.record_answer(con, link, 9, "great", now=NOW)
    with pytest.raises(LinkError) as exc:
        surveys.record_answer(con, link, 3, "again", now=NOW)
    assert exc.value.reason == "used"
    rows = con.execute("SELECT response_id, score, comment, responded_at FROM survey_responses").fetchall()
    assert rows == [(rid, 9.0, "great", dt.datetime(2026, 3, 1, 12))]


def test_the_signing_key_is_created_once_and_private(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ws = tmp_path / "w.duckdb"
    k1 = surveys.load_key(ws)
    assert surveys.load_key(ws) == k1 and len(k1) == 32
    assert surveys.key_path(ws).stat().st_mode & 0o077 == 0
