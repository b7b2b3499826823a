"""Landing a source's raw objects and contract rows in a workspace: validated, in one transaction.

The same path for every source (``sync`` and ``import``):

1. the workspace is attached read-only; its stored raw objects, cursors and
   settings are read;
2. the source stages new raw objects (temp table ``stg``: type, id, parent,
   created, body) and maps the union of stored and staged objects to contract
   tables (temp tables);
3. the contract rows are written as Parquet and checked by the validation of
   ``csmetrics ingest`` (:func:`csmetrics.io.validate.validate`), with the
   workspace's accounts and fx rates as parents;
4. only then is the workspace attached for writing, and raw objects,
   contract rows, digests, settings and cursors change in one transaction.

A failure before step 4 leaves the file untouched (it was only read); one in
step 4 rolls back. When nothing changed (no new or changed raw object, the
same contract rows, the same cursors) nothing is written at all, so the file
stays byte-for-byte the same.

Contract rows of a source carry ``source = '<name>'``. Its subscriptions and
charges are replaced as a set (rows no longer produced are removed); its
accounts are upserted, except that an account already stored by another
ingest keeps its values and only gains those it lacks; other tables and other
sources' rows are untouched.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from csmetrics import clock
from csmetrics.config import Config
from csmetrics.io.dataset import META, cap_memory
from csmetrics.io.digest import write_digest
from csmetrics.io.lock import attach_workspace
from csmetrics.io.validate import ROW, SourceFile, lit, q, validate
from csmetrics.schema.errors import DataError, Defect
from csmetrics.schema.tables import TABLE_ORDER, TABLES

STATE = "_csmetrics_sources"
"""Per source: cursors and the figures ``csmetrics sources`` shows (source, key, value)."""

RAW_COLUMNS = "type VARCHAR, id VARCHAR, parent VARCHAR, created BIGINT, body VARCHAR"


@dataclass(frozen=True)
class RawObject:
    """One vendor object as landed: ``body`` is canonical JSON text (sorted keys, no spaces).

    ``parent`` is the object it was paged under (an invoice line's invoice), else ''.
    """

    type: str
    id: str
    parent: str
    created: int
    body: str


def raw_table(source: str) -> str:
    return f"_{source}_objects"


@dataclass
class Landing:
    """An open landing: a private DuckDB connection with the workspace attached read-only as ``ws``."""

    workspace: Path
    source: str
    con: duckdb.DuckDBPyConnection
    existed: bool
    config: Config
    tables: set[str]
    state: dict[str, str]
    spill: Path
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="csmetrics-source-")))

    @property
    def raw(self) -> str:
        return raw_table(self.source)

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self.spill, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)


def open_landing(workspace: Path, source: str, config: Config | None = None) -> Landing:
    """Attach ``workspace`` read-only (when it exists) on a new connection; read its state."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    spill = cap_memory(con, con)
    existed = workspace.exists()
    tables: set[str] = set()
    state: dict[str, str] = {}
    stored_config: dict[str, Any] = {}
    try:
        if existed:
            try:
                attach_workspace(con, workspace, read_only=True)
            except duckdb.Error as exc:
                msg = str(exc).splitlines()[0]
                raise DataError([Defect(str(workspace), None, None, None,
                                        f"could not be opened as a workspace: {msg}")]) from exc
            tables = {r[0] for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = 'ws'").fetchall()}
            if STATE in tables:
                state = dict(con.execute(f"SELECT key, value FROM ws.{STATE} WHERE source = ?", [source]).fetchall())
            if META in tables:
                meta = dict(con.execute(f"SELECT key, value FROM ws.{META}").fetchall())
                stored_config = json.loads(meta.get("config", "{}"))
    except BaseException:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)
        raise
    cfg = Config(**stored_config) if stored_config else (config or Config())
    land = Landing(workspace, source, con, existed, cfg, tables, state, spill)
    raw = land.raw
    if raw in tables:
        con.execute(f"CREATE TEMP TABLE stored AS SELECT * FROM ws.{q(raw)}")
    else:
        con.execute(f"CREATE TEMP TABLE stored ({RAW_COLUMNS})")
    con.execute(f"CREATE TEMP TABLE stg ({RAW_COLUMNS})")
    return land


def stage(land: Landing, objects: Iterable[RawObject]) -> None:
    """Add raw objects to ``stg`` (a later object with the same key replaces an earlier one)."""
    cols: dict[str, list[Any]] = {"type": [], "id": [], "parent": [], "created": [], "body": []}
    for o in objects:
        cols["type"].append(o.type)
        cols["id"].append(o.id)
        cols["parent"].append(o.parent)
        cols["created"].append(o.created)
        cols["body"].append(o.body)
    if not cols["id"]:
        return
    arrow = pa.table({"type": pa.array(cols["type"], pa.string()), "id": pa.array(cols["id"], pa.string()),
                      "parent": pa.array(cols["parent"], pa.string()),
                      "created": pa.array(cols["created"], pa.int64()), "body": pa.array(cols["body"], pa.string())})
    land.con.register("__stage", arrow)
    try:
        land.con.execute("DELETE FROM stg WHERE (type, parent, id) IN (SELECT (type, parent, id) FROM __stage)")
        land.con.execute("INSERT INTO stg SELECT * FROM __stage")
    finally:
        land.con.unregister("__stage")


def build_raw_all(land: Landing, replace_types: Iterable[str] = ()) -> None:
    """Temp table ``raw_all``: staged objects, plus stored ones not restaged.

    Stored objects of ``replace_types`` (types re-listed in full) are dropped
    unless staged again: an object deleted at the vendor disappears.
    """
    replaced = ", ".join(lit(t) for t in replace_types) or "NULL"
    land.con.execute(f"""
        CREATE OR REPLACE TEMP TABLE raw_all AS
        SELECT * FROM stg
        UNION ALL
        SELECT s.* FROM stored s
        WHERE s.type NOT IN ({replaced})
          AND NOT EXISTS (SELECT 1 FROM stg g WHERE g.type = s.type AND g.parent = s.parent AND g.id = s.id)
    """)


def raw_changes(land: Landing) -> int:
    """Objects added, changed or removed by this landing."""
    row = land.con.execute("""
        SELECT count(*) FROM (
            (SELECT type, parent, id, body FROM raw_all EXCEPT SELECT type, parent, id, body FROM stored)
            UNION ALL
            (SELECT type, parent, id, body FROM stored EXCEPT SELECT type, parent, id, body FROM raw_all))
    """).fetchone()
    return int(row[0]) if row else 0


def _stored_rows(land: Landing, table: str, cols: list[str]) -> str | None:
    if table not in land.tables:
        return None
    have = {r[0] for r in land.con.execute(f"DESCRIBE ws.{q(table)}").fetchall()}
    if "source" not in have or not set(cols) <= have:
        return None
    return f"SELECT {', '.join(q(c) for c in cols)} FROM ws.{q(table)} WHERE source = {lit(land.source)}"


def contract_changes(land: Landing, mapped: dict[str, str]) -> bool:
    """Whether the mapped rows differ from the source's rows stored in the workspace."""
    for table, temp in mapped.items():
        cols = [r[0] for r in land.con.execute(f"DESCRIBE {q(temp)}").fetchall()]
        stored = _stored_rows(land, table, cols)
        n_new = land.con.execute(f"SELECT count(*) FROM {q(temp)}").fetchone()
        if stored is None:
            if n_new and n_new[0]:
                return True
            continue
        cast = ", ".join(f"CAST({q(c)} AS VARCHAR)" for c in cols)
        diff = land.con.execute(f"""
            SELECT count(*) FROM (
                (SELECT {cast} FROM {q(temp)} EXCEPT SELECT {cast} FROM ({stored}))
                UNION ALL
                (SELECT {cast} FROM ({stored}) EXCEPT SELECT {cast} FROM {q(temp)}))
        """).fetchone()
        if diff and diff[0]:
            return True
    return False


def _validate(land: Landing, mapped: dict[str, str]) -> dict[str, SourceFile]:
    """Write the mapped tables as Parquet and validate them as ``csmetrics ingest`` would."""
    files: dict[str, SourceFile] = {}
    for table, temp in mapped.items():
        path = land.tmp / f"{table}.parquet"
        land.con.execute(f"COPY {q(temp)} TO {lit(str(path))} (FORMAT parquet)")
        files[table] = SourceFile(table, path)
    existing = {t: f"ws.{q(t)}" for t in TABLE_ORDER if t in land.tables}
    try:
        validate(land.con, files, land.config, existing)
    except DataError as exc:
        raise DataError([_locate(land, mapped, d) for d in exc.defects], exc.truncated) from None
    return files


def _locate(land: Landing, mapped: dict[str, str], d: Defect) -> Defect:
    """A defect in a mapped table, named after the vendor's objects the row came from."""
    table = d.file.removesuffix(".parquet")
    if table not in mapped:
        return d
    expected = d.expected
    if d.row is not None:
        temp = mapped[table]
        cols = {r[0] for r in land.con.execute(f"DESCRIBE {q(temp)}").fetchall()}
        ids = [c for c in ("stripe_lines", "stripe_charge", "stripe_invoice", "stripe_customer_id") if c in cols]
        if ids:
            found = land.con.execute(
                f"SELECT {', '.join(q(c) for c in ids)} FROM (SELECT *, row_number() OVER () + 1 AS __n "
                f"FROM {q(temp)}) WHERE __n = ?", [d.row]).fetchone()
            shown = "; ".join(f"{c} {v}" for c, v in zip(ids, found or (), strict=False) if v)
            if shown:
                expected += f" [from {land.source}: {shown}]"
    return Defect(f"{table} mapped from {land.source}", d.row, d.column, d.value, expected, d.column_kind)


def commit(land: Landing, mapped: dict[str, str], state: dict[str, str]) -> dict[str, int]:
    """Validate the mapped rows, then write raw objects, contract rows and state in one transaction.

    Returns the rows now stored per contract table.
    """
    files = _validate(land, mapped)
    con = land.con
    if land.existed:
        con.execute("DETACH ws")
    land.workspace.parent.mkdir(parents=True, exist_ok=True)
    attach_workspace(con, land.workspace)
    try:
        counts = _write(land, files, state)
    except BaseException:
        con.close()
        if not land.existed:
            for leftover in (land.workspace, land.workspace.with_name(land.workspace.name + ".wal")):
                leftover.unlink(missing_ok=True)
        raise
    return counts


def _write(land: Landing, files: dict[str, SourceFile], state: dict[str, str]) -> dict[str, int]:
    con = land.con
    con.execute("BEGIN TRANSACTION")
    try:
        present = {r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'ws'").fetchall()}
        raw = f"ws.{q(land.raw)}"
        con.execute(f"CREATE TABLE IF NOT EXISTS {raw} ({RAW_COLUMNS}, PRIMARY KEY (type, parent, id))")
        con.execute(f"DELETE FROM {raw}")
        con.execute(f"INSERT INTO {raw} SELECT * FROM raw_all ORDER BY type, parent, id")
        counts: dict[str, int] = {}
        for name in TABLE_ORDER:
            if name not in files:
                continue
            _upsert(land, name, present)
            n = con.execute(f"SELECT count(*) FROM ws.{q(name)}").fetchone()
            counts[name] = int(n[0]) if n else 0
        extras = {}
        tables = [n for n in TABLE_ORDER if n in files or n in present]
        for name in tables:
            stored_cols = [r[0] for r in con.execute(f"DESCRIBE ws.{q(name)}").fetchall()]
            extras[name] = [c for c in stored_cols if c not in TABLES[name].column_names]
        write_digest(con, tables, prefix="ws.")
        con.execute(f"CREATE TABLE IF NOT EXISTS ws.{META} (key VARCHAR PRIMARY KEY, value VARCHAR)")
        con.execute(f"INSERT OR REPLACE INTO ws.{META} VALUES ('config', ?)", [json.dumps(land.config.to_dict())])
        con.execute(f"INSERT OR REPLACE INTO ws.{META} VALUES ('extra_columns', ?)", [json.dumps(extras)])
        con.execute(f"CREATE TABLE IF NOT EXISTS ws.{STATE} (source VARCHAR, key VARCHAR, value VARCHAR, "
                    "PRIMARY KEY (source, key))")
        con.execute(f"DELETE FROM ws.{STATE} WHERE source = ?", [land.source])
        rows = [(land.source, k, v) for k, v in sorted(state.items())]
        if rows:
            con.executemany(f"INSERT INTO ws.{STATE} VALUES (?, ?, ?)", rows)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return counts


def _upsert(land: Landing, name: str, present: set[str]) -> None:
    """Rule: the source's subscriptions and charges are replaced as a set; accounts are merged."""
    con = land.con
    staged = q("typed_" + name)
    target = f"ws.{q(name)}"
    types = {r[0]: r[1] for r in con.execute(f"DESCRIBE {staged}").fetchall() if r[0] != ROW}
    cols = list(types)
    if name not in present:
        con.execute(f"CREATE TABLE {target} AS SELECT * EXCLUDE ({ROW}) FROM {staged} LIMIT 0")
    else:
        have = {r[0] for r in con.execute(f"DESCRIBE {target}").fetchall()}
        for c in cols:
            if c not in have:
                con.execute(f"ALTER TABLE {target} ADD COLUMN {q(c)} {types[c]}")
    col_list = ", ".join(q(c) for c in cols)
    key = TABLES[name].primary_key
    cond = " AND ".join(f"t.{q(k)} = s.{q(k)}" for k in key)
    mine = f"t.source = {lit(land.source)}"
    if name == "accounts":
        # An account stored by another ingest keeps its values; it only gains the ones it lacks.
        fill = ", ".join(f"{q(c)} = coalesce(t.{q(c)}, s.{q(c)})" for c in cols
                         if c not in key and c != "source")
        con.execute(f"UPDATE {target} AS t SET {fill} FROM {staged} AS s "
                    f"WHERE {cond} AND t.source IS DISTINCT FROM {lit(land.source)}")
        con.execute(f"DELETE FROM {target} t WHERE {mine} AND EXISTS (SELECT 1 FROM {staged} s WHERE {cond})")
        con.execute(f"INSERT INTO {target} ({col_list}) SELECT {col_list} FROM {staged} s "
                    f"WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE {cond})")
        return
    con.execute(f"DELETE FROM {target} t WHERE {mine} OR EXISTS (SELECT 1 FROM {staged} s WHERE {cond})")
    con.execute(f"INSERT INTO {target} ({col_list}) SELECT {col_list} FROM {staged} ORDER BY {col_list}")


def matched_accounts(land: Landing, accounts: str) -> int:
    """Mapped accounts that join an account another ingest already stored (e.g. from the CRM)."""
    if "accounts" not in land.tables:
        return 0
    have = {r[0] for r in land.con.execute("DESCRIBE ws.accounts").fetchall()}
    other = "t.source IS DISTINCT FROM " + lit(land.source) if "source" in have else "TRUE"
    row = land.con.execute(f"SELECT count(*) FROM {q(accounts)} s JOIN ws.accounts t USING (account_id) "
                           f"WHERE {other}").fetchone()
    return int(row[0]) if row else 0


def read_state(workspace: Path) -> dict[str, dict[str, str]]:
    """Every source's state in a workspace (empty when it has none). Read-only."""
    if not workspace.exists():
        return {}
    con = duckdb.connect()
    try:
        attach_workspace(con, workspace, read_only=True, writing=False)
        found = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = 'ws' AND table_name = ?",
                            [STATE]).fetchone()
        if not found or not found[0]:
            return {}
        out: dict[str, dict[str, str]] = {}
        for source, key, value in con.execute(f"SELECT source, key, value FROM ws.{STATE} ORDER BY ALL").fetchall():
            out.setdefault(source, {})[key] = value
        return out
    finally:
        con.close()


def now_iso() -> str:
    return clock.now().isoformat(timespec="seconds")


__all__ = ["STATE", "Landing", "RawObject", "build_raw_all", "commit", "contract_changes", "matched_accounts",
           "now_iso", "open_landing", "raw_changes", "raw_table", "read_state", "stage"]
