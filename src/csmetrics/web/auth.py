"""API tokens: created by ``csmetrics token create``, stored hashed in the workspace.

A token looks like ``csm_<id>_<secret>``; the workspace keeps only the id, a
name and the SHA-256 of the whole token (the secret has 256 bits of entropy,
so a fast hash is enough). A revoked token stays listed with its revocation time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import duckdb

from csmetrics import clock
from csmetrics.schema.errors import UsageError

TOKENS = "_csmetrics_tokens"


@dataclass(frozen=True)
class TokenInfo:
    token_id: str
    name: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {TOKENS} (token_id VARCHAR PRIMARY KEY, name VARCHAR, "
        "token_hash VARCHAR NOT NULL, created_at TIMESTAMP, revoked_at TIMESTAMP)"
    )


def create_token(con: duckdb.DuckDBPyConnection, name: str = "") -> tuple[str, TokenInfo]:
    """A new token (shown once) and its stored record."""
    ensure_table(con)
    token_id = secrets.token_hex(4)
    token = f"csm_{token_id}_{secrets.token_urlsafe(32)}"
    now = clock.naive_now()
    con.execute(f"INSERT INTO {TOKENS} VALUES (?, ?, ?, ?, NULL)", [token_id, name, _hash(token), now])
    return token, TokenInfo(token_id, name, now, None)


def list_tokens(con: duckdb.DuckDBPyConnection) -> list[TokenInfo]:
    ensure_table(con)
    rows = con.execute(f"SELECT token_id, name, created_at, revoked_at FROM {TOKENS} ORDER BY created_at").fetchall()
    return [TokenInfo(*r) for r in rows]


def revoke_token(con: duckdb.DuckDBPyConnection, token_id: str) -> None:
    ensure_table(con)
    row = con.execute(f"SELECT revoked_at FROM {TOKENS} WHERE token_id = ?", [token_id]).fetchone()
    if row is None:
        raise UsageError(f"no token with id {token_id!r}: see `csmetrics token list`")
    now = clock.naive_now()
    con.execute(f"UPDATE {TOKENS} SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL", [now, token_id])


def check_token(con: duckdb.DuckDBPyConnection, token: str) -> bool:
    """True if ``token`` is a known, unrevoked token."""
    parts = token.split("_")
    if len(parts) < 3 or parts[0] != "csm" or len(token) > 200:
        return False
    row = con.execute(
        f"SELECT token_hash FROM {TOKENS} WHERE token_id = ? AND revoked_at IS NULL", [parts[1]]
    ).fetchone()
    return row is not None and hmac.compare_digest(str(row[0]), _hash(token))
