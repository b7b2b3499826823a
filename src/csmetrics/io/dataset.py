"""Reading a data directory or a workspace into Ibis tables.

A :class:`Dataset` is what every metric receives: typed Ibis tables on one
backend connection plus the company's settings. A data directory is validated
and loaded into an in-memory DuckDB; a workspace is a DuckDB file written by
:func:`ingest` (all-or-nothing, idempotent).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import threading
import weakref
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir

from csmetrics.config import Config, unsettled
from csmetrics.io.digest import ANCHORS, write_digest
from csmetrics.io.lock import attach_workspace, translate_lock_errors
from csmetrics.io.validate import ROW, SourceFile, drop_staged, find_files, lit, q, validate
from csmetrics.schema.errors import DataError, Defect, UsageError
from csmetrics.schema.tables import TABLE_ORDER, TABLES

DEFAULT_WORKSPACE = Path(".csmetrics") / "workspace.duckdb"
META = "_csmetrics_meta"


MEMORY_ENV = "CSMETRICS_DUCKDB_MEMORY_LIMIT"
DEFAULT_DUCKDB_MEMORY = "2GB"
SPILL_PREFIX = "csmetrics-duckdb-"


def duckdb_memory_limit(given: str | None = None) -> str:
    """``given``, else ``$CSMETRICS_DUCKDB_MEMORY_LIMIT``, else 2GB; checked to be a size."""
    limit = (given or os.environ.get(MEMORY_ENV) or DEFAULT_DUCKDB_MEMORY).strip()
    if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", limit, re.IGNORECASE):
        raise UsageError(f"{MEMORY_ENV}={limit!r}: expected a size such as 512MB or 4GB")
    return limit


def cap_memory(con: duckdb.DuckDBPyConnection, owner: object, memory_limit: str | None = None) -> Path:
    """Cap DuckDB's memory on ``con`` (:func:`duckdb_memory_limit`); above it, spill to a private directory.

    The directory is removed when ``owner`` is garbage-collected (or at exit);
    callers that finish earlier may remove it themselves. Returns it.
    """
    limit = duckdb_memory_limit(memory_limit)
    spill = Path(tempfile.mkdtemp(prefix=SPILL_PREFIX))
    weakref.finalize(owner, shutil.rmtree, str(spill), True)
    con.execute(f"SET memory_limit = {lit(limit)}")
    con.execute(f"SET temp_directory = {lit(str(spill))}")
    return spill


def duckdb_backend(path: str | Path = ":memory:", read_only: bool = False) -> Any:
    """An Ibis DuckDB backend whose session runs in UTC (SPEC section 5)."""
    con = ibis.duckdb.connect(str(path), read_only=read_only)
    con.raw_sql("SET TimeZone = 'UTC'")
    # DuckDB draws a progress bar on stdout for queries over 2 s: it would corrupt JSON and CSV output.
    con.raw_sql("SET enable_progress_bar = false")
    return con


@dataclass
class Dataset:
    """Typed input tables on one Ibis backend, plus the company settings."""

    backend: Any
    tables: dict[str, ir.Table]
    config: Config
    source: str
    extra_columns: dict[str, list[str]] = field(default_factory=dict)
    workspace: Path | None = None
    """The workspace file the tables are read from (None for a data directory or another engine)."""

    def has(self, name: str) -> bool:
        return name in self.tables

    def table(self, name: str) -> ir.Table:
        try:
            return self.tables[name]
        except KeyError:
            raise UsageError(f"table {name!r} is not in {self.source}") from None

    @property
    def account_columns(self) -> list[str]:
        return list(self.tables["accounts"].columns)


def _raw(backend: Any) -> duckdb.DuckDBPyConnection:
    return backend.con


def load_data_dir(data_dir: str | Path) -> Dataset:
    """Validate a data directory and load it into an in-memory DuckDB."""
    data_dir = Path(data_dir)
    files, config, settings_defects = _inputs(data_dir)
    backend = duckdb_backend()
    con = _raw(backend)
    try:
        cap_memory(con, backend)  # validation holds every cell as text: spill rather than exhaust memory
        extras = validate(con, files, config, settings_defects=settings_defects, clean="keys")
    except BaseException:
        backend.disconnect()
        raise
    tables: dict[str, ir.Table] = {}
    views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE temporary").fetchall()}
    for name in TABLE_ORDER:
        if name in files:
            if "raw_" + name in views:
                # A Parquet file, already typed and validated: read in place by every query (only the
                # columns it needs), never copied; the typed view casts and fills defaults on the way.
                con.execute(f"CREATE TEMP VIEW {q(name)} AS SELECT * EXCLUDE ({ROW}) FROM {q('typed_' + name)}")
            else:
                # Streamed from the typed view over the CSV's cells: the one copy.
                con.execute(f"CREATE TABLE {q(name)} AS SELECT * EXCLUDE ({ROW}) FROM {q('typed_' + name)}")
                drop_staged(con, name)
            tables[name] = backend.table(name)
    return Dataset(backend, tables, config, str(data_dir), extras)


def ingest(data_dir: str | Path, workspace: str | Path = DEFAULT_WORKSPACE) -> dict[str, dict[str, int]]:
    """Validate ``data_dir`` and upsert it into the workspace in one transaction.

    Keys are upserted (a re-ingest of the same files changes nothing); rows of
    ``usage_events``, which has no key, are added only if not already present.
    Children may refer to accounts stored by an earlier ingest. A directory
    without ``csmetrics.toml`` keeps the workspace's settings; one with it
    must not change the base currency. On any defect nothing is written: the
    workspace file is opened read-only while validating, and a workspace that
    did not exist before is not left behind. Returns, per table, the number of
    rows read and the rows now stored.
    """
    data_dir, workspace = Path(data_dir), Path(workspace)
    files, config, settings_defects = _inputs(data_dir)
    existed = workspace.exists()
    con = duckdb.connect()
    spill: Path | None = None
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")  # DuckDB would draw it for every long statement
        spill = cap_memory(con, con)
        existing: dict[str, str] = {}
        if existed:
            config, existing = _attach_existing(con, workspace, data_dir, config, unsettled(settings_defects))
        validate(con, files, config, existing, settings_defects)
        if existed:
            con.execute("DETACH ws")
        workspace.parent.mkdir(parents=True, exist_ok=True)
        attach_workspace(con, workspace)
        # Rows are stored in no particular order (every reader sorts what it needs): DuckDB then
        # writes a table from both threads at once instead of keeping the file's order.
        con.execute("SET preserve_insertion_order = false")
        con.execute("SET disabled_compression_methods = 'fsst'")
        try:
            counts = _write(con, files, config, not existed)
        except BaseException:
            con.close()
            if not existed:
                for leftover in (workspace, workspace.with_name(workspace.name + ".wal")):
                    leftover.unlink(missing_ok=True)
            raise
    finally:
        con.close()
        if spill is not None:
            shutil.rmtree(spill, ignore_errors=True)
    return counts


def _inputs(data_dir: Path) -> tuple[dict[str, SourceFile], Config, list[Defect]]:
    """The table files, the settings and the settings' defects of a data directory.

    A missing accounts file is reported together with the defects of csmetrics.toml.
    """
    config, settings_defects = Config.read(data_dir)
    try:
        files = find_files(data_dir)
    except DataError as exc:
        raise DataError(settings_defects + exc.defects) from None
    return files, config, settings_defects


def _attach_existing(
    con: duckdb.DuckDBPyConnection, workspace: Path, data_dir: Path, config: Config,
    unsure: set[str] | None = None,
) -> tuple[Config, dict[str, str]]:
    """Attach a workspace read-only; its tables (for foreign keys) and the settings to validate with."""
    try:
        attach_workspace(con, workspace, read_only=True)
    except duckdb.Error as exc:
        msg = str(exc).splitlines()[0]
        defect = Defect(str(workspace), None, None, None, f"could not be opened as a workspace: {msg}")
        raise DataError([defect]) from exc
    present = {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = 'ws'").fetchall()}
    existing = {t: f"ws.{q(t)}" for t in TABLE_ORDER if t in present}
    if META in present:
        stored = dict(con.execute(f"SELECT key, value FROM ws.{META}").fetchall())
        old = json.loads(stored.get("config", "{}"))
        if old and not (data_dir / "csmetrics.toml").exists():
            config = Config(**old)
        elif old and "base_currency" not in (unsure or set()) and old.get("base_currency") != config.base_currency:
            raise DataError([Defect("csmetrics.toml", None, "base_currency", config.base_currency,
                                    f"differs from the workspace's {old.get('base_currency')} "
                                    "(expected the same base currency)", column_kind="setting")])
    return config, existing


def _write(con: duckdb.DuckDBPyConnection, files: dict[str, Any], config: Config,
           fresh: bool = False) -> dict[str, dict[str, int]]:
    """Upsert the validated ``typed_<table>`` tables into ``ws`` in one transaction.

    Into a ``fresh`` workspace (one this ingest creates, removed if it fails) the tables are
    written by :func:`_write_at_once` first, then the counts, digest and settings in that transaction.
    """
    counts: dict[str, dict[str, int]] = {}
    written = _write_at_once(con, files) if fresh else set()
    con.execute("BEGIN TRANSACTION")
    try:
        present = {r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'ws'").fetchall()}
        for name in TABLE_ORDER:
            if name not in files:
                continue
            staged = q("typed_" + name)
            if name not in written:
                _write_table(con, name, name in present)
            read = con.execute(f"SELECT count(*) FROM {staged}").fetchone()
            stored = con.execute(f"SELECT count(*) FROM ws.{q(name)}").fetchone()
            counts[name] = {"read": int(read[0]) if read else 0, "stored": int(stored[0]) if stored else 0}
        present |= set(files)
        # Extra columns of the stored tables: those of earlier ingests stay too.
        extras = {}
        for name in TABLE_ORDER:
            if name in present:
                stored_cols = [r[0] for r in con.execute(f"DESCRIBE ws.{q(name)}").fetchall()]
                extras[name] = [c for c in stored_cols if c not in TABLES[name].column_names]
        write_digest(con, [n for n in TABLE_ORDER if n in present], prefix="ws.")
        con.execute(f"CREATE TABLE IF NOT EXISTS ws.{META} (key VARCHAR PRIMARY KEY, value VARCHAR)")
        con.execute(f"INSERT OR REPLACE INTO ws.{META} VALUES ('config', ?)", [json.dumps(config.to_dict())])
        con.execute(f"INSERT OR REPLACE INTO ws.{META} VALUES ('extra_columns', ?)", [json.dumps(extras)])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return counts


def _write_table(con: duckdb.DuckDBPyConnection, name: str, present: bool) -> None:
    """Upsert ``typed_<name>`` into ``ws.<name>`` (created if not ``present``), in the caller's transaction."""
    staged = q("typed_" + name)
    target = f"ws.{q(name)}"
    cols = [r[0] for r in con.execute(f"DESCRIBE {staged}").fetchall() if r[0] != ROW]
    if not present:
        con.execute(f"CREATE TABLE {target} AS SELECT * EXCLUDE ({ROW}) FROM {staged} LIMIT 0")
    else:
        have = {r[0]: r[1] for r in con.execute(f"DESCRIBE {target}").fetchall()}
        types = {r[0]: r[1] for r in con.execute(f"DESCRIBE {staged}").fetchall()}
        for c in cols:
            if c not in have:
                con.execute(f"ALTER TABLE {target} ADD COLUMN {q(c)} {types[c]}")
    col_list = ", ".join(q(c) for c in cols)
    key = TABLES[name].primary_key
    if key:
        cond = " AND ".join(f"t.{q(k)} = s.{q(k)}" for k in key)
        if present:  # (a new table has nothing to replace: no pass over the staged rows)
            con.execute(f"DELETE FROM {target} t WHERE EXISTS (SELECT 1 FROM {staged} s WHERE {cond})")
        con.execute(f"INSERT INTO {target} ({col_list}) SELECT {col_list} FROM {staged}")
        return
    stored_before = con.execute(f"SELECT count(*) FROM {target}").fetchone() if present else None
    if stored_before and stored_before[0]:
        _insert_new(con, target, staged, cols, ANCHORS.get(name))
    else:
        _insert_distinct(con, target, staged, cols)


