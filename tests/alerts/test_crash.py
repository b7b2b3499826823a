"""kill -9 in the middle of a delivery run: nothing is lost, and the receiver sees every alert once.

The guarantee is at least once with an idempotency key (the outbox id): a row
whose send was under way when the process died is sent again, with the same
key, once its lease has passed; the receiver ignores the key the second time.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from csmetrics import alerts
from tests.alerts.company import T, health
from tests.conftest import FROZEN_NOW

SECRET = "whsec_crash_test"


class Receiver:
    """A webhook receiver that blocks on its ``block_at``-th request until released, and dedups by key."""

    def __init__(self, block_at: int) -> None:
        self.requests: list[str] = []
        self.processed: dict[str, dict[str, object]] = {}
        self.blocked = threading.Event()
        self.release = threading.Event()
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                key = self.headers["Idempotency-Key"]
                with lock:
                    outer.requests.append(key)
                    n = len(outer.requests)
                    outer.processed.setdefault(key, json.loads(body))  # the receiver's dedup
                if n == block_at:
                    outer.blocked.set()
                    outer.release.wait(30)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def _deliver(ws: Path, at: dt.datetime) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CSMETRICS_NOW": at.isoformat(), "TEST_WEBHOOK_SECRET": SECRET}
    return subprocess.Popen([sys.executable, "-m", "csmetrics.cli.main", "alerts", "deliver", "--workspace", str(ws)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_kill_9_mid_delivery_loses_nothing_and_duplicates_nothing_at_the_receiver(ws: Path) -> None:
    receiver = Receiver(block_at=4)
    try:
        (ws.parent / "alerts.toml").write_text(
            f'[channels.webhook]\nurl = "{receiver.url}"\nsecret_env = "TEST_WEBHOOK_SECRET"\n'
            "[delivery]\nlease_seconds = 120\n", encoding="utf-8")
        new = alerts.evaluate(ws, T, health=health())
        assert len(new) == 9
        ids = {r["id"] for r in alerts.outbox(ws)}
        assert len(ids) == 9

        proc = _deliver(ws, FROZEN_NOW)
        assert receiver.blocked.wait(60), proc.communicate()
        os.kill(proc.pid, signal.SIGKILL)  # while the 4th webhook is being received
        proc.wait(30)
        assert proc.returncode == -signal.SIGKILL
        receiver.release.set()

        rows = {r["id"]: r for r in alerts.outbox(ws)}
        status = sorted(r["status"] for r in rows.values())
        assert status == ["pending"] * 5 + ["sending"] + ["sent"] * 3
        (claimed,) = [i for i, r in rows.items() if r["status"] == "sending"]
        assert claimed == receiver.requests[3]

        # A run before the lease ends sends the 5 pending rows and leaves the claimed one alone.
        second = _deliver(ws, FROZEN_NOW + dt.timedelta(seconds=60))
        _, err = second.communicate(timeout=120)
        assert second.returncode == 0, err.decode()
        assert "5 sent, 0 to retry, 0 failed" in err.decode()
        # After the lease (120 s) the claimed row is sent again, with the same idempotency key.
        third = _deliver(ws, FROZEN_NOW + dt.timedelta(seconds=121))
        _, err = third.communicate(timeout=120)
        assert third.returncode == 0, err.decode()
        assert "1 sent, 0 to retry, 0 failed" in err.decode()
    finally:
        receiver.close()
    rows = {r["id"]: r for r in alerts.outbox(ws)}
    assert {r["status"] for r in rows.values()} == {"sent"}
    assert rows[claimed]["attempts"] == 2
    # At least once: 10 requests for 9 rows, the claimed one twice; exactly once after the receiver's dedup.
    assert len(receiver.requests) == 10 and receiver.requests.count(claimed) == 2
    assert set(receiver.processed) == ids
    got = sorted(a["id"] for p in receiver.processed.values() for a in p["alerts"])  # type: ignore[attr-defined]
    assert got == sorted(a.id for a in new)


def test_kill_9_of_the_server_mid_delivery_then_a_restart_delivers_each_alert_once(ws: Path, tmp_path: Path) -> None:
    """The same guarantee when the outbox is delivered by `csmetrics serve --schedule` (its alerts job)."""
    from tests.web.serving import serving

    receiver = Receiver(block_at=4)
    cfg = tmp_path / "csmetrics.toml"
    cfg.write_text("[schedule]\nalerts = 0.5\n", encoding="utf-8")
    try:
        (ws.parent / "alerts.toml").write_text(
            f'[channels.webhook]\nurl = "{receiver.url}"\nsecret_env = "TEST_WEBHOOK_SECRET"\n'
            "[delivery]\nlease_seconds = 120\n", encoding="utf-8")
        new = alerts.evaluate(ws, T, health=health())
        ids = {r["id"] for r in alerts.outbox(ws)}
        assert len(new) == len(ids) == 9
        # From now on the rules are off, so the server's job only delivers what the outbox holds.
        (ws.parent / "alerts.toml").write_text(
            f'[channels.webhook]\nurl = "{receiver.url}"\nsecret_env = "TEST_WEBHOOK_SECRET"\n'
            "[delivery]\nlease_seconds = 120\n"
            + "".join(f"[rules.{r}]\nenabled = false\n" for r in (
                "health_worsens", "score_drop", "nps_detractor", "csat_negative", "usage_drop", "renewal_risk",
                "mrr_contraction")), encoding="utf-8")
        env = {"CSMETRICS_NOW": FROZEN_NOW.isoformat(), "TEST_WEBHOOK_SECRET": SECRET}
        with serving("--workspace", str(ws), "--schedule", "--config", str(cfg), env=env) as server:
            assert receiver.blocked.wait(60), "".join(server.stderr)
            os.kill(server.proc.pid, signal.SIGKILL)  # while the server's job sends the 4th webhook
            server.proc.wait(30)
            assert server.proc.returncode == -signal.SIGKILL
        receiver.release.set()
        rows = {r["id"]: r for r in alerts.outbox(ws)}
        assert sorted(r["status"] for r in rows.values()) == ["pending"] * 5 + ["sending"] + ["sent"] * 3
        (claimed,) = [i for i, r in rows.items() if r["status"] == "sending"]

        # Restarted after the lease (120 s): the job sends the 5 pending rows and the claimed one again.
        later = {**env, "CSMETRICS_NOW": (FROZEN_NOW + dt.timedelta(seconds=121)).isoformat()}
        with serving("--workspace", str(ws), "--schedule", "--config", str(cfg), env=later) as server:
            deadline = time.monotonic() + 60
            while len(receiver.requests) < 10 and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1.5)  # a few more runs of the job: nothing more may be sent
    finally:
        receiver.close()
    rows = {r["id"]: r for r in alerts.outbox(ws)}
    assert {r["status"] for r in rows.values()} == {"sent"}
    assert len(receiver.requests) == 10 and receiver.requests.count(claimed) == 2  # at least once ...
    assert set(receiver.processed) == ids  # ... and exactly once after the receiver's dedup by key
    got = sorted(a["id"] for p in receiver.processed.values() for a in p["alerts"])  # type: ignore[attr-defined]
    assert got == sorted(a.id for a in new)
