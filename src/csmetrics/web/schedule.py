"""``csmetrics serve --schedule``: source syncs and alert evaluation run inside the server, on a schedule.

The settings file (``--config``, default ``./csmetrics.toml`` when present)
names the sources (its ``[sources.NAME]`` tables) and the schedule::

    [schedule]
    sync = "*/30 * * * *"    # every 30 minutes: sync every configured source that has an API
    alerts = "0 * * * *"     # on the hour: evaluate the alert rules, deliver the outbox

A value is a five-field crontab (minute hour day month weekday, in UTC, read
by APScheduler's ``CronTrigger.from_crontab``) or a number of seconds
(``sync = 30``: every 30 s, for trying it out and for tests). A job left out
of ``[schedule]`` does not run; a bad value is a defect naming the file, its
line and the key (``csmetrics.toml line 3, setting schedule.sync``).

**One writer.** The server holds the workspace file, and a connector's
``sync`` opens the file itself (it attaches it for its one writing
transaction, :mod:`csmetrics.sources.workspace`). So a sync job *pauses the
store*, as ``POST /api/v1/ingest`` does (:meth:`Store.ingest
<csmetrics.web.store.Store.ingest>`): it takes both of the store's locks
(requests wait), closes its connections, runs the sync on the file, reopens
it and empties the result cache. Pages show the new data on the next request,
without a restart. The alert job needs no pause: ``evaluate`` and ``deliver``
run on the server's writer connection (:mod:`csmetrics.alerts` accepts it).

**Every run is recorded** in the workspace table ``_csmetrics_jobs`` (job,
started_at, seconds, ok, error, detail), whether it worked or not, and is
listed by ``GET /api/v1/jobs`` (admin) and on the alerts page. A failed run
(a vendor error, a network error) is recorded with its message and the next
run is tried at its time; the server keeps serving the data it has.

Worked example (tests/web/test_schedule.py): a workspace with no account, a
settings file with ``[sources.stripe] api_base`` pointing at a loopback fake
of the Stripe API and ``[schedule] sync = 0.2, alerts = 0.2``; after the first
runs ``_csmetrics_jobs`` holds an ``ok`` row of ``sync stripe`` and of
``alerts``, and ``/customers`` lists the fixture's Stripe customers.
"""

from __future__ import annotations

import logging
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import duckdb
from fastapi import FastAPI

from csmetrics import clock
from csmetrics.schema.errors import DataError, Defect, UsageError
from csmetrics.sources.settings import DEFAULT_CONFIG, section_lines
from csmetrics.web.store import Store

T = TypeVar("T")

log = logging.getLogger("csmetrics.web.schedule")

JOBS = "_csmetrics_jobs"
"""One row per job run: job, started_at (UTC), seconds, ok, error, detail."""
JOB_NAMES = ("sync", "alerts")
MAX_ERROR = 500

_DDL = (f"CREATE TABLE IF NOT EXISTS {JOBS} (job VARCHAR NOT NULL, started_at TIMESTAMP NOT NULL, "
        "seconds DOUBLE NOT NULL, ok BOOLEAN NOT NULL, error VARCHAR, detail VARCHAR)")


@dataclass(frozen=True)
class ScheduleSettings:
    """What ``[schedule]`` asks: per job (``sync``, ``alerts``) a crontab text or a number of seconds."""

    jobs: dict[str, str | float] = field(default_factory=dict)
    config: Path | None = None
    """The settings file read (None: no file)."""
    sources: tuple[str, ...] = ()
    """The ``[sources.NAME]`` tables of the file, in file order."""


def settings_file(config: Path | None) -> Path | None:
    """``config``, else ``./csmetrics.toml`` when it exists, else None."""
    if config is not None:
        return config
    return DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None


