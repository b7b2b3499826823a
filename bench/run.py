"""`make bench`: wall time and peak memory of csmetrics on demo companies of growing size.

    .venv/bin/python bench/run.py [--sizes 20k,200k,2M] [--runs floor,pandas] [--timeout 3600] [--no-survey-load]
    .venv/bin/python bench/run.py --shapes-only [--shapes churny,wide,whale] [--accounts 200000]

For each size, a deterministic demo company (``csmetrics.demo``; seed 42, 24
months ending 2026-01-01, about 100 usage events per account) is generated as
Parquet under ``.bench/data/<accounts>/`` and ingested into a workspace next
to it; both are reused while the generator's parameters and source are
unchanged. Then each of these runs as its own process, timed (wall clock) and
measured (peak resident memory, from the kernel's accounting of that process):

- ``floor``: DuckDB reading every column of the workspace once (bench/floor.py);
- ``pandas peer``: a vectorised pandas script of the monthly MRR bridge, churn,
  support, survey and usage metrics, reading the Parquet files (bench/pandas_peer.py);
- ``csmetrics metrics`` (monthly, 24 months, ``--no-cache``: every period
  computed) with the default metrics, with ``--metrics all`` (adds the health
  aggregates) and ``--by csm``; ``csmetrics accounts`` (health of every
  account) and ``csmetrics feedback``;
- incremental use, on a copy of the workspace: the metrics run with an empty
  result cache, the same run again (every period cached), ``csmetrics ingest``
  of a one-day delta feed (the usage events and tickets of 2025-12-30 moved to
  2025-12-31, with their accounts) and the metrics run after it.

``ingest`` (validating the Parquet files into the workspace) is timed once,
when the workspace is built. Above 200k accounts the pandas peer and the runs
that include the health family are skipped (``--skip-peer-above``,
``--skip-health-above``): they need tens of GB there. The peer's values are
checked against csmetrics'. Results are printed as a table and written as
JSON to ``.bench/results/<UTC time>.json`` (and ``latest.json``).
bench/survey_load.py, if present, runs last (survey answers per second
through the web server).

Then the data shapes ``csmetrics demo`` does not make (bench/shapes.py:
``churny``, many subscriptions per account, 1.2M tickets and 3M survey
answers; ``wide``, 80 features over five years; ``whale``, one account with 5M
of the events), at ``--accounts`` (default 200k), generated as Parquet under
``.bench/shapes/<shape>-<accounts>/``. For each: the floors, validation alone,
``csmetrics ingest`` into a fresh workspace, ``csmetrics metrics --data``
(cold, validation included), ``csmetrics metrics --workspace --no-cache``, the
result cache (a run filling it, then a cached re-run), ``csmetrics accounts``,
``csmetrics feedback``, the dashboard (bench/customers_page.py ``--warm``: the
server's background warm-up, then the first load of each page), and the pandas peer on the
shape's files (up to ``--skip-peer-above`` accounts; its values checked
against csmetrics'). ``--shapes-only`` runs only these; ``--shapes ''`` none.

Every run also records its user + system CPU seconds (``wait4``) and the
1-minute load average when it started and ended: on a shared machine wall
times say little, CPU seconds more.

Targets (200k accounts, 2 cores): metrics within 4x the floor, at least 10x
faster than the pandas peer, under 1.5 GB peak RSS. See docs/scale.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / ".bench"
BIN = Path(sys.executable).parent
SEED = 42
MONTHS = 24
END = dt.date(2026, 1, 1)
START = dt.date(2024, 1, 1)
EVENTS = 100
SIZES = {"20k": 20_000, "200k": 200_000, "2M": 2_000_000}
HEALTH_RUNS = ("csmetrics metrics --metrics all", "csmetrics accounts")
INCREMENTAL_DAY = dt.date(2025, 12, 31)


@dataclass
class Run:
    name: str
    seconds: float
    peak_rss_mb: float
    ok: bool
    detail: str = ""
    # User + system CPU seconds of the run's process and its children (wait4), which a
    # shared machine inflates far less than wall time, and the 1-minute load average
    # when the run started and ended.
    cpu_seconds: float | None = None
    load: tuple[float, float] | None = None


@dataclass
class SizeResult:
    accounts: int
    shape: str = "demo"
    rows: dict[str, int] = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)
    peer_agrees: bool | None = None

    def get(self, name: str) -> Run | None:
        return next((r for r in self.runs if r.name == name), None)


# Spawns the command from a fresh, small interpreter and reports the child's
# peak RSS. Linux keeps a process's RSS high-water mark across exec, so a
# child forked straight from this (large) process would report our own size.
LAUNCHER = """
import json, os, sys
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
open(sys.argv[1], "w").write(json.dumps([usage.ru_maxrss, usage.ru_utime + usage.ru_stime]))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def measure(name: str, cmd: list[str], timeout: float | None = None, save: Path | None = None) -> Run:
    """Run ``cmd`` as a child process: wall seconds and its own peak RSS (wait4's ru_maxrss, KiB on Linux).

    Output is drained as it comes (the JSON of 2M accounts is large) keeping
    only the tail: bench scripts print their figures as the last line. With
    ``save``, stdout is also written to that file.
    """
    t0 = time.perf_counter()
    load0 = os.getloadavg()[0]
    fd, usage_file = tempfile.mkstemp(prefix="csmetrics-bench-", suffix=".json")
    os.close(fd)
    proc = subprocess.Popen([sys.executable, "-c", LAUNCHER, usage_file, *cmd],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, start_new_session=True)
    assert proc.stdout is not None and proc.stderr is not None
    tails = {proc.stdout.fileno(): b"", proc.stderr.fileno(): b""}
    sel = selectors.DefaultSelector()
    for f in (proc.stdout, proc.stderr):
        sel.register(f, selectors.EVENT_READ)
    timed_out = False
    sink = save.open("wb") if save is not None else None
    while sel.get_map():
        if timeout is not None and not timed_out and time.perf_counter() - t0 > timeout:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
        for key, _ in sel.select(timeout=5):
            fd = key.fd
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                sel.unregister(key.fileobj)
            else:
                tails[fd] = (tails[fd] + chunk)[-8192:]
                if sink is not None and fd == proc.stdout.fileno():
                    sink.write(chunk)
    proc.wait()
    if sink is not None:
        sink.close()
    seconds = time.perf_counter() - t0
    peak_kib, cpu = json.loads(Path(usage_file).read_text() or "[0, null]")  # empty when killed
    os.unlink(usage_file)
    ok = proc.returncode == 0
    out = tails[proc.stdout.fileno()].decode("utf-8", "replace").strip().splitlines()
    err = tails[proc.stderr.fileno()].decode("utf-8", "replace")
    proc.stdout.close()
    proc.stderr.close()
    detail = (out[-1] if out else "")[:300] if ok else err[-600:]
    if timed_out:
        detail = f"timed out after {timeout:.0f} s"
    return Run(name, round(seconds, 2), round(peak_kib / 1024, 1), ok, detail,
               None if cpu is None else round(cpu, 2), (round(load0, 2), round(os.getloadavg()[0], 2)))