def _write_at_once(con: duckdb.DuckDBPyConnection, files: dict[str, Any]) -> set[str]:
    """Write the tables of a fresh workspace two at a time, each in its own transaction; returns their names.

    DuckDB reads a Parquet row group on one thread, so a table of one row group (a pyarrow
    file of up to a million rows) is written on one core: the subscriptions of a 200k-account
    company took 0.9 s with the other core idle. Here each table is written on a cursor of its
    own, which sees the staged views re-created from their SQL. Only when every staged table is
    such a view (CSV read into a temporary table is written in the one transaction) and only
    into a workspace this ingest creates: if anything fails, :func:`ingest` removes the file, so
    no reader ever sees some tables without the others.
    """
    names = [n for n in TABLE_ORDER if n in files]
    rows = con.execute("SELECT view_name, sql FROM duckdb_views() WHERE temporary AND NOT internal").fetchall()
    views = {name: sql for name, sql in rows}
    if not names or any(f"raw_{n}" not in views or f"typed_{n}" not in views for n in names):
        return set()
    zone = con.execute("SELECT current_setting('TimeZone')").fetchone()
    # Largest first, so that the long one (usage, on both cores) overlaps the small ones.
    names.sort(key=lambda n: files[n].path.stat().st_size if files[n].path.is_file() else 0, reverse=True)
    cursors: list[duckdb.DuckDBPyConnection] = []
    lock = threading.Lock()

    def write(name: str) -> None:
        cur = con.cursor()
        with lock:
            cursors.append(cur)
        try:
            if zone is not None:
                cur.execute(f"SET TimeZone = {lit(str(zone[0]))}")
            cur.execute(views[f"raw_{name}"])
            cur.execute(views[f"typed_{name}"])
            cur.execute("BEGIN TRANSACTION")
            try:
                _write_table(cur, name, False)
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        finally:
            cur.close()

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="csmetrics-ingest") as pool:
        futures = [pool.submit(write, n) for n in names]
        try:
            for f in futures:
                f.result()
        except BaseException:
            for f in futures:
                f.cancel()
            with lock:
                for cur in cursors:
                    with contextlib.suppress(duckdb.Error):
                        cur.interrupt()
            raise
    return set(names)


