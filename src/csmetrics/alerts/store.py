"""Alerts and their outbox in the workspace (DuckDB tables ``_csmetrics_alerts``, ``_csmetrics_alert_outbox``).

An alert is stored once per dedup key (``rule|account_id|event``); its id is
the first 16 hex digits of SHA-256 of the key, so the same event has the same
id in every workspace. Recording an alert writes it and its outbox rows (one
per channel x recipient) in one transaction: both are there or neither.

Outbox statuses: ``pending`` (due at ``next_attempt_at``), ``sending`` (claimed
by a delivery run until ``lease_until``), ``sent``, ``failed`` (gave up after
``max_attempts``; ``last_error`` says why). Alert statuses: ``open``,
``acknowledged`` (with ``acknowledged_by``/``_at``), ``snoozed`` (until
``snoozed_until``, then shown as open again).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb

from csmetrics import clock
from csmetrics.schema.errors import UsageError

__all__ = ["ALERTS", "OUTBOX", "STATUSES", "Alert", "acknowledge", "alert_id", "ensure_tables", "list_alerts",
           "outbox_rows", "snooze"]

ALERTS = "_csmetrics_alerts"
OUTBOX = "_csmetrics_alert_outbox"
STATUSES = ("open", "acknowledged", "snoozed", "failed")
"""Filters of :func:`list_alerts`: an alert status, or ``failed`` (an outbox row of the alert failed)."""

_DDL = (
    f"""CREATE TABLE IF NOT EXISTS {ALERTS} (
        id VARCHAR PRIMARY KEY, key VARCHAR NOT NULL UNIQUE, rule VARCHAR NOT NULL, kind VARCHAR NOT NULL,
        account_id VARCHAR NOT NULL, account_name VARCHAR, csm VARCHAR, severity VARCHAR NOT NULL,
        reason VARCHAR NOT NULL, mrr DOUBLE, link VARCHAR, event VARCHAR NOT NULL, details VARCHAR,
        as_of DATE NOT NULL, raised_at TIMESTAMP NOT NULL, status VARCHAR NOT NULL,
        snoozed_until DATE, snoozed_by VARCHAR, acknowledged_by VARCHAR, acknowledged_at TIMESTAMP)""",
    f"""CREATE TABLE IF NOT EXISTS {OUTBOX} (
        id VARCHAR PRIMARY KEY, alert_id VARCHAR NOT NULL, channel VARCHAR NOT NULL, recipient VARCHAR NOT NULL,
        status VARCHAR NOT NULL, attempts INTEGER NOT NULL, next_attempt_at TIMESTAMP NOT NULL,
        lease_until TIMESTAMP, last_error VARCHAR, created_at TIMESTAMP NOT NULL, sent_at TIMESTAMP,
        digest_day DATE)""",
)

COLUMNS = ("id", "key", "rule", "kind", "account_id", "account_name", "csm", "severity", "reason", "mrr", "link",
           "event", "details", "as_of", "raised_at", "status", "snoozed_until", "snoozed_by", "acknowledged_by",
           "acknowledged_at")


@dataclass
class Alert:
    """One alert: who (account, its CSM), what (rule, severity, reason), how much (MRR at stake), where (link)."""

    id: str
    key: str
    rule: str
    kind: str
    account_id: str
    account_name: str
    csm: str | None
    severity: str
    reason: str
    mrr: float
    link: str
    event: str
    as_of: dt.date
    raised_at: dt.datetime
    details: dict[str, Any] = field(default_factory=dict)
    status: str = "open"
    snoozed_until: dt.date | None = None
    snoozed_by: str | None = None
    acknowledged_by: str | None = None
    acknowledged_at: dt.datetime | None = None
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    """Outbox rows of the alert (channel, recipient, status, attempts, last_error), filled by list_alerts."""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("as_of", "raised_at", "snoozed_until", "acknowledged_at"):
            if d[k] is not None:
                d[k] = d[k].isoformat()
        return d


def alert_id(key: str) -> str:
    """The id of the alert with dedup key ``key``: 16 hex digits of its SHA-256."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def outbox_id(alert: str, channel: str, recipient: str) -> str:
    """The id (and idempotency key) of one delivery: 20 hex digits of SHA-256 of alert, channel, recipient."""
    return hashlib.sha256(f"{alert}|{channel}|{recipient}".encode()).hexdigest()[:20]


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    for ddl in _DDL:
        con.execute(ddl)


