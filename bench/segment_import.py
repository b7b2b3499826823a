"""`csmetrics import segment` of N million synthetic track events, end to end (docs/usage-and-surveys.md#scale).

    .venv/bin/python bench/segment_import.py [--millions 2] [--files 8] [--accounts 5000]

Writes deterministic Segment-spec JSON lines (seed 42) under
``.bench/segment/<millions>m-<files>f-<accounts>a/`` (reused while this file
is unchanged): 96 % ``track`` events over 40 features and 20 users per
account, 3 % ``page`` and 1 % ``identify`` messages, 1 track event in 200
without ``context.groupId``, timestamps spread over 2025. Then it runs
``csmetrics import segment DIR`` into a fresh workspace as a child process,
then the same import again (nothing new: a no-op), and prints one JSON
object: seconds, events per second, peak RSS (MB) of each run and the rows
written.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
T0 = 1735689600  # 2025-01-01T00:00:00Z
YEAR = 365 * 86400


def generate(out: Path, millions: float, files: int, accounts: int, seed: int = 42) -> int:
    """Write the events; returns the number of lines."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    total = int(millions * 1_000_000)
    per_file = -(-total // files)
    features = [f"Feature {i:02d}" for i in range(40)]
    n = 0
    for f in range(files):
        lines = []
        for _ in range(min(per_file, total - n)):
            n += 1
            ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(T0 + rng.randrange(YEAR))) + ".000Z"
            acct = rng.randrange(accounts)
            user = f"u{acct}-{rng.randrange(20)}"
            roll = rng.random()
            if roll < 0.03:
                lines.append(f'{{"type":"page","messageId":"msg-{n}","userId":"{user}","timestamp":"{ts}",'
                             f'"name":"Home","context":{{"groupId":"ACC-{acct:05d}"}}}}')
            elif roll < 0.04:
                lines.append(f'{{"type":"identify","messageId":"msg-{n}","userId":"{user}","timestamp":"{ts}",'
                             f'"traits":{{"email":"{user}@example.com"}}}}')
            else:
                group = "" if rng.random() < 0.005 else f'"groupId":"ACC-{acct:05d}",'
                lines.append(f'{{"type":"track","messageId":"msg-{n}","event":"{rng.choice(features)}",'
                             f'"userId":"{user}","timestamp":"{ts}","context":{{{group}"library":'
                             f'{{"name":"analytics-node","version":"6.0.0"}}}},"properties":{{"plan":"pro"}}}}')
        (out / f"events-{f:03d}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return n


def _run(cmd: list[str]) -> tuple[float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the largest child so far (KB on Linux).
    return seconds, max(peak, before) / 1024, done.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--millions", type=float, default=2.0)
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--accounts", type=int, default=5000)
    args = ap.parse_args()
    stamp = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
    data = ROOT / ".bench" / "segment" / f"{args.millions:g}m-{args.files}f-{args.accounts}a"
    marker = data / f".made-{stamp}"
    if not marker.exists():
        shutil.rmtree(data, ignore_errors=True)
        generate(data, args.millions, args.files, args.accounts)
        marker.write_text("", encoding="utf-8")
    lines = sum(1 for p in data.glob("*.jsonl") for _ in p.open(encoding="utf-8"))
    ws = ROOT / ".bench" / "segment" / "ws.duckdb"
    ws.unlink(missing_ok=True)
    ws.with_name(ws.name + ".wal").unlink(missing_ok=True)
    cmd = [str(BIN / "csmetrics"), "import", "segment", str(data), "--workspace", str(ws)]
    first, rss1, _ = _run(cmd)
    again, rss2, out2 = _run(cmd)
    import duckdb

    con = duckdb.connect(str(ws), read_only=True)
    try:
        rows = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
                for t in ("accounts", "usage_events")}
    finally:
        con.close()
    print(json.dumps({"messages": lines, "seconds": round(first, 1), "messages_per_second": round(lines / first),
                      "peak_rss_mb": round(rss1), "reimport_seconds": round(again, 1),
                      "reimport_unchanged": "nothing new" in out2, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