def _insert_new(con: duckdb.DuckDBPyConnection, target: str, staged: str, cols: list[str],
                anchor: str | None) -> None:
    """Add to the non-empty ``target`` the distinct rows of ``staged`` it does not hold yet.

    De-duplicated with a grouped DISTINCT and an anti-join, which DuckDB spills
    to disk when they outgrow the memory cap (a set EXCEPT over hundreds of
    millions of usage events cannot). A stored row can only equal a new one if
    its ``anchor`` time (``occurred_at``) lies within the new rows' range, so
    the anti-join reads only those stored rows: for a one-day delta feed, the
    row groups of that day (DuckDB skips the others by their min/max), not
    years of events.
    """
    col_list = ", ".join(q(c) for c in cols)
    same = " AND ".join(f"t.{q(c)} IS NOT DISTINCT FROM s.{q(c)}" for c in cols)
    stored, params = target, []
    if anchor is not None and anchor in cols:
        span = con.execute(f"SELECT min({q(anchor)}), max({q(anchor)}), count({q(anchor)}) = count(*) "
                           f"FROM {staged}").fetchone()
        if span is not None and span[2] and span[0] is not None:
            # (Only when no new row lacks its anchor: NULL would match a stored NULL outside any range.)
            stored, params = f"(SELECT * FROM {target} WHERE {q(anchor)} BETWEEN ? AND ?)", [span[0], span[1]]
    con.execute(f"INSERT INTO {target} ({col_list}) SELECT DISTINCT {col_list} FROM {staged} AS s "
                f"WHERE NOT EXISTS (SELECT 1 FROM {stored} AS t WHERE {same})", params)