def load_schedule(config: Path | None) -> ScheduleSettings:
    """The ``[schedule]`` table and source names of ``config`` (see :func:`settings_file`), checked.

    Raises :class:`DataError` with one defect per bad key or value (file, line, ``schedule.KEY``).

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "csmetrics.toml"
    >>> _ = p.write_text('[schedule]\\nsync = "*/30 * * * *"\\nalerts = 60\\n[sources.stripe]\\n')
    >>> s = load_schedule(p)
    >>> s.jobs, s.sources
    ({'sync': '*/30 * * * *', 'alerts': 60.0}, ('stripe',))
    """
    path = settings_file(config)
    if path is None:
        return ScheduleSettings()
    try:
        text = path.read_text(encoding="utf-8")
        raw = tomllib.loads(text)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DataError([Defect(str(path), None, None, None, f"is not a readable TOML file: {exc}")]) from exc
    sources = raw.get("sources", {})
    names = tuple(sources) if isinstance(sources, dict) else ()
    table = raw.get("schedule", {})
    lines = section_lines(text, "schedule")

    def defect(key: str, value: Any, expected: str) -> Defect:
        return Defect(path.name, lines.get(key), f"schedule.{key}" if key else "schedule",
                      None if value is None else str(value), expected, column_kind="setting", row_kind="line")

    if not isinstance(table, dict):
        raise DataError([defect("", None, "is not a table ([schedule] with sync and alerts keys)")])
    defects: list[Defect] = []
    jobs: dict[str, str | float] = {}
    for key, value in table.items():
        if key not in JOB_NAMES:
            defects.append(defect(key, value, f"is not a known job (known: {', '.join(JOB_NAMES)})"))
        elif isinstance(value, bool) or not isinstance(value, str | int | float):
            defects.append(defect(key, value, "is not a crontab text (\"*/30 * * * *\") or a number of seconds"))
        elif isinstance(value, str):
            try:
                _trigger(value)
            except ValueError as exc:
                defects.append(defect(key, value, f"is not a five-field crontab ({exc})"))
            else:
                jobs[key] = value
        elif value <= 0:
            defects.append(defect(key, value, "is not a number of seconds above 0"))
        else:
            jobs[key] = float(value)
    if defects:
        raise DataError(defects)
    return ScheduleSettings(jobs, path, names)


def _trigger(every: str | float) -> Any:
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    if isinstance(every, str):
        return CronTrigger.from_crontab(every, timezone="UTC")
    return IntervalTrigger(seconds=every, timezone="UTC")


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(_DDL)


def record_run(store: Store, job: str, started: Any, seconds: float, ok: bool, error: str | None,
               detail: str | None) -> None:
    """Append one run to :data:`JOBS` through the store's writer (the result cache is kept)."""
    with store.write_lock:
        ensure_table(store.writer)
        store.writer.execute(f"INSERT INTO {JOBS} VALUES (?, ?, ?, ?, ?, ?)",
                             [job, started, round(seconds, 3), ok, None if error is None else error[:MAX_ERROR],
                              detail])


def job_runs(store: Store, limit: int = 50, job: str | None = None) -> list[dict[str, Any]]:
    """The latest runs, newest first (``[]`` before the first run)."""
    with store.write_lock:
        con = store.writer
        exists = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND NOT temporary",
                             [JOBS]).fetchone()
        if not exists or not exists[0]:
            return []
        where, args = ("WHERE job = ? ", [job]) if job is not None else ("", [])
        rows = con.execute(f"SELECT job, started_at, seconds, ok, error, detail FROM {JOBS} {where}"
                           "ORDER BY started_at DESC, rowid DESC LIMIT ?", [*args, limit]).fetchall()
    return [{"job": r[0], "started_at": r[1].isoformat() + "Z", "seconds": r[2], "ok": r[3], "error": r[4],
             "detail": r[5]} for r in rows]


def sync_sources(store: Store, settings: ScheduleSettings) -> str:
    """Sync every configured source that has an API, each in its own pause; returns a one-line summary.

    A source that fails raises (the run is recorded as failed) after the sources before it were synced.
    """
    from csmetrics.sources import available, connector

    done = [sync_one(store, name, settings.config)
            for name in settings.sources if name in available() and connector(name).can_sync]
    return "; ".join(done) if done else "no source with an API is configured"


def sync_one(store: Store, name: str, config: Path | None, full: bool = False) -> str:
    """Sync source ``name`` into the served workspace (the store paused meanwhile, pages waiting; the
    cache dropped and warmed again after); a one-line summary. Credentials come from the server's
    environment and settings from ``config``, exactly as ``csmetrics sync`` reads them."""
    from csmetrics.sources import connector

    conn = connector(name)
    if not conn.can_sync:
        raise UsageError(f"{name} has no API to sync from: use `csmetrics import {name} PATH`")
    src_settings = conn.load_settings(config)
    with store.paused() as ws:
        result = conn.sync(ws, src_settings, api_base=None, full=full)
    return (f"{name}: {result.raw_changed:,} new or changed of {result.objects:,}" if result.changed
            else f"{name}: nothing new")


