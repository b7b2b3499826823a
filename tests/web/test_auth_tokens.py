"""API tokens: a known id with the wrong secret, revoked tokens, and the shape checks of check_token.

A token is ``csm_<id>_<secret>``; the workspace keeps the id and the SHA-256 of the whole token.
Knowing an id (``csmetrics token list`` shows them) must not be enough to get in.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import duckdb
import pytest
from fastapi.testclient import TestClient

from csmetrics import clock
from csmetrics.schema.errors import UsageError
from csmetrics.web import auth
from csmetrics.web.store import Store

READ = "/api/v1/metrics/definitions"


def _split(token: str) -> tuple[str, str]:
    prefix, token_id, secret = token.split("_", 2)
    assert prefix == "csm"
    return token_id, secret


def _other_secret(secret: str) -> str:
    """The secret with its last character changed: same length, same alphabet, one character off."""
    return secret[:-1] + ("A" if secret[-1] != "A" else "B")


def test_a_real_token_id_with_a_wrong_secret_is_401_on_the_api(anon: TestClient, store: Store) -> None:
    token = store.create_token("real")
    token_id, secret = _split(token)
    assert anon.get(READ, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    for forged in (f"csm_{token_id}_{_other_secret(secret)}", f"csm_{token_id}_x", f"csm_{token_id}_{secret}x",
                   f"csm_{token_id}_"):
        r = anon.get(READ, headers={"Authorization": f"Bearer {forged}"})
        assert r.status_code == 401, forged


def test_a_real_token_id_with_a_wrong_secret_cannot_log_in_or_read_pages(anon: TestClient, store: Store) -> None:
    token_id, secret = _split(store.create_token("browser"))
    forged = f"csm_{token_id}_{_other_secret(secret)}"
    r = anon.post("/login", data={"token": forged, "next": "/"})
    assert r.status_code == 401
    assert "set-cookie" not in r.headers
    anon.cookies.set("csmetrics_token", forged)
    assert anon.get("/revenue").status_code == 303
    assert anon.get(READ).status_code == 401


def test_a_revoked_token_is_refused_by_header_cookie_and_login(anon: TestClient, store: Store) -> None:
    token = store.create_token("leaving")
    keep = store.create_token("staying")
    with store.write_lock:
        auth.revoke_token(store.writer, _split(token)[0])
    assert anon.get(READ, headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert anon.post("/login", data={"token": token, "next": "/"}).status_code == 401
    anon.cookies.set("csmetrics_token", token)
    assert anon.get("/revenue").status_code == 303
    # Revoking one token leaves the others working.
    assert anon.get(READ, headers={"Authorization": f"Bearer {keep}"}).status_code == 200


# -- check_token on its own: a workspace-less DuckDB with hand-made rows -----------------------------

def _con_with(*tokens: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    auth.ensure_table(con)
    for i, token in enumerate(tokens):
        token_id = token.split("_")[1] if token.count("_") >= 2 else f"id{i}"
        # Rows as a workspace made before roles has them: no role column given (NULL, read as admin).
        con.execute(f"INSERT INTO {auth.TOKENS} (token_id, name, token_hash, created_at) VALUES (?, ?, ?, ?)",
                    [token_id, f"t{i}", hashlib.sha256(token.encode()).hexdigest(), dt.datetime(2026, 1, 1)])
    return con


def test_check_token_accepts_the_exact_token_and_nothing_else() -> None:
    good = "csm_0a1b2c3d_secretwithoutunderscores"
    with_underscores = "csm_99887766_sec_ret_with_under_scores"
    con = _con_with(good, with_underscores)
    assert auth.check_token(con, good)
    assert auth.check_token(con, with_underscores)  # the secret may itself contain "_"
    assert not auth.check_token(con, "csm_0a1b2c3d_secretwithoutunderscoreS")
    assert not auth.check_token(con, "csm_0a1b2c3d_secretwithoutunderscores ")
    assert not auth.check_token(con, "csm_0a1b2c3e_secretwithoutunderscores")  # unknown id
    assert not auth.check_token(con, "csm_0a1b2c3d")  # no secret part
    assert not auth.check_token(con, "")


def test_check_token_refuses_another_prefix_even_when_its_hash_is_stored() -> None:
    # A row whose hash matches "xsm_..." exactly: only the "csm" prefix may pass the shape check.
    con = _con_with("xsm_0a1b2c3d_secret", "csm_0a1b2c3d_secret".replace("csm_0a1b2c3d", "csm_11111111"))
    assert not auth.check_token(con, "xsm_0a1b2c3d_secret")
    assert auth.check_token(con, "csm_11111111_secret")


def test_check_token_takes_tokens_up_to_200_characters() -> None:
    at_limit = "csm_abcdef01_" + "s" * (200 - len("csm_abcdef01_"))
    over = "csm_abcdef02_" + "s" * (201 - len("csm_abcdef02_"))
    assert len(at_limit) == 200 and len(over) == 201
    con = _con_with(at_limit, over)
    assert auth.check_token(con, at_limit)
    assert not auth.check_token(con, over)


def test_tokens_are_stored_as_their_sha256_with_the_pinned_creation_time() -> None:
    con = duckdb.connect()
    when = dt.datetime(2026, 2, 3, 4, 5, 6, tzinfo=dt.UTC)
    with clock.frozen(when):
        token, info = auth.create_token(con, "ops")
    token_id, _ = _split(token)
    row = con.execute(f"SELECT token_id, name, token_hash, created_at, revoked_at FROM {auth.TOKENS}").fetchone()
    assert row == (token_id, "ops", hashlib.sha256(token.encode()).hexdigest(), dt.datetime(2026, 2, 3, 4, 5, 6),
                   None)
    assert info.token_id == token_id and info.created_at == dt.datetime(2026, 2, 3, 4, 5, 6)
    assert auth.check_token(con, token)


def test_revoking_records_the_time_once_and_an_unknown_id_is_a_usage_error() -> None:
    con = duckdb.connect()
    token, info = auth.create_token(con, "a")
    with clock.frozen(dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)):
        auth.revoke_token(con, info.token_id)
    with clock.frozen(dt.datetime(2026, 4, 1, 9, tzinfo=dt.UTC)):
        auth.revoke_token(con, info.token_id)  # a second revoke keeps the first time
    [listed] = auth.list_tokens(con)
    assert listed.revoked_at == dt.datetime(2026, 3, 1, 9)
    assert not auth.check_token(con, token)
    with pytest.raises(UsageError, match="no token with id 'nope'"):
        auth.revoke_token(con, "nope")


def test_tokens_are_listed_oldest_first() -> None:
    con = duckdb.connect()
    with clock.frozen(dt.datetime(2026, 5, 2, tzinfo=dt.UTC)):
        auth.create_token(con, "second")
    with clock.frozen(dt.datetime(2026, 5, 1, tzinfo=dt.UTC)):
        auth.create_token(con, "first")
    assert [t.name for t in auth.list_tokens(con)] == ["first", "second"]