def _insert_distinct(con: duckdb.DuckDBPyConnection, target: str, staged: str, cols: list[str]) -> None:
    """Fill the empty ``target`` with the distinct rows of ``staged``, streaming.

    A hash of each row, sorted, finds the hashes that repeat (in real
    exports few or none); rows with any other hash are unique and go in as they
    come, without a DISTINCT holding every row in a hash table, and only the
    rows with a repeated hash are de-duplicated. (Deleting the copies after
    inserting them made the commit rewrite the table.)
    """
    col_list = ", ".join(q(c) for c in cols)
    row_hash = f"hash({col_list})"
    # (Sorted, each hash meets its copies next to it: at 20M rows twice as fast as grouping 20M distinct hashes.)
    repeated = (f"SELECT DISTINCT h FROM (SELECT h, lag(h) OVER (ORDER BY h) AS before "
                f"FROM (SELECT {row_hash} AS h FROM {staged})) WHERE h = before")
    con.execute(f"CREATE OR REPLACE TEMP TABLE __repeated AS {repeated}")
    try:
        if con.execute("SELECT count(*) FROM __repeated").fetchone() == (0,):
            con.execute(f"INSERT INTO {target} ({col_list}) SELECT {col_list} FROM {staged}")
            return
        con.execute(f"INSERT INTO {target} ({col_list}) SELECT {col_list} FROM {staged} "
                    f"WHERE {row_hash} NOT IN (SELECT h FROM __repeated)")
        con.execute(f"INSERT INTO {target} ({col_list}) SELECT DISTINCT {col_list} FROM {staged} "
                    f"WHERE {row_hash} IN (SELECT h FROM __repeated)")
    finally:
        con.execute("DROP TABLE __repeated")


