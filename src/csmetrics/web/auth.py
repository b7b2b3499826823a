"""API tokens and their roles: created by ``csmetrics token create`` (or ``POST /api/v1/tokens``),
stored hashed in the workspace.

A token looks like ``csm_<id>_<secret>``; the workspace keeps only the id, a
name, a role and the SHA-256 of the whole token (the secret has 256 bits of
entropy, so a fast hash is enough). A revoked token stays listed with its
revocation time.

Roles (the ``role`` column):

- ``admin``: reads everything and may administer (tokens, ingest, the audit log);
- ``viewer``: reads every account, administers nothing;
- ``csm:NAME``: reads only the accounts whose ``csm`` column is exactly NAME (its
  *book*), and only those accounts' rows; see :mod:`csmetrics.web.scope`.

Tokens created before roles existed have no role (NULL) and count as ``admin``:
a token then could do everything the server offered, and ``serve`` only prints a
new token when none is active, so demoting them would leave the operator of an
existing workspace without any admin token (and no way to make one while the
server runs, since the CLI cannot write a workspace a server holds).
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
ADMIN = "admin"
VIEWER = "viewer"
CSM_PREFIX = "csm:"
LEGACY_ROLE = ADMIN
"""The role of a token stored before roles existed (NULL role): see the module docstring."""


@dataclass(frozen=True)
class TokenInfo:
    token_id: str
    name: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    role: str = LEGACY_ROLE


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_role(text: str) -> str:
    """The normalised role of ``text``: ``admin``, ``viewer`` or ``csm:NAME`` (NAME non-empty, kept as given
    but for surrounding spaces). Raises :class:`UsageError` otherwise.

    >>> parse_role(" Viewer "), parse_role("csm: Alice Ng")
    ('viewer', 'csm:Alice Ng')
    """
    t = text.strip()
    if t.lower() in (ADMIN, VIEWER):
        return t.lower()
    if t[: len(CSM_PREFIX)].lower() == CSM_PREFIX:
        name = t[len(CSM_PREFIX):].strip()
        if name:
            return CSM_PREFIX + name
        raise UsageError("role 'csm:' needs the CSM's name, as in the accounts' csm column (e.g. csm:Alice Ng)")
    raise UsageError(f"unknown role {t[:60]!r}: expected admin, viewer or csm:NAME")


def role_csm(role: str) -> str | None:
    """The CSM name of a ``csm:NAME`` role, else None (the role reads every account)."""
    return role[len(CSM_PREFIX):] if role.startswith(CSM_PREFIX) else None


def known_csms(con: duckdb.DuckDBPyConnection) -> list[str] | None:
    """The distinct CSM names of the workspace's accounts; None when there is no accounts table or csm column."""
    cols = con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = 'accounts' AND schema_name = 'main' "
        "AND database_name = current_database()").fetchall()
    if ("csm",) not in cols:
        return None
    return [str(r[0]) for r in con.execute(
        "SELECT DISTINCT csm FROM accounts WHERE csm IS NOT NULL ORDER BY csm").fetchall()]


def check_role(con: duckdb.DuckDBPyConnection, text: str) -> str:
    """:func:`parse_role`, and a ``csm:NAME`` role must name a CSM of the workspace's accounts (a typo would
    make a token that silently sees nothing). Returns the normalised role."""
    role = parse_role(text)
    name = role_csm(role)
    if name is None:
        return role
    names = known_csms(con)
    if names is None:
        raise UsageError(f"role {role!r}: the workspace's accounts have no csm column")
    if name not in names:
        listed = ", ".join(names[:30]) + (f" and {len(names) - 30} more" if len(names) > 30 else "")
        raise UsageError(f"role {role!r}: no account has csm {name!r} (expected one of {listed or 'none'})")
    return role


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    """Create the tokens table; add the ``role`` column to a workspace made before roles (rows keep NULL:
    :data:`LEGACY_ROLE`)."""
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {TOKENS} (token_id VARCHAR PRIMARY KEY, name VARCHAR, "
        "token_hash VARCHAR NOT NULL, created_at TIMESTAMP, revoked_at TIMESTAMP, role VARCHAR)"
    )
    con.execute(f"ALTER TABLE {TOKENS} ADD COLUMN IF NOT EXISTS role VARCHAR")


def create_token(con: duckdb.DuckDBPyConnection, name: str = "", role: str = ADMIN,
                 check: bool = True) -> tuple[str, TokenInfo]:
    """A new token (shown once) and its stored record. ``role`` is checked with :func:`check_role`
    (``check=False`` only parses it: for callers that checked already). The default is ``admin``, what
    every token was before roles: the caller holds the workspace file for writing, which is already
    every power (``csmetrics token create``); ``POST /api/v1/tokens`` has no default."""
    role = check_role(con, role) if check else parse_role(role)
    ensure_table(con)
    token_id = secrets.token_hex(4)
    token = f"csm_{token_id}_{secrets.token_urlsafe(32)}"
    now = clock.naive_now()
    con.execute(f"INSERT INTO {TOKENS} (token_id, name, token_hash, created_at, revoked_at, role) "
                "VALUES (?, ?, ?, ?, NULL, ?)", [token_id, name, _hash(token), now, role])
    return token, TokenInfo(token_id, name, now, None, role)


def list_tokens(con: duckdb.DuckDBPyConnection) -> list[TokenInfo]:
    ensure_table(con)
    rows = con.execute(f"SELECT token_id, name, created_at, revoked_at, coalesce(role, '{LEGACY_ROLE}') "
                       f"FROM {TOKENS} ORDER BY created_at").fetchall()
    return [TokenInfo(*r) for r in rows]


def revoke_token(con: duckdb.DuckDBPyConnection, token_id: str) -> TokenInfo:
    """Revoke ``token_id`` (a second revoke keeps the first time); its record after revoking."""
    ensure_table(con)
    row = con.execute(f"SELECT revoked_at FROM {TOKENS} WHERE token_id = ?", [token_id]).fetchone()
    if row is None:
        raise UsageError(f"no token with id {token_id!r}: see `csmetrics token list`")
    now = clock.naive_now()
    con.execute(f"UPDATE {TOKENS} SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL", [now, token_id])
    return next(t for t in list_tokens(con) if t.token_id == token_id)


def token_id_of(token: str) -> str | None:
    """The id part of a well-shaped token string (``csm_<id>_...``), else None; nothing is looked up."""
    parts = token.split("_")
    if len(parts) < 3 or parts[0] != "csm" or len(token) > 200:
        return None
    return parts[1]


def lookup_token(con: duckdb.DuckDBPyConnection, token: str) -> TokenInfo | None:
    """The record of ``token`` if it is a known, unrevoked token, else None."""
    token_id = token_id_of(token)
    if token_id is None:
        return None
    row = con.execute(
        f"SELECT token_hash, name, created_at, coalesce(role, '{LEGACY_ROLE}') FROM {TOKENS} "
        "WHERE token_id = ? AND revoked_at IS NULL", [token_id]
    ).fetchone()
    if row is None or not hmac.compare_digest(str(row[0]), _hash(token)):
        return None
    return TokenInfo(token_id, row[1], row[2], None, row[3])


def check_token(con: duckdb.DuckDBPyConnection, token: str) -> bool:
    """True if ``token`` is a known, unrevoked token."""
    return lookup_token(con, token) is not None