def _generator_digest() -> str:
    h = hashlib.sha256()
    for p in sorted((ROOT / "src" / "csmetrics" / "demo").glob("*.py")):
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def ensure_company(accounts: int, log: list[Run]) -> tuple[Path, Path]:
    """(data dir, workspace) of the demo company of ``accounts``, generated and ingested if not cached."""
    from csmetrics.demo.generator import generate

    root = BENCH / "data" / str(accounts)
    data, ws = root / "parquet", root / "workspace.duckdb"
    params = {"accounts": accounts, "seed": SEED, "months": MONTHS, "end": END.isoformat(), "events": EVENTS,
              "generator": _generator_digest()}
    marker, generated = root / "params.json", root / "generated.json"
    if marker.exists() and json.loads(marker.read_text()) == params and ws.exists():
        ensure_digest(ws)
        return data, ws
    if not (generated.exists() and json.loads(generated.read_text()) == params):
        shutil.rmtree(root, ignore_errors=True)
        data.mkdir(parents=True)
        print(f"  generating {accounts:,} accounts into {data} ...", flush=True)
        t0 = time.perf_counter()
        rows = generate(data, accounts=accounts, seed=SEED, months=MONTHS, end=END, fmt="parquet",
                        events_per_account=EVENTS)
        log.append(Run("generate", round(time.perf_counter() - t0, 2), 0.0, True, json.dumps(rows)))
        generated.write_text(json.dumps(params))
    for leftover in (ws, ws.with_name(ws.name + ".wal"), ws.with_suffix(".cache.sqlite")):
        leftover.unlink(missing_ok=True)
    print(f"  ingesting into {ws} ...", flush=True)
    log.append(measure("csmetrics ingest", [str(BIN / "csmetrics"), "ingest", "--data", str(data),
                                            "--workspace", str(ws)]))
    if not log[-1].ok:
        raise SystemExit(f"ingest failed: {log[-1].detail}")
    marker.write_text(json.dumps(params))
    return data, ws


