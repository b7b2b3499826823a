"""A real `csmetrics serve` in a subprocess, for the tests that need another process holding the workspace;
and the app under uvicorn in a thread of this process (:func:`in_thread`), for the browser tests."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import uvicorn
from fastapi import FastAPI


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    proc: subprocess.Popen[str]
    base: str
    token: str | None
    stderr: list[str] = field(default_factory=list)
    """The lines read from the server's stderr until it answered."""


@contextmanager
def serving(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Iterator[Server]:
    """Run ``csmetrics serve ARGS --port P``; yield once it answers HTTP; terminate it afterwards."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "csmetrics.cli.main", "serve", *args, "--port", str(port)],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
    server = Server(proc, f"http://127.0.0.1:{port}", None)
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + timeout
        # serve prints its token (if any), then the "dashboard on" line just before it listens.
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                raise AssertionError(f"serve exited early ({proc.wait()}): {''.join(server.stderr)}")
            server.stderr.append(line)
            m = re.search(r"(csm_[0-9a-f]{8}_\S+)", line)
            if m:
                server.token = m.group(1)
            if "dashboard on" in line:
                break
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{server.base}/favicon.ico", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise AssertionError(f"serve did not answer within {timeout} s: {''.join(server.stderr)}")
        yield server
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)


@contextmanager
def in_thread(app: FastAPI) -> Iterator[str]:
    """``app`` under uvicorn on a free loopback port, in a thread; yields its base URL, stops it after."""
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    deadline = time.time() + 30
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start within 30 s"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        th.join(timeout=10)