def evaluate_alerts(store: Store) -> str:
    """Evaluate the alert rules on the server's writer and deliver the due outbox rows; a summary line.

    The write lock is held while rules are evaluated and for each claim and mark of a delivery, never
    while a message is sent (a slow SMTP server or webhook does not hold up survey answers or sign-ins).
    Only the alert tables are written, which no cached result reads: the result cache is kept.
    """
    from csmetrics.alerts import deliver, evaluate
    from csmetrics.alerts.settings import find_rules_file, load_settings

    rules = load_settings(find_rules_file(None, store.workspace, store.data_dir))

    def locked(fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        with store.write_lock:
            return fn(store.writer)

    try:
        new = locked(lambda con: evaluate(con, rules=rules))
        # deliver reads its settings on a cursor of its own (the writer is the lock holder's); every claim
        # and mark runs on the writer under the lock
        with store.write_lock:
            own = store.writer.cursor()
        try:
            report = deliver(own, rules, write=locked)
        finally:
            own.close()
    finally:
        store.drop_temp_tables()
    return (f"{len(new)} new alert(s); {len(report.sent)} sent, {len(report.retrying)} to retry, "
            f"{len(report.failed)} failed")


def alerts_after_ingest(store: Store) -> str | None:
    """After an ingest through the server: evaluate and deliver when alerts are set up (an ``alerts.toml``
    next to the workspace, as for ``csmetrics ingest``); None otherwise."""
    from csmetrics.alerts.settings import find_rules_file, load_settings

    if not load_settings(find_rules_file(None, store.workspace, store.data_dir)).configured:
        return None
    return evaluate_alerts(store)


class Jobs:
    """The server's scheduled jobs: an APScheduler ``BackgroundScheduler`` running :meth:`run` per job."""

    def __init__(self, store: Store, settings: ScheduleSettings) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        self.store = store
        self.settings = settings
        self._lock = threading.Lock()
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self.functions: dict[str, Callable[[], str]] = {
            "sync": lambda: sync_sources(store, settings),
            "alerts": lambda: evaluate_alerts(store),
        }
        for job, every in settings.jobs.items():
            self.scheduler.add_job(self.run, _trigger(every), args=[job], id=job, max_instances=1, coalesce=True,
                                   misfire_grace_time=None)

    def describe(self) -> str:
        if not self.settings.jobs:
            return f"none ([schedule] of {self.settings.config or 'csmetrics.toml'} has no sync or alerts key)"
        return ", ".join(f"{job} {every if isinstance(every, str) else f'every {every:g} s'}"
                         for job, every in self.settings.jobs.items())

    def start(self) -> Jobs:
        self.scheduler.start()
        return self

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)

    def run(self, job: str) -> bool:
        """Run ``job`` once now and record it; True when it worked. Jobs never run at the same time."""
        with self._lock:
            started = clock.naive_now()
            t0 = time.perf_counter()
            try:
                detail = self.functions[job]()
            except Exception as exc:  # recorded, logged; the server carries on with the data it has
                log.warning("scheduled job %s failed: %s", job, exc)
                record_run(self.store, job, started, time.perf_counter() - t0, False, _error_text(exc), None)
                return False
            record_run(self.store, job, started, time.perf_counter() - t0, True, None, detail)
            return True


def _error_text(exc: Exception) -> str:
    """The error's own message (connectors keep credentials out of theirs), with its class for the unexpected."""
    from csmetrics.schema.errors import CsmetricsError

    text = str(exc) if isinstance(exc, CsmetricsError) else f"{type(exc).__name__}: {exc}"
    return text[:MAX_ERROR]


def attach(app: FastAPI, store: Store, config: Path | None, run: bool) -> Jobs | None:
    """Give ``app`` the settings file (the stale banner reads its ``max_age_days``) and, with ``run``,
    start the jobs of its ``[schedule]`` (returned; stop them with :meth:`Jobs.stop`)."""
    app.state.sources_config = config
    if not run:
        return None
    if store.read_only:
        from csmetrics.schema.errors import UsageError

        raise UsageError("--schedule writes the workspace: it cannot run on a read-only workspace")
    jobs = Jobs(store, load_schedule(config))
    with store.write_lock:
        ensure_table(store.writer)
    return jobs.start()


__all__ = ["JOBS", "Jobs", "ScheduleSettings", "attach", "evaluate_alerts", "job_runs", "load_schedule",
           "record_run", "settings_file", "sync_sources"]
