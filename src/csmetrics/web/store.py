"""The server's hold on one workspace: a read connection, one serialised writer, a result cache.

DuckDB allows one writing process per file, so the server opens the workspace
read-write once. Reads (metric queries, pages) go through the Ibis backend
under ``read_lock``; writes (survey answers, token checks) go through a second
DuckDB connection to the same database under ``write_lock`` and are committed
before the request is acknowledged. DuckDB's MVCC lets a read and a write run
at once. Every write bumps ``version``, which empties the result cache, so an
answer shows up in the metrics on the next request.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from csmetrics import surveys
from csmetrics.compute import Result, compute_dataset
from csmetrics.io.dataset import Dataset, ingest, open_workspace
from csmetrics.web import auth

T = TypeVar("T")


class Store:
    """One open workspace shared by all requests of a server process."""

    def __init__(self, workspace: Path, open_access: bool = False, tmpdir: Path | None = None,
                 read_only: bool = False) -> None:
        self.workspace = Path(workspace)
        self.open_access = open_access
        self.read_only = read_only
        self._tmpdir = tmpdir
        self.data_dir: Path | None = None
        """The data directory served with ``--data`` (where e.g. ``health.toml`` is read from)."""
        self.ds: Dataset = open_workspace(self.workspace, read_only=read_only)
        self.read_lock = threading.RLock()
        self.write_lock = threading.Lock()
        self.version = 0
        self._cache: dict[Any, Any] = {}
        self.writer: duckdb.DuckDBPyConnection = self.ds.backend.con.cursor()
        self.writer.execute("SET TimeZone = 'UTC'")
        self.survey_key = b""
        if not read_only:
            self.survey_key = surveys.load_key(self.workspace)
            with self.write_lock:
                auth.ensure_table(self.writer)
                surveys.ensure_tables(self.writer)
            self._refresh_tables()

    @classmethod
    def from_data(cls, data: Path, open_access: bool = False) -> Store:
        """Ingest a data directory into a temporary workspace (removed by :meth:`close`)."""
        tmp = Path(tempfile.mkdtemp(prefix="csmetrics-serve-"))
        ws = tmp / "workspace.duckdb"
        try:
            ingest(data, ws)
            store = cls(ws, open_access, tmp)
            store.data_dir = Path(data)
            return store
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    @property
    def tmpdir(self) -> Path | None:
        """The temporary directory of a ``--data`` workspace (removed by :meth:`close`), else None."""
        return self._tmpdir

    def close(self) -> None:
        with self.write_lock, self.read_lock:
            self.writer.close()
            self.ds.backend.disconnect()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)

    @property
    def config_source(self) -> str:
        """Where company files such as ``health.toml`` live: the data directory, else the workspace."""
        return str(self.data_dir) if self.data_dir is not None else self.ds.source

    # -- reads ---------------------------------------------------------------
    @contextmanager
    def reading(self) -> Iterator[Dataset]:
        with self.read_lock:
            yield self.ds

    def cached(self, key: Any, build: Callable[[], T]) -> T:
        """``build()`` under the read lock, memoised until the next write."""
        with self.read_lock:
            full = (self.version, key)
            if full in self._cache:
                return self._cache[full]  # type: ignore[no-any-return]
            value = build()
            if len(self._cache) > 256:
                self._cache.clear()
            self._cache[full] = value
            return value

    def compute(self, ds: Dataset | None = None, **kwargs: Any) -> Result:
        """compute_dataset on ``ds`` (default the workspace) under the read lock, without leaking temp tables."""
        with self.read_lock:
            try:
                return compute_dataset(ds or self.ds, **kwargs)
            finally:
                self.drop_temp_tables()

    def drop_temp_tables(self) -> None:
        """Drop the temp tables metric runs leave behind (PeriodContext caches building blocks in them)."""
        with self.read_lock:
            con = self.ds.backend.con
            names = con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE temporary AND table_name LIKE '\\_cs\\_%' ESCAPE '\\'"
            ).fetchall()
            for (name,) in names:
                con.execute(f'DROP TABLE IF EXISTS temp."{name}"')

    def _refresh_tables(self) -> None:
        with self.read_lock:
            if "survey_responses" not in self.ds.tables and "survey_responses" in self.ds.backend.list_tables():
                self.ds.tables["survey_responses"] = self.ds.backend.table("survey_responses")

    # -- writes --------------------------------------------------------------
    def write(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """Run ``fn(writer)`` as the only writer; invalidates cached results afterwards."""
        with self.write_lock:
            try:
                return fn(self.writer)
            finally:
                self.version += 1

    def check_token(self, token: str) -> bool:
        if self.read_only:
            return False
        with self.write_lock:
            return auth.check_token(self.writer, token)

    def create_token(self, name: str) -> str:
        with self.write_lock:
            token, _ = auth.create_token(self.writer, name)
            return token
