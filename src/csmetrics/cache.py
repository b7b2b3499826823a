"""Cached period results: a re-run recomputes only the periods whose inputs changed.

A metric's value for a period depends only on input rows dated on or before
the period's last day (SPEC section 6 definitions; MRR is state on boundary
days, events are bucketed by date), on the undated inputs (accounts, the
usage feature catalogue), the settings and the code. The health aggregates
also look ahead (upcoming renewals), so they depend on every row.

Each (metric, period) result is stored under a key hashing exactly that:

- the csmetrics source code (every module of the package) and the settings;
- the grain, week start, ``--by`` column and the period;
- per input table, the row count and hash sum of its rows dated in the months
  up to the period's last day (all rows for the health family), from the
  workspace's digest table (:mod:`csmetrics.io.digest`, kept by ``ingest``);
- the accounts table, with ``--by`` or for the health family (ungrouped, the
  other metrics see accounts only as the account_id of their rows).

After ``csmetrics ingest`` of this month's rows, earlier months' keys are
unchanged: those results come from the cache and only the current period is
computed. An edit to an old row changes the keys of its month and later.

The cache is a SQLite file next to the workspace (``workspace.cache.sqlite``
for ``workspace.duckdb``); deleting it is always safe. It is used only for
DuckDB workspaces that have a digest whose row counts match the tables (a
workspace changed by other means than csmetrics is computed afresh). Entries
unused for CACHE_DAYS days are dropped. The cache never fails a run: when
SQLite fails (a file that is not a database, damaged, locked or not writable)
every period is computed afresh with a note (:func:`csmetrics.compute.compute_dataset`),
and an entry whose stored JSON is damaged is recomputed and rewritten.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from csmetrics import clock
from csmetrics.io.dataset import Dataset
from csmetrics.io.digest import ANCHORS, DIGEST
from csmetrics.periods import Period
from csmetrics.registry import Metric

CACHE_DAYS = 90
WHOLE_FAMILIES = frozenset({"health"})
"""Families whose value for a period may depend on rows dated after it."""

Compute = Callable[[list[Metric], list[Period]], pd.DataFrame]
"""(metrics, contiguous periods) -> rows metric, period, group, value in canonical order."""

_CODE: str | None = None


def code_digest() -> str:
    """Hash of every module of the installed csmetrics package (any code change invalidates)."""
    global _CODE
    if _CODE is None:
        root = Path(__file__).resolve().parent
        h = hashlib.sha256()
        for p in sorted(root.rglob("*")):
            if p.suffix in (".py", ".toml") and "__pycache__" not in p.parts:
                h.update(str(p.relative_to(root)).encode())
                h.update(p.read_bytes())
        _CODE = h.hexdigest()
    return _CODE


def cache_path(workspace: Path) -> Path:
    return workspace.with_suffix(".cache.sqlite")


@dataclass
class ResultCache:
    """The digests of one workspace plus the SQLite file that stores results."""

    path: Path
    digests: pd.DataFrame
    """table_name, month (date or None), n, h (text of a 128-bit integer)."""
    settings: str
    store_error: str | None = None
    """Why the last computed results could not be written (they were still returned), or None."""

    @classmethod
    def open(cls, ds: Dataset) -> ResultCache | None:
        """The cache of ``ds``, or None when it cannot be used (not a DuckDB workspace, no digest, stale digest)."""
        if ds.workspace is None or not hasattr(ds.backend, "con"):
            return None
        con = ds.backend.con
        names = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE NOT temporary").fetchall()}
        if DIGEST not in names:
            return None
        digests = con.execute(
            f'SELECT table_name, month, n, CAST(h AS VARCHAR) AS h FROM "{DIGEST}"'
        ).df()
        stored = digests.groupby("table_name")["n"].sum().to_dict()
        for table in ds.tables:
            if table not in ANCHORS:
                continue
            row = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()
            if int(stored.get(table, -1)) != (int(row[0]) if row else 0):
                return None  # written by something that did not keep the digest
        settings = json.dumps(ds.config.to_dict(), sort_keys=True, default=str)
        return cls(cache_path(ds.workspace), digests, settings)

    # -- keys ----------------------------------------------------------------
    def key(self, p: Period, grain: str, week_start: str, by: str | None, whole: bool) -> str:
        d = self.digests
        month = pd.Timestamp(p.last.replace(day=1))
        if not whole:
            d = d[d["month"].isna() | (pd.to_datetime(d["month"]) <= month)]
            if by is None:
                # Ungrouped, metrics read accounts only through their children's
                # account_id (which ingest checks): a new account changes nothing.
                d = d[d["table_name"] != "accounts"]
        sums = sorted(
            (str(t), int(g["n"].sum()), sum(int(x) for x in g["h"]))
            for t, g in d.groupby("table_name")
        )
        payload = json.dumps([code_digest(), self.settings, grain, week_start, by, p.label,
                              p.first.isoformat(), p.last.isoformat(), whole, sums])
        return hashlib.sha256(payload.encode()).hexdigest()

    # -- storage -------------------------------------------------------------
    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=30)
        try:
            con.execute("CREATE TABLE IF NOT EXISTS results (key TEXT NOT NULL, metric TEXT NOT NULL, "
                        "rows TEXT NOT NULL, used REAL NOT NULL, PRIMARY KEY (key, metric))")
            with con:
                yield con
        finally:
            con.close()

    def lookup(self, keys: list[str], metrics: list[str]) -> dict[tuple[str, str], list[list[object]]]:
        """(key, metric) -> [[group, value], ...] for the stored results among ``keys`` x ``metrics``."""
        out: dict[tuple[str, str], list[list[object]]] = {}
        wanted = set(metrics)
        with self._db() as con:
            marks = ",".join("?" * len(keys))
            for key, metric, rows in con.execute(
                f"SELECT key, metric, rows FROM results WHERE key IN ({marks})", keys
            ):
                if metric in wanted and (cells := _cells(rows)) is not None:
                    out[(key, metric)] = cells
            if out:
                con.executemany("UPDATE results SET used = ? WHERE key = ? AND metric = ?",
                                [(clock.now().timestamp(), k, m) for k, m in out])
        return out

    def store(self, entries: dict[tuple[str, str], list[list[object]]]) -> None:
        now = clock.now().timestamp()
        with self._db() as con:
            con.executemany("INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?)",
                            [(k, m, json.dumps(rows), now) for (k, m), rows in entries.items()])
            con.execute("DELETE FROM results WHERE used < ?", [now - CACHE_DAYS * 86400])

    # -- the cached computation ---------------------------------------------
    def compute(self, metrics: list[Metric], periods: list[Period], grain: str, week_start: str,
                by: str | None, compute: Compute) -> tuple[pd.DataFrame, int]:
        """Rows (metric, period, group, value) for ``metrics`` x ``periods``; and how many periods were computed.

        Stored results are reused; the rest is computed with ``compute`` over
        contiguous runs of the periods that miss any metric, then stored.
        """
        per_period = {(p.label, whole): self.key(p, grain, week_start, by, whole)
                      for p in periods for whole in {m.family in WHOLE_FAMILIES for m in metrics}}
        keys = {(m.name, p.label): per_period[(p.label, m.family in WHOLE_FAMILIES)]
                for m in metrics for p in periods}
        found = self.lookup(sorted(set(keys.values())), [m.name for m in metrics])
        missing = {(m, p) for (m, p), k in keys.items() if (k, m) not in found}
        if missing:
            todo = [m for m in metrics if any((m.name, p.label) in missing for p in periods)]
            runs = _runs([p for p in periods if any((m.name, p.label) in missing for m in metrics)], periods)
            fresh: dict[tuple[str, str], list[list[object]]] = {}
            for run in runs:
                df = compute(todo, run)
                # A cell without rows (no groups) is stored as such, not recomputed next time.
                fresh.update({(keys[(m.name, p.label)], m.name): [] for m in todo for p in run})
                for (metric, label), part in df.groupby(["metric", "period"], sort=False):
                    fresh[(keys[(str(metric), str(label))], str(metric))] = [
                        [g, _num(v)] for g, v in zip(part["group"], part["value"], strict=True)
                    ]
            try:
                self.store(fresh)
            except sqlite3.Error as exc:  # the rows are computed: keep them, say the cache was not written
                self.store_error = str(exc)
            found.update(fresh)
            computed = sum(len(r) for r in runs)
        else:
            computed = 0
        records = [
            (m.name, p.label, g, v)
            for m in metrics for p in periods
            for g, v in found[(keys[(m.name, p.label)], m.name)]
        ]
        df = pd.DataFrame.from_records(records, columns=["metric", "period", "group", "value"])
        return df, computed


def _cells(text: object) -> list[list[object]] | None:
    """A stored entry's [[group, value], ...], or None when it is not one (read as a miss, then rewritten).

    SQLite checks its pages, not the JSON in them: a file damaged inside a value
    must cost a recomputation, not the run.
    """
    try:
        cells = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    ok = isinstance(cells, list) and all(
        isinstance(c, list) and len(c) == 2 and (c[0] is None or isinstance(c[0], str))
        and (c[1] is None or (isinstance(c[1], int | float) and not isinstance(c[1], bool)))
        for c in cells
    )
    return cells if ok else None


def _num(v: object) -> float | None:
    f = float(v)  # type: ignore[arg-type]
    return None if math.isnan(f) else f


def _runs(chosen: list[Period], periods: list[Period]) -> list[list[Period]]:
    """``chosen`` (a subset of ``periods``, in order) split into runs adjacent in ``periods``."""
    pos = {p.label: i for i, p in enumerate(periods)}
    runs: list[list[Period]] = []
    for p in chosen:
        if runs and pos[p.label] == pos[runs[-1][-1].label] + 1:
            runs[-1].append(p)
        else:
            runs.append([p])
    return runs


__all__ = ["CACHE_DAYS", "ResultCache", "cache_path", "code_digest"]