def ensure_digest(ws: Path) -> None:
    """Give a workspace ingested before digests existed its digest table (what ingest now writes)."""
    import duckdb

    from csmetrics.io.digest import DIGEST, write_digest
    from csmetrics.schema.tables import TABLE_ORDER

    con = duckdb.connect(str(ws))
    try:
        names = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        if DIGEST not in names:
            print(f"  adding the content digest to {ws} ...", flush=True)
            write_digest(con, [n for n in TABLE_ORDER if n in names])
    finally:
        con.close()


def one_day_batch(data: Path, out: Path) -> dict[str, int]:
    """A delta feed for INCREMENTAL_DAY: the usage events and tickets of the day before, moved one day
    later (new rows), plus the accounts they belong to, unchanged. Returns rows per table."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    shutil.copy(data / "csmetrics.toml", out / "csmetrics.toml")
    day = pa.scalar(dt.datetime.combine(INCREMENTAL_DAY - dt.timedelta(days=1), dt.time()), pa.timestamp("ms"))
    next_day = pa.scalar(dt.datetime.combine(INCREMENTAL_DAY, dt.time()), pa.timestamp("ms"))
    shift = pa.scalar(dt.timedelta(days=1), pa.duration("ms"))
    rows: dict[str, int] = {}
    ids: list[pa.Array] = []
    for name, col in (("usage_events", "occurred_at"), ("tickets", "opened_at")):
        t = pq.read_table(data / f"{name}.parquet")
        at = pc.cast(t[col], pa.timestamp("ms"))
        t = t.filter(pc.and_(pc.greater_equal(at, day), pc.less(at, next_day)))
        t = t.set_column(t.schema.get_field_index(col), col, pc.add(pc.cast(t[col], pa.timestamp("ms")), shift))
        if name == "tickets":
            t = t.set_column(0, "ticket_id", pc.binary_join_element_wise("X", t["ticket_id"], ""))
            resolved = pc.cast(t["resolved_at"], pa.timestamp("ms"))
            t = t.set_column(t.schema.get_field_index("resolved_at"), "resolved_at", pc.add(resolved, shift))
        pq.write_table(t, out / f"{name}.parquet")
        rows[name] = t.num_rows
        ids.append(pc.cast(t["account_id"], pa.string()))
    accounts = pq.read_table(data / "accounts.parquet")
    accounts = accounts.filter(pc.is_in(accounts["account_id"], pc.unique(pa.chunked_array(ids))))
    pq.write_table(accounts, out / "accounts.parquet")
    rows["accounts"] = accounts.num_rows
    return rows


def table_rows(ws: Path) -> dict[str, int]:
    import duckdb

    from csmetrics.schema.tables import TABLE_ORDER

    con = duckdb.connect(str(ws), read_only=True)
    try:
        names = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        out = {}
        for n in TABLE_ORDER:
            if n in names:
                row = con.execute(f'SELECT count(*) FROM "{n}"').fetchone()
                out[n] = int(row[0]) if row else 0
        return out
    finally:
        con.close()


def bench_size(accounts: int, peer: bool, timeout: float | None = None, only: list[str] | None = None,
               health_max: int = 200_000) -> SizeResult:
    res = SizeResult(accounts)
    data, ws = ensure_company(accounts, res.runs)
    res.rows = table_rows(ws)
    cs = str(BIN / "csmetrics")
    py = str(BIN / "python")
    span = ["--start", START.isoformat(), "--end", END.isoformat()]
    jobs: list[tuple[str, list[str]]] = [
        ("floor", [py, str(ROOT / "bench" / "floor.py"), str(ws)]),
        ("floor (parquet)", [py, str(ROOT / "bench" / "floor.py"), str(data)]),
    ]
    if peer:
        jobs.append(("pandas peer", [py, str(ROOT / "bench" / "pandas_peer.py"), str(data), *span,
                                     "--out", str(BENCH / "results" / f"peer-{accounts}.parquet")]))
    month = [cs, "metrics", "--workspace", str(ws), "--period", "month", *span, "--format", "json"]
    jobs += [
        # Cold runs (--no-cache): every period computed.
        ("csmetrics metrics", [*month, "--no-cache"]),
        ("csmetrics metrics --metrics all", [*month, "--no-cache", "--metrics", "all"]),
        ("csmetrics metrics --by csm", [*month, "--no-cache", "--by", "csm"]),
        ("csmetrics accounts", [cs, "accounts", "--workspace", str(ws), "--format", "json"]),
        ("csmetrics feedback", [cs, "feedback", "--workspace", str(ws), "--period", "month", *span,
                                "--format", "json"]),
    ]
    if accounts > health_max:
        # The health family scores every account at every period end in pandas:
        # above health_max it is skipped to keep the run short.
        jobs = [(name, cmd) for name, cmd in jobs if name not in HEALTH_RUNS]
    if only:
        jobs = [(name, cmd) for name, cmd in jobs if any(name.startswith(o) for o in only)]
    saved = BENCH / "results" / f"metrics-{accounts}.json"
    for name, cmd in jobs:
        run_job(res, name, cmd, timeout, saved if name == "csmetrics metrics" else None)
    if not only or any(o.startswith("incremental") for o in only):
        incremental(res, data, ws, month, timeout)
    res.peer_agrees = peer_agrees(BENCH / "results" / f"peer-{accounts}.parquet", saved)
    if res.peer_agrees is not None:
        print(f"  pandas peer and csmetrics agree to 1e-9: {res.peer_agrees}", flush=True)
    return res


def run_job(res: SizeResult, name: str, cmd: list[str], timeout: float | None, save: Path | None = None) -> Run:
    print(f"  {name} ...", end=" ", flush=True)
    run = measure(name, cmd, timeout, save)
    cpu = "" if run.cpu_seconds is None else f", {run.cpu_seconds:.1f} CPU s"
    load = "" if run.load is None else f", load {run.load[0]:.1f}-{run.load[1]:.1f}"
    print(f"{run.seconds:.1f} s{cpu}, {run.peak_rss_mb:.0f} MB{load}" + ("" if run.ok else "  FAILED"), flush=True)
    if not run.ok:
        print("    " + run.detail.replace("\n", "\n    "), flush=True)
    res.runs.append(run)
    return run


def incremental(res: SizeResult, data: Path, ws: Path, month: list[str], timeout: float | None) -> None:
    """The result cache: fill it, re-run unchanged, then ingest one more day and re-run.

    Works on a copy of the workspace (the cached company stays as generated).
    """
    work = BENCH / "incremental" / str(res.accounts)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    copy = work / "workspace.duckdb"
    shutil.copy(ws, copy)
    cmd = [c if c != str(ws) else str(copy) for c in month]
    batch = one_day_batch(data, work / "batch")
    print(f"  one-day batch for {INCREMENTAL_DAY}: {batch}", flush=True)
    cs = str(BIN / "csmetrics")
    run_job(res, "incremental: metrics, empty cache", cmd, timeout)
    run_job(res, "incremental: metrics, cached re-run", cmd, timeout)
    run_job(res, "incremental: ingest one day", [cs, "ingest", "--data", str(work / "batch"),
                                                 "--workspace", str(copy)], timeout)
    run_job(res, "incremental: metrics after ingest", cmd, timeout)
    shutil.rmtree(work, ignore_errors=True)


def peer_agrees(peer_file: Path, metrics_file: Path) -> bool | None:
    """Whether the pandas peer computed the same values as csmetrics (so the race is fair)."""
    if not (peer_file.exists() and metrics_file.exists()):
        return None
    import math

    import pandas as pd

    peer = pd.read_parquet(peer_file)
    ours = {(r["metric"], r["period"]): r["value"] for r in json.loads(metrics_file.read_text())}
    for r in peer.itertuples(index=False):
        v = ours.get((r.metric, r.period))
        both_null = (v is None) and math.isnan(r.value)
        if not both_null and (v is None or not math.isclose(v, r.value, rel_tol=1e-9, abs_tol=1e-12)):
            return False
    return True


def ratios(res: SizeResult) -> dict[str, float | None]:
    """Each ``csmetrics metrics`` run over the floor, and the pandas peer over it."""
    floor, peer = res.get("floor"), res.get("pandas peer")
    out: dict[str, float | None] = {}
    for key, name in (("metrics", "csmetrics metrics"), ("metrics_all", "csmetrics metrics --metrics all"),
                      ("metrics_cached", "incremental: metrics, cached re-run"),
                      ("metrics_after_ingest", "incremental: metrics after ingest")):
        m = res.get(name)
        good = m is not None and m.ok and m.seconds > 0
        out[f"{key}_over_floor"] = round(m.seconds / floor.seconds, 2) if good and floor and floor.ok else None  # type: ignore[union-attr]
        out[f"peer_over_{key}"] = round(peer.seconds / m.seconds, 2) if good and peer and peer.ok else None  # type: ignore[union-attr]
    return out


def print_table(results: list[SizeResult]) -> None:
    print()
    print(f"{'shape':<7} {'accounts':>10}  {'run':<44} {'wall s':>9} {'CPU s':>8} {'peak RSS MB':>12} {'load':>10}")
    for res in results:
        for r in res.runs:
            if r.name == "generate":
                continue
            flag = "" if r.ok else "  FAILED"
            cpu = "" if r.cpu_seconds is None else f"{r.cpu_seconds:.2f}"
            load = "" if r.load is None else f"{r.load[0]:.1f}-{r.load[1]:.1f}"
            print(f"{res.shape:<7} {res.accounts:>10,}  {r.name:<44} {r.seconds:>9.2f} {cpu:>8} "
                  f"{r.peak_rss_mb:>12.0f} {load:>10}{flag}")
        rt = ratios(res)
        for key, label in (("metrics", "default metrics"), ("metrics_all", "--metrics all (with health)"),
                           ("metrics_cached", "cached re-run"), ("metrics_after_ingest", "after one-day ingest")):
            if rt[f"{key}_over_floor"] is None:
                continue
            print(f"{'':>10}  {label}: metrics / floor = {rt[f'{key}_over_floor']}x, "
                  f"pandas peer / metrics = {rt[f'peer_over_{key}'] or 'n/a'}x")


def shape_company(shape: str, accounts: int, log: list[Run]) -> Path:
    """The Parquet directory of ``shape`` at ``accounts``, generated by bench/shapes.py if not cached."""
    root = BENCH / "shapes" / f"{shape}-{accounts}"
    data = root / "parquet"
    script = ROOT / "bench" / "shapes.py"
    params = {"shape": shape, "accounts": accounts, "generator": hashlib.sha256(script.read_bytes()).hexdigest()[:16]}
    marker = root / "generated.json"
    if marker.exists() and json.loads(marker.read_text()) == params and data.is_dir():
        return data
    shutil.rmtree(root, ignore_errors=True)
    print(f"  generating the {shape} shape, {accounts:,} accounts, into {data} ...", flush=True)
    run = measure("generate", [str(BIN / "python"), str(script), shape, str(data), "--accounts", str(accounts)])
    log.append(run)
    if not run.ok:
        raise SystemExit(f"bench/shapes.py {shape} failed: {run.detail}")
    marker.write_text(json.dumps(params))
    return data


DASHBOARD = "dashboard: serve, warm-up and first loads"


def dashboard_runs(report: Path, whole: Run) -> list[Run]:
    """The stages inside bench/customers_page.py's run (its JSON): the warm-up ``csmetrics serve`` starts with,
    then each page's first load after it. Peak RSS and load are the whole run's."""
    got = json.loads(report.read_text())
    runs = []
    if got.get("warm_up_seconds") is not None:
        runs.append(Run("dashboard: warm-up at start (background)", got["warm_up_seconds"], whole.peak_rss_mb, True,
                        load=whole.load))
    for page in got.get("first_loads", []):
        runs.append(Run(f"dashboard: first load {page['page']}", page["seconds"], whole.peak_rss_mb, True,
                        load=whole.load))
    for r in got.get("results", []):
        if r["request"] == "first load":
            runs.append(Run("dashboard: first load /customers", r["seconds"], whole.peak_rss_mb, True, load=whole.load))
    return runs


def bench_shape(shape: str, accounts: int, timeout: float | None = None,
                only: list[str] | None = None, peer: bool = True) -> SizeResult:
    """Every stage a user waits for on one shape of bench/shapes.py, each run its own process: validate,
    ingest, cold metrics (from the files and from the workspace), the cached re-run, accounts, feedback and
    the dashboard's warm-up and first page loads; the floors and the pandas peer alongside."""
    sys.path.insert(0, str(ROOT / "bench"))
    from shapes import END as SHAPE_END
    from shapes import SHAPES

    res = SizeResult(accounts, shape)
    data = shape_company(shape, accounts, res.runs)
    ws = data.parent / "workspace.duckdb"
    months = SHAPES[shape].months
    start = dt.date(SHAPE_END.year - months // 12, SHAPE_END.month, 1)
    span = ["--start", start.isoformat(), "--end", SHAPE_END.isoformat()]
    cs, py = str(BIN / "csmetrics"), str(BIN / "python")
    month = ["--period", "month", *span, "--format", "json"]
    jobs: list[tuple[str, list[str]]] = [
        ("floor (parquet)", [py, str(ROOT / "bench" / "floor.py"), str(data)]),
        ("validate", [py, str(ROOT / "bench" / "shapes.py"), "--validate", str(data)]),
        ("csmetrics ingest", [cs, "ingest", "--data", str(data), "--workspace", str(ws)]),
        ("floor", [py, str(ROOT / "bench" / "floor.py"), str(ws)]),
        ("csmetrics metrics --data (cold, validating)", [cs, "metrics", "--data", str(data), *month]),
        ("csmetrics metrics", [cs, "metrics", "--workspace", str(ws), *month, "--no-cache"]),
        # The result cache: a run that fills it, then the same run again (every period from the cache).
        ("incremental: metrics, empty cache", [cs, "metrics", "--workspace", str(ws), *month]),
        ("incremental: metrics, cached re-run", [cs, "metrics", "--workspace", str(ws), *month]),
        ("csmetrics accounts", [cs, "accounts", "--workspace", str(ws), "--format", "json"]),
        ("csmetrics feedback", [cs, "feedback", "--workspace", str(ws), "--period", "month", *span,
                                "--format", "json"]),
        # `csmetrics serve` on the fresh workspace: its background warm-up, then each page's first load.
        (DASHBOARD, [py, str(ROOT / "bench" / "customers_page.py"), "--workspace", str(ws), "--warm",
                     "--json", str(BENCH / "results" / f"dashboard-{shape}-{accounts}.json")]),
    ]
    if peer:
        jobs.append(("pandas peer", [py, str(ROOT / "bench" / "pandas_peer.py"), str(data), *span,
                                     "--out", str(BENCH / "results" / f"peer-{shape}-{accounts}.parquet")]))
    if only:
        jobs = [(name, cmd) for name, cmd in jobs if any(name.startswith(o) for o in only)]
    saved = BENCH / "results" / f"metrics-{shape}-{accounts}.json"
    for name, cmd in jobs:
        if name == "csmetrics ingest":  # into a fresh workspace every time
            for leftover in (ws, ws.with_name(ws.name + ".wal"), ws.with_suffix(".cache.sqlite")):
                leftover.unlink(missing_ok=True)
        elif name == "incremental: metrics, empty cache":
            ws.with_suffix(".cache.sqlite").unlink(missing_ok=True)
        if name != "csmetrics ingest" and str(ws) in cmd and not ws.exists():  # the ingest failed: nothing to read
            continue
        run = run_job(res, name, cmd, timeout, saved if name == "csmetrics metrics" else None)
        if name == DASHBOARD and run.ok:
            res.runs.extend(dashboard_runs(BENCH / "results" / f"dashboard-{shape}-{accounts}.json", run))
    res.rows = table_rows(ws) if ws.exists() else {}
    res.peer_agrees = peer_agrees(BENCH / "results" / f"peer-{shape}-{accounts}.parquet", saved)
    if res.peer_agrees is not None:
        print(f"  pandas peer and csmetrics agree to 1e-9: {res.peer_agrees}", flush=True)
    return res


def survey_load() -> dict[str, object] | None:
    script = ROOT / "bench" / "survey_load.py"
    if not script.exists():
        return None
    print("survey load (bench/survey_load.py) ...", flush=True)
    run = measure("survey load", [str(BIN / "python"), str(script), "--seconds", "15"])
    out: dict[str, object] = asdict(run)
    with contextlib.suppress(ValueError):
        out["figures"] = json.loads(run.detail)
    print(f"  {run.detail}", flush=True)
    return out


def stripe_import() -> dict[str, object] | None:
    """bench/stripe_import.py: `csmetrics import stripe` of 10k customers and 200k invoices."""
    script = ROOT / "bench" / "stripe_import.py"
    if not script.exists():
        return None
    print("stripe import (bench/stripe_import.py: 10k customers, 200k invoices) ...", flush=True)
    run = measure("stripe import", [str(BIN / "python"), str(script)])
    out: dict[str, object] = asdict(run)
    with contextlib.suppress(ValueError, IndexError):
        out["figures"] = json.loads(run.detail.strip().splitlines()[-1])
    print(f"  {run.seconds:.1f} s, peak {run.peak_rss_mb:.0f} MB (import child: see figures)", flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="20k,200k,2M", help="comma-separated: 20k, 200k, 2M or a number")
    ap.add_argument("--skip-peer-above", type=int, default=200_000,
                    help="do not run the pandas peer above this many accounts (it needs tens of GB at 2M)")
    ap.add_argument("--skip-health-above", type=int, default=200_000,
                    help="above this many accounts, skip the runs that include the health family (memory)")
    ap.add_argument("--no-survey-load", action="store_true")
    ap.add_argument("--no-stripe", action="store_true", help="skip the Stripe import stage")
    ap.add_argument("--runs", default=None,
                    help="only the runs whose names start with one of these (comma-separated), e.g. floor,pandas")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds after which a run is stopped (failed)")
    ap.add_argument("--shapes", default="churny,wide,whale", help="data shapes of bench/shapes.py to run ('' for none)")
    ap.add_argument("--shapes-only", action="store_true",
                    help="only the data shapes (no demo sizes, survey load or Stripe import)")
    ap.add_argument("--accounts", type=int, default=200_000, help="accounts of each data shape")
    args = ap.parse_args()
    sizes = [SIZES.get(s.strip()) or int(s.strip().replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    if args.shapes_only:
        sizes = []
        args.no_survey_load = args.no_stripe = True
    (BENCH / "results").mkdir(parents=True, exist_ok=True)
    results: list[SizeResult] = []
    started = dt.datetime.now(dt.UTC)
    only = [o.strip() for o in args.runs.split(",")] if args.runs else None
    for n in sizes:
        print(f"{n:,} accounts", flush=True)
        results.append(bench_size(n, peer=n <= args.skip_peer_above, timeout=args.timeout, only=only,
                                  health_max=args.skip_health_above))
    for shape in [s.strip() for s in args.shapes.split(",") if s.strip()]:
        print(f"shape {shape}, {args.accounts:,} accounts", flush=True)
        results.append(bench_shape(shape, args.accounts, timeout=args.timeout, only=only,
                                   peer=args.accounts <= args.skip_peer_above))
    print_table(results)
    report: dict[str, object] = {
        "started": started.isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)},
        "company": {"seed": SEED, "months": MONTHS, "end": END.isoformat(), "events_per_account": EVENTS},
        "sizes": [{"shape": r.shape, "accounts": r.accounts, "rows": r.rows, "runs": [asdict(x) for x in r.runs],
                   "peer_agrees": r.peer_agrees, **ratios(r)} for r in results],
    }
    if not args.no_survey_load:
        report["survey_load"] = survey_load()
    if not args.no_stripe:
        report["stripe_import"] = stripe_import()
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    for name in (f"{stamp}.json", "latest.json"):
        (BENCH / "results" / name).write_text(json.dumps(report, indent=1))
    print(f"\nwrote .bench/results/{stamp}.json")
    return 0 if all(r.ok for res in results for r in res.runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
