"""Runs the commands of a docs block in a working directory, as a reader would type them.

- ``csmetrics ...`` runs in this process (Typer's CliRunner; the imports are paid once,
  so the whole docs test stays within its time budget), at 200 columns so tables do not
  wrap. ``csmetrics demo`` without ``--accounts`` gets ``--accounts 300`` (the docs'
  2,000 accounts take longer and show nothing more; the ids the docs use are below 300).
- ``csmetrics serve ...`` starts a real server in the background on a free loopback port;
  the block's later commands talk to it, and the test checks that ``/`` sends a browser to
  the login form and that the token ``serve`` printed opens the API.
- ``curl ...`` runs as written against that server (or a shared one) with ``$TOKEN`` set,
  ``127.0.0.1:8000`` replaced by the server's address and ``-sS --fail-with-body`` added.
- ``make TARGET`` runs the target's recipe from the Makefile, minus the install step
  (``$(BIN)/csmetrics`` as ``csmetrics``); a recipe with anything else cannot be run.
- anything else (``mkdir``, ``head``...) runs in bash.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
from typer.testing import CliRunner

from csmetrics.cli.main import app
from tests.docs.blocks import ROOT
from tests.web.serving import Server, serving

DEMO_ACCOUNTS = 300
COLUMNS = "200"
ENV = {"COLUMNS": COLUMNS, "NO_COLOR": "1"}


@dataclass
class Result:
    command: str
    exit_code: int
    stdout: str
    stderr: str

    @property
    def text(self) -> str:
        return self.stdout + "\n" + self.stderr

    def describe(self) -> str:
        return (f"$ {self.command}\nexit code {self.exit_code}\n--- stdout\n{self.stdout[-3000:]}"
                f"\n--- stderr\n{self.stderr[-3000:]}")


def make_recipe(target: str) -> list[str]:
    """The commands of a Makefile target, variables expanded, ``$(BIN)/`` dropped; ``@echo`` lines left out."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    variables = dict(re.findall(r"^([A-Z_]+)\s*[:?]?=\s*(.*)$", text, re.M))
    m = re.search(rf"^{re.escape(target)}:[^\n]*\n((?:\t[^\n]*\n?)+)", text, re.M)
    if m is None:
        msg = f"no target {target!r} in the Makefile"
        raise AssertionError(msg)
    out = []
    for line in m.group(1).splitlines():
        line = line.strip()
        for _ in range(3):
            line = re.sub(r"\$\((\w+)\)", lambda v: variables.get(v.group(1), ""), line)
        line = re.sub(r"^\S*\.venv/bin/", "", line)
        if line.startswith("@echo"):
            continue
        if not line.startswith("csmetrics "):
            msg = f"make {target} runs {line!r}, which the docs test cannot run: mark the block with a skip"
            raise AssertionError(msg)
        out.append(line)
    return out


class Shell:
    """One reader's terminal: a working directory, the environment, and the servers started in it."""

    def __init__(self, cwd: Path, shared_server: Callable[[], Server] | None = None) -> None:
        self.cwd = cwd
        self.runner = CliRunner()
        self.stack = ExitStack()
        self.server: Server | None = None
        self.shared_server = shared_server

    def __enter__(self) -> Shell:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stack.close()

    def run(self, command: str) -> list[Result]:
        argv = shlex.split(command)
        env = {}
        while argv and re.match(r"^[A-Za-z_]\w*=", argv[0]):
            k, _, v = argv.pop(0).partition("=")
            env[k] = v
        if argv[:1] == ["csmetrics"]:
            return [self.csmetrics(argv[1:], env, command)]
        if argv[:1] == ["make"]:
            return [r for target in argv[1:] for line in make_recipe(target) for r in self.run(line)]
        if argv[:1] == ["curl"]:
            return [self.curl(command)]
        return [self.bash(command)]

    def csmetrics(self, args: list[str], env: dict[str, str], command: str) -> Result:
        if args[:1] == ["demo"] and "--accounts" not in args:
            args = [*args, "--accounts", str(DEMO_ACCOUNTS)]
        if args[:1] == ["serve"]:
            return self.serve(args[1:], command)
        res = self.runner.invoke(app, args, env={**ENV, **env}, catch_exceptions=True)
        stderr = res.stderr
        if res.exception is not None and not isinstance(res.exception, SystemExit):
            import traceback

            stderr += "".join(traceback.format_exception(res.exception))
        return Result(command, res.exit_code, res.stdout, stderr)

    def serve(self, args: list[str], command: str) -> Result:
        if "--port" in args:
            i = args.index("--port")
            args = args[:i] + args[i + 2:]
        server = self.stack.enter_context(serving(*args))
        self.server = server
        # The README's walk-through: "/" sends a browser to the login form, which takes the printed token.
        home = httpx.get(f"{server.base}/", follow_redirects=False, timeout=30)
        lines = [f"GET / -> {home.status_code} {home.headers.get('location', '')}"]
        code = 0 if home.status_code in (302, 303, 307) and "/login" in home.headers.get("location", "") else 1
        if server.token is None:
            lines.append("serve printed no token on stderr")
            code = 1
        else:
            api = httpx.get(f"{server.base}/api/v1/metrics?metrics=mrr&last=1", timeout=60,
                            headers={"Authorization": f"Bearer {server.token}"})
            lines.append(f"GET /api/v1/metrics with the printed token -> {api.status_code}")
            code = code or (0 if api.status_code == 200 else 1)
        return Result(command, code, "\n".join(lines), "".join(server.stderr))

    def curl(self, command: str) -> Result:
        server = self.server or (self.shared_server() if self.shared_server else None)
        if server is None:
            msg = "curl needs a server"
            raise AssertionError(msg)
        command = command.replace("http://127.0.0.1:8000", server.base)
        command = re.sub(r"^curl\b", "curl -sS --fail-with-body", command)
        env = {"TOKEN": server.token or ""}
        return self.bash(command, env)

    def bash(self, command: str, env: dict[str, str] | None = None) -> Result:
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        proc = subprocess.run(["bash", "-c", command], cwd=self.cwd, capture_output=True, text=True, timeout=300,
                              env={**os.environ, **ENV, "PATH": path, **(env or {})})
        return Result(command, proc.returncode, proc.stdout, proc.stderr)

    def python(self, source: str) -> Result:
        script = self.cwd / "docs_block.py"
        script.write_text(source, encoding="utf-8")
        proc = subprocess.run([sys.executable, script.name], cwd=self.cwd, capture_output=True, text=True,
                              timeout=300, env={**os.environ, **ENV})
        return Result(f"python <<block>>\n{source}", proc.returncode, proc.stdout, proc.stderr)


def wants_json(argv: list[str]) -> bool:
    """The command prints JSON on stdout: ``--format json``, or curl of the API."""
    if argv[:1] == ["curl"]:
        return True
    return any(a == "--format" and b == "json" for a, b in zip(argv, argv[1:], strict=False)) or "--format=json" in argv


def parse_json(text: str) -> object:
    return json.loads(text)
