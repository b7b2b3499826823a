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

**Who names an account.** A source built as the system of record for account
attributes (``authority``: the CRMs, HubSpot and Salesforce) wins over the
others: when it lands an account another source created (a help-desk
organization, a Stripe customer with the same key), the CRM's non-empty
values replace theirs and the row becomes the CRM's; a column the CRM leaves
empty keeps the value another source gave it (so a CSM removed in the CRM
stays until another value replaces it). A non-authority source
never overwrites an account stored by anyone else; it only fills empty
columns. So the order of syncs does not matter: HubSpot then Zendesk, or
Zendesk then HubSpot, end with HubSpot's names and CSMs.

Sources call :func:`land_objects` (raw objects -> map -> commit) or, for
row-shaped inputs with no vendor objects to keep (product events),
:func:`finish` on contract tables they built themselves.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
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
    authority: bool = False
    """The source is the system of record for account attributes (a CRM): see the module docs."""

    @property
    def raw(self) -> str:
        return raw_table(self.source)

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self.spill, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)


def open_landing(workspace: Path, source: str, config: Config | None = None, authority: bool = False) -> Landing:
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
    land = Landing(workspace, source, con, existed, cfg, tables, state, spill, authority=authority)
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
    replaced = ", ".join(lit(t) for t in replace_types)
    # (``type NOT IN (NULL)`` would be NULL: with nothing replaced, every stored object is kept.)
    kept = f"s.type NOT IN ({replaced})" if replaced else "TRUE"
    land.con.execute(f"""
        CREATE OR REPLACE TEMP TABLE raw_all AS
        SELECT * FROM stg
        UNION ALL
        SELECT s.* FROM stored s
        WHERE {kept}
          AND NOT EXISTS (SELECT 1 FROM stg g WHERE g.type = s.type AND g.parent = s.parent AND g.id = s.id)
    """)


