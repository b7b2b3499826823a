"""The server's hold on one workspace: a read connection, one serialised writer, a result cache.

DuckDB allows one writing process per file, so the server opens the workspace
read-write once. Reads (metric queries, pages) go through the Ibis backend
under ``read_lock``; writes (survey answers, token checks) go through a second
DuckDB connection to the same database under ``write_lock`` and are committed
before the request is acknowledged. DuckDB's MVCC lets a read and a write run
at once. Every write bumps ``version``, which empties the result cache, so an
answer shows up in the metrics on the next request.

The server is the workspace's single writer: :meth:`Store.ingest` (``POST
/api/v1/ingest``) closes both connections, runs the same all-or-nothing
:func:`~csmetrics.io.dataset.ingest` as the CLI on the file, and reopens it,
holding both locks throughout (requests wait; nothing reads a half-written
workspace), then empties the cache.

A request reads through a :class:`View`: the store as one role sees it (see
:mod:`csmetrics.web.scope`). A CSM's view has the book's tables as ``ds`` and
its own part of the result cache.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pandas as pd

from csmetrics import clock, surveys
from csmetrics.compute import Result, compute_dataset
from csmetrics.io.dataset import META, Dataset, ingest, open_workspace
from csmetrics.io.digest import DIGEST
from csmetrics.schema.errors import UsageError
from csmetrics.web import audit, auth
from csmetrics.web.ratelimit import FailureLimiter
from csmetrics.web.scope import ADMIN, Scope, scoped_dataset

T = TypeVar("T")
log = logging.getLogger(__name__)


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
        self.read_lock = threading.RLock()
        self.write_lock = threading.Lock()
        self.version = 0
        self._cache: dict[Any, Any] = {}
        self._scoped: dict[Any, Dataset] = {}
        self.limiter = FailureLimiter()
        """Failed sign-ins per client address and token id (see :mod:`csmetrics.web.ratelimit`)."""
        self._used: set[tuple[str, Any]] = set()
        self.warmer: Callable[[Store], Any] | None = None
        """What :meth:`request_warm` computes (None: nothing is warmed, as in tests and ``--open`` use)."""
        self._warm_lock = threading.Lock()
        self._warm_again = False
        self._warm_thread: threading.Thread | None = None
        self._warm_cond = threading.Condition()
        self._warmed: dict[str, int] = {}
        """Warm-up step -> the data version it was computed for (see :meth:`page_ready`)."""
        self._warm_step: tuple[str, int, int, float] | None = None
        """The step running: (name, its position, the number of steps, when the warm-up started)."""
        self._closing = False
        self.survey_key = b""
        self._open()
        if not read_only:
            self.survey_key = surveys.load_key(self.workspace)

    def _open(self) -> None:
        self._ds: Dataset = open_workspace(self.workspace, read_only=self.read_only)
        self._writer: duckdb.DuckDBPyConnection = self._ds.backend.con.cursor()
        self._writer.execute("SET TimeZone = 'UTC'")
        if not self.read_only:
            self._ensure_tables()
            self._refresh_tables()

    def _ensure_tables(self) -> None:
        """The server's own tables (tokens, survey links, audit); the caller holds the write lock or is
        the constructor."""
        auth.ensure_table(self._writer)
        surveys.ensure_tables(self._writer)
        audit.ensure_table(self._writer)

    @property
    def ds(self) -> Dataset:
        """The tables this store reads: the whole workspace (a :class:`View` narrows it to a book)."""
        return self._ds

    @property
    def full_ds(self) -> Dataset:
        """The whole workspace, whatever the scope: for models that score an account among all its peers
        (health percentiles), whose rows are then cut to the scope with :meth:`in_scope`."""
        return self._ds

    @property
    def writer(self) -> duckdb.DuckDBPyConnection:
        return self._writer

    @property
    def scope(self) -> Scope:
        return ADMIN

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
    def closing(self) -> bool:
        """True once :meth:`close` began: a query failing then was interrupted by the stop, not broken."""
        return self._closing

    @property
    def tmpdir(self) -> Path | None:
        """The temporary directory of a ``--data`` workspace (removed by :meth:`close`), else None."""
        return self._tmpdir

    def close(self) -> None:
        self._closing = True
        self.warmer = None
        thread = self._warm_thread
        deadline = time.monotonic() + 30
        # A stop must not wait for the health model: interrupt the warm-up's query. Again until the thread
        # ends, since an interrupt that comes between two queries is lost (and a step may run several).
        while thread is not None and thread.is_alive() and time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                self._ds.backend.con.interrupt()
            thread.join(0.05)
        with self.write_lock, self.read_lock:
            self._writer.close()
            self._ds.backend.disconnect()
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

    def cached_company(self, key: Any, build: Callable[[], T]) -> T:
        """:meth:`cached` for a result about the whole company, shared by every scope (health scored among
        all accounts: each scope cuts its rows from it, so the model runs once per write, not per CSM)."""
        return self.cached(("company", key), build)

    def request_warm(self) -> None:
        """Recompute, in a background thread, what the first pages need (``warmer``, set by ``csmetrics
        serve`` to :func:`csmetrics.web.data.warm`) so that no visitor waits for the health model after a
        start or a write. One thread at a time; a request while it runs makes it run once more after.
        Failures are logged, never raised: a page computes what it needs anyway."""
        if self.warmer is None:
            return
        with self._warm_lock:
            self._warm_again = True
            if self._warm_thread is not None and self._warm_thread.is_alive():
                return

            def run() -> None:
                while True:
                    with self._warm_lock:
                        if not self._warm_again:
                            return
                        self._warm_again = False
                    try:
                        if self.warmer is not None:
                            self.warmer(self)
                    except Exception:
                        if not self._closing:  # an interrupted warm-up of a closing store is expected
                            log.exception("warming the dashboard's results failed")
                    finally:
                        with self._warm_cond:
                            self._warm_step = None
                            self._warm_cond.notify_all()

            self._warm_thread = threading.Thread(target=run, name="csmetrics-warm", daemon=True)
            self._warm_thread.start()

    def warm_steps(self, steps: list[tuple[str, Callable[[], Any]]]) -> None:
        """Run the warm-up's ``steps`` in order (``warmer`` calls this), recording each as done for the data
        version it started on, so that :meth:`page_ready` knows which pages are ready."""
        version, started = self.version, time.monotonic()
        for i, (name, step) in enumerate(steps):
            if self._closing:
                return
            with self._warm_cond:
                self._warm_step = (name, i, len(steps), started)
            step()
            with self._warm_cond:
                self._warmed[name] = version
                self._warm_cond.notify_all()

    def page_ready(self, step: str, wait: float = 0.0) -> bool:
        """Whether a page that needs warm-up ``step`` can be computed now without waiting for the warm-up:
        the step is done for the current data, or no warm-up is running (then the page computes what it
        needs). Waits up to ``wait`` seconds for the step first."""
        deadline = time.monotonic() + wait
        with self._warm_cond:
            while True:
                thread = self._warm_thread
                if self._warmed.get(step) == self.version or thread is None or not thread.is_alive():
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._warm_cond.wait(min(left, 0.25))

    def warm_status(self) -> dict[str, Any] | None:
        """The warm-up running: its step's name, position (1-based) and count, and seconds so far; None when
        none runs."""
        with self._warm_cond:
            if self._warm_step is None:
                return None
            name, i, n, started = self._warm_step
            return {"step": name, "number": i + 1, "steps": n, "seconds": round(time.monotonic() - started)}

    def wait_warm(self, timeout: float | None = None) -> bool:
        """Wait for the warming thread (tests, benchmarks); True when none is running."""
        thread = self._warm_thread
        if thread is not None:
            thread.join(timeout)
        return thread is None or not thread.is_alive()

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
            if "survey_responses" not in self._ds.tables and "survey_responses" in self._ds.backend.list_tables():
                self._ds.tables["survey_responses"] = self._ds.backend.table("survey_responses")

    # -- scope ---------------------------------------------------------------
    def view(self, scope: Scope) -> Store:
        """This store as ``scope`` sees it (the store itself for a scope that sees every account)."""
        return self if scope == ADMIN else View(self, scope)

    def scoped_ds(self, scope: Scope) -> Dataset:
        """The workspace's tables limited to ``scope`` (built once per scope until the next write)."""
        if scope.csm is None:
            return self._ds
        with self.read_lock:
            key = (self.version, scope.csm)
            ds = self._scoped.get(key)
            if ds is None:
                if len(self._scoped) > 64:
                    self._scoped.clear()
                ds = self._scoped[key] = scoped_dataset(self._ds, scope.csm)
            return ds

    def book(self) -> frozenset[str] | None:
        """The account ids this store may show; None for every account."""
        return None

    def in_scope(self, df: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``df`` (with an ``account_id`` column) of accounts in scope."""
        ids = self.book()
        return df if ids is None else df[df["account_id"].isin(ids)]

    def sees_account(self, account_id: str) -> bool:
        """Whether ``account_id`` is in scope (not whether it exists)."""
        ids = self.book()
        return ids is None or account_id in ids

    # -- writes --------------------------------------------------------------
    def write(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """Run ``fn(writer)`` as the only writer; invalidates cached results afterwards."""
        with self.write_lock:
            try:
                return fn(self._writer)
            finally:
                self.version += 1
                self.request_warm()

    def lookup_token(self, token: str) -> auth.TokenInfo | None:
        if self.read_only:
            return None
        with self.write_lock:
            return auth.lookup_token(self._writer, token)

    def check_token(self, token: str) -> bool:
        return self.lookup_token(token) is not None

    def create_token(self, name: str, role: str = auth.ADMIN) -> str:
        """A new token (default: admin, as ``serve`` prints); returns the token itself."""
        with self.write_lock:
            token, _ = auth.create_token(self._writer, name, role)
            return token

    def log(self, action: str, outcome: str, actor: str | None = None, role: str | None = None,
            target: str | None = None, ip: str | None = None) -> None:
        """Append an audit event (see :mod:`csmetrics.web.audit`); the result cache is kept."""
        if self.read_only:
            return
        with self.write_lock:
            audit.record(self._writer, action, outcome, actor, role, target, ip)

    def note_use(self, info: auth.TokenInfo, ip: str | None) -> None:
        """Audit the first accepted use of a token per UTC day (per server process)."""
        key = (info.token_id, clock.today())
        if key in self._used:
            return
        self._used.add(key)
        self.log("token.use", "ok", info.token_id, info.role, None, ip)

    def ingest(self, data_dir: Path) -> dict[str, dict[str, int]]:
        """Validate ``data_dir`` and upsert it into the workspace while serving, all or nothing (the CLI's
        :func:`~csmetrics.io.dataset.ingest`). Requests wait for it; cached results are dropped after it."""
        if self.read_only:
            raise UsageError("this server reads its workspace read-only: it cannot ingest")
        with self.paused() as workspace:
            return ingest(data_dir, workspace)

    @contextmanager
    def paused(self) -> Iterator[Path]:
        """The workspace file with this store's connections closed, for another writer on the file (an
        ingest, a source's sync); requests wait on the locks meanwhile. Reopened after whatever happens
        inside, with the cached results dropped (and warmed again)."""
        with self.write_lock, self.read_lock:
            before = self._fingerprint()
            self._writer.close()
            self._ds.backend.disconnect()
            try:
                yield self.workspace
            finally:
                self._open_after_write(before)

    def _fingerprint(self) -> list[Any] | None:
        """The workspace's digest (row counts and hash sums per table and month, see
        :mod:`csmetrics.io.digest`) and settings: equal before and after a write that changed no row."""
        try:
            return [self._writer.execute(f"SELECT * FROM {DIGEST} ORDER BY ALL").fetchall(),
                    self._writer.execute(f"SELECT * FROM {META} ORDER BY ALL").fetchall()]
        except duckdb.Error:  # a workspace without them: assume a change
            return None

    def _open_after_write(self, before: list[Any] | None = None) -> None:
        self._scoped.clear()  # (their tables belong to the closed connection)
        self._open()
        if before is not None and self._fingerprint() == before:
            # Nothing changed (a scheduled sync with nothing new): the cached results and the warm-up stand.
            return
        self.version += 1
        self._cache.clear()
        self.request_warm()


class View(Store):
    """A :class:`Store` as one scope sees it: ``ds`` is the scope's tables, ``cached`` results are keyed by
    the scope. Writes, locks and tokens are the underlying store's."""

    def __init__(self, base: Store, scope: Scope) -> None:  # noqa: D107 - shares the base's state, opens nothing
        self.base = base
        self._scope = scope
        self.workspace = base.workspace
        self.open_access = base.open_access
        self.read_only = base.read_only
        self._tmpdir = base.tmpdir
        self.data_dir = base.data_dir
        self.read_lock = base.read_lock
        self.write_lock = base.write_lock
        self.survey_key = base.survey_key
        self.limiter = base.limiter

    @property
    def ds(self) -> Dataset:
        return self.base.scoped_ds(self._scope)

    @property
    def full_ds(self) -> Dataset:
        return self.base.full_ds

    @property
    def closing(self) -> bool:
        return self.base.closing

    @property
    def writer(self) -> duckdb.DuckDBPyConnection:
        return self.base.writer

    @property
    def scope(self) -> Scope:
        return self._scope

    def view(self, scope: Scope) -> Store:
        return self.base.view(scope)

    def cached(self, key: Any, build: Callable[[], T]) -> T:
        scope_key = self._scope.key
        return self.base.cached(key if scope_key is None else (scope_key, key), build)

    def cached_company(self, key: Any, build: Callable[[], T]) -> T:
        return self.base.cached_company(key, build)

    def request_warm(self) -> None:
        self.base.request_warm()

    def page_ready(self, step: str, wait: float = 0.0) -> bool:
        # A book's pages compute their own results, from the company's health scores (shared).
        return self.base.page_ready("health", wait)

    def warm_status(self) -> dict[str, Any] | None:
        return self.base.warm_status()

    def book(self) -> frozenset[str] | None:
        csm = self._scope.csm
        if csm is None:
            return None

        def build() -> frozenset[str]:
            acc = self.ds.table("accounts")
            return frozenset(str(x) for x in self.ds.backend.execute(acc.select("account_id"))["account_id"])

        return self.cached("book", build)

    def close(self) -> None:
        raise TypeError("close the underlying Store, not a View")

    def write(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        return self.base.write(fn)

    def lookup_token(self, token: str) -> auth.TokenInfo | None:
        return self.base.lookup_token(token)

    def create_token(self, name: str, role: str = auth.ADMIN) -> str:
        return self.base.create_token(name, role)

    def log(self, action: str, outcome: str, actor: str | None = None, role: str | None = None,
            target: str | None = None, ip: str | None = None) -> None:
        self.base.log(action, outcome, actor, role, target, ip)

    def note_use(self, info: auth.TokenInfo, ip: str | None) -> None:
        self.base.note_use(info, ip)

    def ingest(self, data_dir: Path) -> dict[str, dict[str, int]]:
        return self.base.ingest(data_dir)

    @contextmanager
    def paused(self) -> Iterator[Path]:
        with self.base.paused() as workspace:
            yield workspace