def open_workspace(workspace: str | Path = DEFAULT_WORKSPACE, read_only: bool = True) -> Dataset:
    """Open a workspace written by :func:`ingest`.

    While another process holds the file (``csmetrics serve``), DuckDB refuses
    even a read-only open: that is :class:`~csmetrics.schema.errors.WorkspaceInUse`.
    """
    workspace = Path(workspace)
    if not workspace.exists():
        raise UsageError(f"workspace {workspace} does not exist: run `csmetrics ingest --data DIR` first")
    with translate_lock_errors(workspace, writing=not read_only):
        backend = duckdb_backend(workspace, read_only=read_only)
    cap_memory(backend.con, backend)
    names = set(backend.list_tables())
    if "accounts" not in names:
        raise UsageError(f"workspace {workspace} has no accounts table: run `csmetrics ingest --data DIR` first")
    config = Config()
    extras: dict[str, list[str]] = {}
    if META in names:
        stored = dict(_raw(backend).execute(f"SELECT key, value FROM {META}").fetchall())
        config = Config(**json.loads(stored.get("config", "{}")))
        extras = json.loads(stored.get("extra_columns", "{}"))
    tables = {n: backend.table(n) for n in TABLE_ORDER if n in names}
    return Dataset(backend, tables, config, str(workspace), extras, workspace=workspace)


def open_source(data: str | Path | None = None, workspace: str | Path | None = None) -> Dataset:
    """The dataset named by the CLI's ``--data`` or ``--workspace`` (default workspace)."""
    if data is not None and workspace is not None:
        raise UsageError("give --data or --workspace, not both")
    if data is not None:
        return load_data_dir(data)
    return open_workspace(workspace or DEFAULT_WORKSPACE)


@contextmanager
def opened(data: str | Path | None = None, workspace: str | Path | None = None) -> Iterator[Dataset]:
    ds = open_source(data, workspace)
    try:
        yield ds
    finally:
        ds.backend.disconnect()
