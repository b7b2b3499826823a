"""``csmetrics sources``: per source, its last sync, staleness, rows, and matched / unmatched records.

Matching is read live from the workspace, so it is right whatever order the
sources were synced in:

- **unmatched** records of a source are the accounts it created that no other
  system knows: rows of ``accounts`` whose ``source`` is still that source
  (a Zendesk organization no CRM company has taken over, a Stripe customer
  with no CRM account of the same key). Examples list up to five of them.
- **matched** are the other accounts it mapped: those some other system (the
  CRM, a CSV ingest) also holds.
- A CRM (``authority``) defines the accounts, so it has neither: both are
  shown as empty.

**Staleness** is the days since the last sync that changed the workspace,
measured against ``[sources.NAME] max_age_days`` (default 2): older is
``stale``, and the dashboard shows a banner.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb

from csmetrics import clock
from csmetrics.io.lock import attach_workspace
from csmetrics.schema.errors import UsageError
from csmetrics.sources import SOURCES
from csmetrics.sources.settings import DEFAULT_MAX_AGE_DAYS
from csmetrics.sources.workspace import STATE

EXAMPLES = 5


def status(workspace: str | Path, max_age: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """One dict per source landed in ``workspace`` (read-only), in the order of :data:`SOURCES`."""
    workspace = Path(workspace)
    if not workspace.exists():
        raise UsageError(f"workspace {workspace} does not exist")
    con = duckdb.connect()
    try:
        attach_workspace(con, workspace, read_only=True, writing=False)
        return status_of(con, "ws.", max_age)
    finally:
        con.close()


def status_of(con: duckdb.DuckDBPyConnection, prefix: str = "", max_age: dict[str, float] | None = None
              ) -> list[dict[str, Any]]:
    """:func:`status` on an open connection whose workspace tables are ``<prefix>name`` (the server's)."""
    db = prefix.rstrip(".") or None
    tables = {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE (? IS NULL AND database_name = current_database()) "
        "OR database_name = ?", [db, db]).fetchall()}
    if STATE not in tables:
        return []
    state: dict[str, dict[str, str]] = {}
    for source, key, value in con.execute(f"SELECT source, key, value FROM {prefix}{STATE} ORDER BY ALL").fetchall():
        state.setdefault(source, {})[key] = value
    owned: dict[str, tuple[int, list[str]]] = {}
    if "accounts" in tables:
        cols = {r[0] for r in con.execute(f"DESCRIBE {prefix}accounts").fetchall()}
        if "source" in cols:
            name = "name" if "name" in cols else "NULL"
            for source, n, examples in con.execute(f"""
                    SELECT source, count(*), list(account_id || coalesce(' (' || {name} || ')', '')
                                                  ORDER BY account_id)[1:{EXAMPLES}]
                    FROM {prefix}accounts WHERE source IS NOT NULL GROUP BY source""").fetchall():
                owned[source] = (int(n), list(examples))
    order = list(SOURCES) + sorted(set(state) - set(SOURCES))
    now = clock.now()
    out = []
    for source in order:
        st = state.get(source)
        if st is None:
            continue
        authority = st.get("authority") == "1"
        last = st.get("last_sync")
        age = (now - dt.datetime.fromisoformat(last)).total_seconds() / 86400 if last else None
        limit = (max_age or {}).get(source, DEFAULT_MAX_AGE_DAYS)
        newest = int(st.get("newest_object", "0") or 0)
        mapped_accounts = int(st.get("rows:accounts", "0"))
        n_unmatched, examples = owned.get(source, (0, []))
        row: dict[str, Any] = {
            "source": source,
            "last_sync": last,
            "staleness_days": None if age is None else round(age, 2),
            "max_age_days": limit,
            "stale": age is None or age > limit,
            "newest_object": dt.datetime.fromtimestamp(newest, dt.UTC).isoformat(timespec="seconds")
            if newest else None,
            "objects": int(st.get("objects", "0")),
        }
        for key in sorted(st):
            if key.startswith("rows:"):
                row[key.removeprefix("rows:")] = int(st[key])
        row["matched"] = None if authority else max(mapped_accounts - n_unmatched, 0)
        row["unmatched"] = None if authority else n_unmatched
        row["unmatched_examples"] = [] if authority else examples
        for key in sorted(st):
            if key.startswith("count:"):
                row[key.removeprefix("count:")] = int(st[key])
            elif key.startswith("json:"):
                row[key.removeprefix("json:")] = json.loads(st[key])
        out.append(row)
    return out


def max_ages(config: Path | None, strict: bool = True) -> dict[str, float]:
    """``max_age_days`` of every source, from the settings file ``config`` (default ./csmetrics.toml).

    ``strict``: a bad ``[sources.NAME]`` table raises its DataError (``csmetrics sources``); otherwise
    that source keeps the default age (the dashboard's banner: sync reports the bad setting).
    """
    from csmetrics.sources import available, connector

    out = {}
    for name in available():
        try:
            settings = connector(name).load_settings(config)
        except Exception:
            if strict:
                raise
            continue
        age = getattr(settings, "max_age_days", None)
        if age is not None:
            out[name] = float(age)
    return out


def stale_sources(con: duckdb.DuckDBPyConnection, prefix: str = "", max_age: dict[str, float] | None = None
                  ) -> list[dict[str, Any]]:
    """The sources whose last sync is older than their maximum age (the dashboard's banner)."""
    return [r for r in status_of(con, prefix, max_age) if r["stale"]]


__all__ = ["max_ages", "stale_sources", "status", "status_of"]