def raw_changes(land: Landing) -> int:
    """Objects added, changed or removed by this landing."""
    # An object changed appears on both sides of the difference: counted once, by its key.
    row = land.con.execute("""
        SELECT count(DISTINCT (type, parent, id)) FROM (
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
        has_raw = con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = 'raw_all'"
                              ).fetchone()
        if has_raw and has_raw[0]:
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
    # A table without a primary key (usage_events): the source's rows are replaced as a whole.
    cond = " AND ".join(f"t.{q(k)} = s.{q(k)}" for k in key) or "FALSE"
    mine = f"t.source = {lit(land.source)}"
    if name == "accounts":
        attrs = [c for c in cols if c not in key and c != "source"]
        if land.authority:
            # The system of record's non-empty values win, on its own rows and on rows another source created;
            # a column it leaves empty keeps what is there (the other sources fill it).
            take = ", ".join([f"{q(c)} = coalesce(s.{q(c)}, t.{q(c)})" for c in attrs]
                             + [f"source = {lit(land.source)}"])
            con.execute(f"UPDATE {target} AS t SET {take} FROM {staged} AS s WHERE {cond}")
            con.execute(f"INSERT INTO {target} ({col_list}) SELECT {col_list} FROM {staged} s "
                        f"WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE {cond})")
            return
        # An account stored by another ingest keeps its values; it only gains the ones it lacks.
        fill = ", ".join(f"{q(c)} = coalesce(t.{q(c)}, s.{q(c)})" for c in attrs)
        if fill:
            con.execute(f"UPDATE {target} AS t SET {fill} FROM {staged} AS s "
                        f"WHERE {cond} AND t.source IS DISTINCT FROM {lit(land.source)}")
        con.execute(f"DELETE FROM {target} t WHERE {mine} AND EXISTS (SELECT 1 FROM {staged} s WHERE {cond})")
        con.execute(f"INSERT INTO {target} ({col_list}) SELECT {col_list} FROM {staged} s "
                    f"WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE {cond})")
        return
    con.execute(f"DELETE FROM {target} t WHERE {mine} OR EXISTS (SELECT 1 FROM {staged} s WHERE {cond})")
    con.execute(f"INSERT INTO {target} ({col_list}) SELECT {col_list} FROM {staged} ORDER BY {col_list}")


@dataclass
class Result:
    """What a sync or import did (printed by ``csmetrics sync`` / ``import``)."""

    changed: bool
    objects: int
    raw_changed: int
    rows: dict[str, int]
    matched: int
    unmatched: int
    notes: list[str] = field(default_factory=list)
    requests: int = 0
    seconds: float = 0.0


Mapper = Callable[[duckdb.DuckDBPyConnection, str], dict[str, str]]
"""A source's map: (connection, raw objects table) -> {contract table: temp table of its rows}."""


def count_rows(land: Landing, table: str, where: str = "TRUE") -> int:
    row = land.con.execute(f"SELECT count(*) FROM {q(table)} WHERE {where}").fetchone()
    return int(row[0]) if row else 0


def land_objects(land: Landing, objects: Iterable[RawObject], mapper: Mapper, *, replace: Iterable[str] = (),
                 cursors: dict[str, str] | None = None, requests: int = 0,
                 extra: Callable[[Landing, dict[str, str]], dict[str, str]] | None = None,
                 unmatched: Callable[[Landing, dict[str, str]], int] | None = None) -> Result:
    """Stage ``objects``, map every landed object with ``mapper`` and commit (or change nothing).

    ``cursors`` replace the stored ones (None keeps them: an import). ``extra``
    gives more state entries (``count:<name>`` ones are shown by ``csmetrics
    sources``); ``unmatched`` counts the mapped records that join no account of
    another source (default: mapped accounts minus matched ones).
    """
    t0 = time.perf_counter()
    stage(land, objects)
    build_raw_all(land, replace)
    changed_raw = raw_changes(land)
    mapped = mapper(land.con, "raw_all")
    state = {} if cursors is None else {f"cursor:{k}": v for k, v in cursors.items()}
    state.update(extra(land, mapped) if extra else {})
    newest = land.con.execute("SELECT max(created) FROM raw_all").fetchone()
    state["newest_object"] = str(newest[0] if newest and newest[0] else 0)
    result = finish(land, mapped, objects=count_rows(land, "raw_all"), raw_changed=changed_raw, state=state,
                    unmatched=unmatched(land, mapped) if unmatched else None, drop_cursors=cursors is not None,
                    requests=requests)
    result.seconds = time.perf_counter() - t0
    return result


def finish(land: Landing, mapped: dict[str, str], *, objects: int, raw_changed: int, state: dict[str, str],
           unmatched: int | None = None, drop_cursors: bool = False, requests: int = 0) -> Result:
    """Count, compare and commit mapped contract rows; nothing is written when nothing changed.

    ``state`` entries are stored with the source's figures (``objects``,
    ``matched``, ``unmatched``, ``rows:<table>``). ``last_sync`` is set only
    when the workspace changes.
    """
    counts = {t: count_rows(land, temp) for t, temp in mapped.items()}
    matched = matched_accounts(land, mapped["accounts"]) if "accounts" in mapped else 0
    if unmatched is None:
        unmatched = counts.get("accounts", 0) - matched
    keep = {k: v for k, v in land.state.items()
            if not k.startswith(("rows:", "count:", "digest:")) and not (drop_cursors and k.startswith("cursor:"))}
    new = {**keep, **state, "objects": str(objects), "matched": str(matched), "unmatched": str(unmatched),
           "authority": "1" if land.authority else "0"}
    new.update({f"rows:{t}": str(n) for t, n in counts.items()})
    if "accounts" in mapped:
        # Accounts are merged with other sources' (module docs), so the stored rows are not the mapped ones:
        # what the source produced is compared by an order-free hash instead.
        row = land.con.execute(f"SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0) FROM {q(mapped['accounts'])} t"
                               ).fetchone()
        new["digest:accounts"] = f"{row[0]}:{row[1]}" if row else ""
    others = {t: temp for t, temp in mapped.items() if t != "accounts"}
    same_state = new.keys() == land.state.keys() and all(
        land.state.get(k) == v for k, v in new.items() if k != "last_sync")
    if raw_changed == 0 and same_state and not contract_changes(land, others):
        return Result(False, objects, 0, counts, matched, unmatched, requests=requests)
    new["last_sync"] = now_iso()
    commit(land, mapped, new)
    return Result(True, objects, raw_changed, counts, matched, unmatched, requests=requests)


def stored_cursors(land: Landing) -> dict[str, str]:
    """The sync cursors the source stored at its last landing (``cursor:<name>`` state entries)."""
    return {k.removeprefix("cursor:"): v for k, v in land.state.items() if k.startswith("cursor:")}


def landed(workspace: str | Path, source: str, config: Config, run: Callable[[Landing], Result],
           authority: bool = False) -> Result:
    """``run(landing)`` on a landing of ``workspace`` opened for ``source`` and closed after, whatever
    happens; the result's ``seconds`` cover the whole of it (reading or fetching included)."""
    t0 = time.perf_counter()
    land = open_landing(Path(workspace), source, config, authority=authority)
    try:
        result = run(land)
    finally:
        land.close()
    result.seconds = time.perf_counter() - t0
    return result


def objects_to_data_dir(objects: Iterable[RawObject], out: Path, source: str, config: Config, mapper: Mapper,
                        authority: bool = False) -> dict[str, int]:
    """Map ``objects`` and write each contract table as ``out/<table>.csv`` (``import --out``, for
    ``csmetrics ingest``); rows per table. No workspace is read or written."""
    out = Path(out)
    land = open_landing(out / ".no-workspace.duckdb", source, config, authority=authority)
    try:
        stage(land, objects)
        build_raw_all(land)
        mapped = mapper(land.con, "raw_all")
        out.mkdir(parents=True, exist_ok=True)
        counts = {}
        for table, temp in mapped.items():
            land.con.execute(f"COPY {q(temp)} TO {lit(str(out / (table + '.csv')))} (HEADER, DELIMITER ',')")
            counts[table] = count_rows(land, temp)
        return counts
    finally:
        land.close()


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


__all__ = ["STATE", "Landing", "Mapper", "RawObject", "Result", "build_raw_all", "commit", "contract_changes",
           "count_rows", "finish", "land_objects", "landed", "matched_accounts", "now_iso", "objects_to_data_dir",
           "open_landing", "raw_changes", "raw_table", "read_state", "stage", "stored_cursors"]
