"""The exact edges of API tokens and survey links: sizes, defaults, limits and malformed payloads.

These pin the numbers the docs promise (a 256-bit token secret, 14-day links, comments of 2,000
characters, links of at most 1,024 characters) so that a change to any of them fails a test.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json

import duckdb
import pytest

from csmetrics import surveys
from csmetrics.surveys import LinkError
from csmetrics.web import auth

KEY = b"e" * 32
NOW = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)


# -- tokens -----------------------------------------------------------------------------------------

def test_a_token_secret_is_32_random_bytes_in_43_urlsafe_characters() -> None:
    token, info = auth.create_token(duckdb.connect(), "n")
    prefix, token_id, secret = token.split("_", 2)
    assert (prefix, token_id) == ("csm", info.token_id) and len(token_id) == 8
    assert len(secret) == 43  # ceil(32 * 8 / 6) = 43 base64 characters, no padding
    assert len(base64.urlsafe_b64decode(secret + "=")) == 32


def test_token_records_cannot_be_changed() -> None:
    _, info = auth.create_token(duckdb.connect(), "n")
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.name = "other"  # type: ignore[misc]


def test_a_malformed_token_is_refused_without_reading_the_workspace() -> None:
    con = duckdb.connect()  # no token table at all: only the shape check can answer
    for token in ("csm_x", "csm_", "csm", "x_y_z"):
        assert auth.check_token(con, token) is False, token


# -- survey links -----------------------------------------------------------------------------------

def test_a_link_made_with_the_default_ttl_expires_exactly_14_days_later() -> None:
    token, link = surveys.make_link_token(KEY, "A1", "nps", now=NOW)
    assert link.expires_at == NOW + dt.timedelta(days=14)
    surveys.verify_link_token(KEY, token, now=NOW + dt.timedelta(days=14) - dt.timedelta(seconds=1))
    with pytest.raises(LinkError) as exc:
        surveys.verify_link_token(KEY, token, now=NOW + dt.timedelta(days=14))
    assert exc.value.reason == "expired"


def test_a_comment_of_2000_characters_is_kept_whole_and_a_longer_one_cut_to_2000() -> None:
    assert surveys.MAX_COMMENT == 2000
    assert surveys.clean_comment("x" * 2000) == "x" * 2000
    assert surveys.clean_comment("y" * 2001) == "y" * 2000


def test_the_survey_key_is_created_with_its_missing_directories(tmp_path: object) -> None:
    workspace = f"{tmp_path}/new/deeper/workspace.duckdb"
    key = surveys.load_key(workspace)
    assert len(key) == 32 and surveys.load_key(workspace, create=False) == key


def _token_of_length(length: int) -> str:
    """A genuinely signed token of exactly ``length`` characters (its account id and ticket id padded)."""
    for n in range(1, 900):
        for m in range(0, 4):
            token, _ = surveys.make_link_token(KEY, "A" * n, "csat", "T" * m if m else None, now=NOW)
            if len(token) == length:
                return token
    raise AssertionError(f"no token of length {length}")


def test_a_signed_link_of_1024_characters_is_accepted_and_a_longer_one_refused() -> None:
    # A token is unpadded base64 (no length of the form 4k + 1) + "." + a 43-character signature: 1025 cannot occur.
    at_limit, over = _token_of_length(1024), _token_of_length(1026)
    assert surveys.verify_link_token(KEY, at_limit, now=NOW).survey == "csat"
    with pytest.raises(LinkError) as exc:
        surveys.verify_link_token(KEY, over, now=NOW)
    assert exc.value.reason == "forged"


def _signed(payload_bytes: bytes) -> str:
    payload = base64.urlsafe_b64encode(payload_bytes).rstrip(b"=").decode()
    return f"{payload}.{surveys._sign(KEY, payload)}"


@pytest.mark.parametrize("payload", [
    b"not json at all",
    json.dumps({"a": "A1", "s": "nps", "t": None, "n": "x", "e": "soon"}).encode(),
    json.dumps({"a": "A1", "s": "nps", "t": None, "n": "x"}).encode(),
    json.dumps(["a", "list"]).encode(),
], ids=["not-json", "expiry-not-a-number", "no-expiry", "not-an-object"])
def test_a_correctly_signed_but_malformed_payload_is_refused_as_forged(payload: bytes) -> None:
    with pytest.raises(LinkError) as exc:
        surveys.verify_link_token(KEY, _signed(payload), now=NOW)
    assert exc.value.reason == "forged"


def test_a_workspace_without_accounts_has_no_account_to_answer_for() -> None:
    con = duckdb.connect()
    assert surveys.account_exists(con, "A1") is False
    con.execute("CREATE TABLE accounts (account_id VARCHAR)")
    con.execute("INSERT INTO accounts VALUES ('A1')")
    assert surveys.account_exists(con, "A1") is True and surveys.account_exists(con, "A2") is False
