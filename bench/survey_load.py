"""Survey collection under load: concurrent clients post answers on loopback, then every acknowledged one is checked.

    .venv/bin/python bench/survey_load.py [--seconds 20] [--clients 8] [--readers 1] [--kill]
                                          [--workspace PATH] [--accounts 200]

Starts `csmetrics serve` as a separate process on a free loopback port (a fresh
workspace of ``--accounts`` accounts unless ``--workspace`` is given). For
``--seconds``, ``--clients`` threads each sign a link and submit the form as
fast as the server answers, while ``--readers`` threads read metrics through
the API (each answer empties the result cache, so every read recomputes).
Then it stops the server (``--kill``: with SIGKILL, to show answers are
committed before they are acknowledged), opens the workspace and checks that
every answer acknowledged with "Thank you" (HTTP 200) is stored exactly once.
Prints answers/second and the number lost (must be 0; exit code 1 otherwise)
and, last, one JSON line with the figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import httpx

from csmetrics import surveys
from csmetrics.io import ingest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_workspace(root: Path, accounts: int) -> Path:
    data = root / "data"
    data.mkdir(parents=True)
    with (data / "accounts.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["account_id", "name", "segment"])
        for i in range(accounts):
            w.writerow([f"L{i:05d}", f"Load {i}", ("smb", "mid-market", "enterprise")[i % 3]])
    ws = root / "workspace.duckdb"
    ingest(data, ws)
    return ws


def wait_up(base: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited early with code {proc.returncode}")
        try:
            httpx.get(f"{base}/survey/x", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("the server did not start")


def run(seconds: float, clients: int, workspace: Path, accounts: list[str], kill: bool = False,
        readers: int = 0) -> dict[str, float]:
    key = surveys.load_key(workspace)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "csmetrics.cli.main", "serve", "--workspace", str(workspace), "--port", str(port),
         "--open"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    acked: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()
    try:
        wait_up(base, proc)
        stop = time.monotonic() + seconds

        def client(seed: int) -> None:
            rnd = random.Random(seed)
            mine: list[str] = []
            errs: list[str] = []
            with httpx.Client(base_url=base, timeout=30) as c:
                while time.monotonic() < stop:
                    survey = rnd.choice(("nps", "csat", "ces"))
                    lo, hi = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}[survey]
                    token, link = surveys.make_link_token(key, rnd.choice(accounts), survey)
                    try:
                        r = c.post(f"/survey/{token}", data={"score": str(rnd.randint(lo, hi)),
                                                             "comment": f"load test {seed}"})
                    except httpx.TransportError as exc:
                        errs.append(type(exc).__name__)
                        continue
                    if r.status_code == 200 and "Thank you" in r.text:
                        mine.append(link.response_id)
                    else:
                        errs.append(str(r.status_code))
            with lock:
                acked.extend(mine)
                errors.extend(errs)

        reads: list[int] = []

        def reader() -> None:
            # Dashboard-like reads during the writes: every answer empties the cache, so each read recomputes.
            n = 0
            with httpx.Client(base_url=base, timeout=60) as c:
                while time.monotonic() < stop:
                    r = c.get("/api/v1/metrics", params={"metrics": "nps,csat,ces,nps_responses", "last": "1"})
                    if r.status_code == 200:
                        n += 1
                    else:
                        with lock:
                            errors.append(f"read {r.status_code}")
            with lock:
                reads.append(n)

        started = time.monotonic()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        threads += [threading.Thread(target=reader) for _ in range(readers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
    finally:
        # --kill: no graceful shutdown, so only what was committed before the acknowledgement survives.
        proc.send_signal(signal.SIGKILL if kill else signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    con = duckdb.connect(str(workspace), read_only=True)
    try:
        con.execute("CREATE TEMP TABLE acked (response_id VARCHAR)")
        con.executemany("INSERT INTO acked VALUES (?)", [[a] for a in acked])
        found = con.execute(
            "SELECT count(DISTINCT a.response_id) FROM acked a JOIN survey_responses s USING (response_id)"
        ).fetchone()
        dupes = con.execute(
            "SELECT count(*) FROM (SELECT response_id FROM survey_responses GROUP BY 1 HAVING count(*) > 1)"
        ).fetchone()
    finally:
        con.close()
    stored = int(found[0]) if found else 0
    return {
        "answers": len(acked),
        "seconds": round(elapsed, 2),
        "answers_per_s": round(len(acked) / elapsed, 1) if elapsed else 0.0,
        "reads_per_s": round(sum(reads) / elapsed, 1) if elapsed else 0.0,
        "clients": clients,
        "errors": len(errors),
        "lost": len(set(acked)) - stored,
        "duplicates": int(dupes[0]) if dupes else 0,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--workspace", type=Path, default=None, help="use this workspace (answers are added to it)")
    ap.add_argument("--accounts", type=int, default=200)
    ap.add_argument("--kill", action="store_true", help="stop the server with SIGKILL instead of SIGINT")
    ap.add_argument("--readers", type=int, default=1, help="threads reading metrics meanwhile (0 = none)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="csmetrics-load-") as tmp:
        ws = args.workspace or make_workspace(Path(tmp), args.accounts)
        con = duckdb.connect(str(ws), read_only=True)
        accounts = [r[0] for r in con.execute("SELECT account_id FROM accounts").fetchall()]
        con.close()
        res = run(args.seconds, args.clients, ws, accounts, args.kill, args.readers)
    print(f"{res['answers']} answers acknowledged in {res['seconds']} s from {res['clients']} clients: "
          f"{res['answers_per_s']} answers/s ({res['reads_per_s']} metric reads/s beside); errors {res['errors']}; "
          f"lost {res['lost']}; "
          f"duplicates {res['duplicates']}")
    print(json.dumps({"bench": "survey_load", **res}))
    return 1 if res["lost"] or res["duplicates"] else 0


if __name__ == "__main__":
    sys.exit(main())