def tables_exist(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND NOT temporary",
                            [ALERTS]).fetchone()[0])  # type: ignore[index]


def existing_keys(con: duckdb.DuckDBPyConnection, keys: Sequence[str]) -> set[str]:
    if not keys or not tables_exist(con):
        return set()
    rows = con.execute(f"SELECT key FROM {ALERTS} WHERE key IN (SELECT unnest(?))", [list(keys)]).fetchall()
    return {r[0] for r in rows}


def quiet_until(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], tuple[dt.date | None, dt.date | None]]:
    """Per (rule, account): the as_of of its last alert and the end of its longest snooze.

    The caller suppresses a new alert of the pair before the last as_of + the
    rule's cool-down, and before the snooze ends.
    """
    if not tables_exist(con):
        return {}
    rows = con.execute(f"SELECT rule, account_id, max(as_of), max(snoozed_until) FROM {ALERTS} "
                       "GROUP BY rule, account_id").fetchall()
    return {(r[0], r[1]): (r[2], r[3]) for r in rows}  # type: ignore[misc]


def record(con: duckdb.DuckDBPyConnection, alerts: Sequence[Alert],
           deliveries: Sequence[tuple[str, str, str, dt.datetime, dt.date | None]]) -> None:
    """Insert ``alerts`` and their outbox rows in one transaction.

    ``deliveries``: ``(alert_id, channel, recipient, due, digest_day)`` per outbox row.
    """
    if not alerts:
        return
    now = clock.naive_now()
    con.execute("BEGIN TRANSACTION")
    try:
        ensure_tables(con)
        for a in alerts:
            con.execute(
                f"INSERT INTO {ALERTS} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                [a.id, a.key, a.rule, a.kind, a.account_id, a.account_name, a.csm, a.severity, a.reason, a.mrr,
                 a.link, a.event, json.dumps(a.details, sort_keys=True, default=str), a.as_of,
                 a.raised_at.replace(tzinfo=None), a.status, None, None, None, None])
        for aid, channel, recipient, due, digest_day in deliveries:
            con.execute(f"INSERT INTO {OUTBOX} VALUES (?, ?, ?, ?, 'pending', 0, ?, NULL, NULL, ?, NULL, ?)",
                        [outbox_id(aid, channel, recipient), aid, channel, recipient,
                         due.replace(tzinfo=None), now, digest_day])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _alert(row: tuple[Any, ...]) -> Alert:
    d = dict(zip(COLUMNS, row, strict=True))
    d["details"] = json.loads(d["details"] or "{}")
    d.pop("key")
    return Alert(key=row[1], **d)


def get(con: duckdb.DuckDBPyConnection, ids: Sequence[str]) -> list[Alert]:
    """The alerts with these ids (in the order given; unknown ids left out)."""
    if not ids or not tables_exist(con):
        return []
    rows = con.execute(f"SELECT {', '.join(COLUMNS)} FROM {ALERTS} WHERE id IN (SELECT unnest(?))",
                       [list(ids)]).fetchall()
    by_id = {r[0]: _alert(r) for r in rows}
    return [by_id[i] for i in ids if i in by_id]


