"""The audit log: who did what through the server, in the workspace table ``_csmetrics_audit``.

One row per event: ``at`` (UTC, from :mod:`csmetrics.clock`), ``actor`` (the
token id, never the token; NULL when no token was recognised), ``role`` (the
token's role), ``action``, ``target`` (what the action was about: a token id, a
path, the ingested files), ``ip`` (the client's address as the server saw it)
and ``outcome`` (``ok``, ``fail`` or ``limited``, or ``fail: <reason>``).

Actions recorded:

- ``login``: the sign-in form, ``ok`` or ``fail`` (a wrong, revoked or
  malformed token), ``limited`` when refused by the rate limit (see
  :mod:`csmetrics.web.ratelimit`; only the first refusal of a window is
  written, so a flood does not fill the table);
- ``auth``: a bearer token or login cookie that is refused (``fail`` /
  ``limited``, as for ``login``);
- ``token.use``: the first accepted use of each token per UTC day per server
  process (one row per token and day, not one per request: a dashboard makes
  dozens of requests per page view);
- ``token.create``, ``token.revoke``, ``ingest``: the admin actions, ``ok`` or
  ``fail: <reason>``;
- ``forbidden``: a valid token of another role asking for an admin endpoint
  (target: method and path).

Reading it: ``GET /api/v1/audit`` (admin) or ``csmetrics audit --workspace W``.
Audit rows do not change any metric, so writing one does not empty the
server's result cache.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

import duckdb

from csmetrics import clock

AUDIT = "_csmetrics_audit"
COLUMNS = ("at", "actor", "role", "action", "target", "ip", "outcome")
_COLS = ", ".join(f'"{c}"' for c in COLUMNS)  # "at" is an SQL keyword
MAX_TEXT = 300
"""Longest target or outcome text stored (a long path or error is cut, never a token)."""


@dataclass(frozen=True)
class Event:
    at: dt.datetime
    actor: str | None
    role: str | None
    action: str
    target: str | None
    ip: str | None
    outcome: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f'CREATE TABLE IF NOT EXISTS {AUDIT} ("at" TIMESTAMP NOT NULL, actor VARCHAR, role VARCHAR, '
                "action VARCHAR NOT NULL, target VARCHAR, ip VARCHAR, outcome VARCHAR NOT NULL)")


def _cut(text: str | None) -> str | None:
    if text is None:
        return None
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3] + "..."


def record(con: duckdb.DuckDBPyConnection, action: str, outcome: str, actor: str | None = None,
           role: str | None = None, target: str | None = None, ip: str | None = None) -> Event:
    """Append one event, stamped with :func:`csmetrics.clock.naive_now` (UTC)."""
    ev = Event(clock.naive_now(), actor, role, action, _cut(target), ip, _cut(outcome) or "")
    con.execute(f"INSERT INTO {AUDIT} ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [ev.at, ev.actor, ev.role, ev.action, ev.target, ev.ip, ev.outcome])
    return ev


def read(con: duckdb.DuckDBPyConnection, limit: int = 100, action: str | None = None,
         actor: str | None = None) -> list[Event]:
    """The latest ``limit`` events, newest first, optionally of one action or one actor (token id)."""
    names = {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()").fetchall()}
    if AUDIT not in names:
        return []
    where, params = [], []
    if action is not None:
        where.append("action = ?")
        params.append(action)
    if actor is not None:
        where.append("actor = ?")
        params.append(actor)
    sql = f"SELECT {_COLS} FROM {AUDIT}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    # rowid breaks ties between events of the same (pinned) instant: the later insert first.
    sql += ' ORDER BY "at" DESC, rowid DESC LIMIT ?'
    rows = con.execute(sql, [*params, limit]).fetchall()
    return [Event(*r) for r in rows]