def list_alerts(con: duckdb.DuckDBPyConnection, status: str | None = None, csm: str | None = None,
                rule: str | None = None, account_id: str | None = None, today: dt.date | None = None) -> list[Alert]:
    """Stored alerts, newest first, with their deliveries; filtered by status, CSM, rule, account.

    A snooze whose day has passed shows as ``open``. ``status='failed'``
    selects alerts with at least one failed delivery.
    """
    if status is not None and status not in STATUSES:
        raise UsageError(f"--status {status!r}: expected one of {', '.join(STATUSES)}")
    if not tables_exist(con):
        return []
    today = today or clock.today()
    shown = "CASE WHEN status = 'snoozed' AND snoozed_until <= ? THEN 'open' ELSE status END"
    cols = ", ".join(shown if c == "status" else c for c in COLUMNS)
    where: list[str] = []
    args: list[Any] = [today]
    if status == "failed":
        where.append(f"id IN (SELECT alert_id FROM {OUTBOX} WHERE status = 'failed')")
    elif status is not None:
        where.append(f"({shown}) = ?")
        args += [today, status]
    for col, v in (("csm", csm), ("rule", rule), ("account_id", account_id)):
        if v is not None:
            where.append(f"{col} = ?")
            args.append(v)
    sql = f"SELECT {cols} FROM {ALERTS}" + (" WHERE " + " AND ".join(where) if where else "")
    alerts = [_alert(r) for r in con.execute(sql + " ORDER BY raised_at DESC, as_of DESC, id", args).fetchall()]
    by_id = {a.id: a for a in alerts}
    if by_id:
        for r in con.execute(f"SELECT alert_id, id, channel, recipient, status, attempts, next_attempt_at, "
                             f"last_error, sent_at FROM {OUTBOX} WHERE alert_id IN (SELECT unnest(?)) "
                             "ORDER BY channel, recipient", [list(by_id)]).fetchall():
            by_id[r[0]].deliveries.append({
                "id": r[1], "channel": r[2], "recipient": r[3], "status": r[4], "attempts": r[5],
                "next_attempt_at": r[6].isoformat() if r[6] else None, "last_error": r[7],
                "sent_at": r[8].isoformat() if r[8] else None})
    return alerts


def outbox_rows(con: duckdb.DuckDBPyConnection, status: str | None = None) -> list[dict[str, Any]]:
    """Outbox rows (all, or of one status), oldest first."""
    if not tables_exist(con):
        return []
    cols = ("id", "alert_id", "channel", "recipient", "status", "attempts", "next_attempt_at", "lease_until",
            "last_error", "created_at", "sent_at", "digest_day")
    sql = f"SELECT {', '.join(cols)} FROM {OUTBOX}" + (" WHERE status = ?" if status else "")
    rows = con.execute(sql + " ORDER BY created_at, id", [status] if status else []).fetchall()
    return [dict(zip(cols, r, strict=True)) for r in rows]


def _one(con: duckdb.DuckDBPyConnection, alert: str) -> None:
    if not tables_exist(con) or not con.execute(f"SELECT count(*) FROM {ALERTS} WHERE id = ?",
                                                [alert]).fetchone()[0]:  # type: ignore[index]
        raise UsageError(f"alert {alert!r} does not exist (see `csmetrics alerts list`)")


def acknowledge(con: duckdb.DuckDBPyConnection, alert: str, by: str) -> Alert:
    """Mark alert ``alert`` acknowledged by ``by`` (now); returns it."""
    _one(con, alert)
    con.execute(f"UPDATE {ALERTS} SET status = 'acknowledged', acknowledged_by = ?, acknowledged_at = ?, "
                "snoozed_until = NULL WHERE id = ?", [by, clock.naive_now(), alert])
    return get(con, [alert])[0]


def snooze(con: duckdb.DuckDBPyConnection, alert: str, until: dt.date, by: str) -> Alert:
    """Snooze alert ``alert`` until ``until`` (exclusive: open again on that day); no new alert of its rule
    for its account is raised before then. Returns it."""
    _one(con, alert)
    if until <= clock.today():
        raise UsageError(f"--until {until.isoformat()}: expected a day after today ({clock.today().isoformat()})")
    con.execute(f"UPDATE {ALERTS} SET status = 'snoozed', snoozed_until = ?, snoozed_by = ? WHERE id = ?",
                [until, by, alert])
    return get(con, [alert])[0]
