"""While another process holds the workspace (`csmetrics serve`), every command that opens it fails
with one line saying what to do (exit 3), never a DuckDB traceback."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from csmetrics.cli.main import app
from csmetrics.io import ingest, open_workspace
from csmetrics.io.lock import connect_workspace, is_lock_conflict
from csmetrics.schema.errors import WorkspaceInUse
from tests.io.helpers import copy_valid
from tests.io.test_cli import runner

READ_ADVICE = ("stop it, or read through the server (its dashboard, or the REST API under /api/v1), "
               "or pass --data DIR to read a data directory instead")
WRITE_ADVICE = "stop it, then run this command again"

# A second process that opens the workspace for writing, as `csmetrics serve` does, and waits.
HOLD = ("import duckdb, sys; con = duckdb.connect(sys.argv[1]); con.execute('SELECT 1'); "
        "print('ready', flush=True); sys.stdin.readline()")


@dataclass
class Held:
    workspace: Path
    data: Path
    pid: int

    def message(self, advice: str) -> str:
        return f"workspace {self.workspace} is in use by another process (PID {self.pid}; `csmetrics serve`?): {advice}"


@pytest.fixture(scope="module")
def held(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Held]:
    root = tmp_path_factory.mktemp("lock")
    data = copy_valid(root / "data")
    ws = root / "ws.duckdb"
    ingest(data, ws)
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(ws)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        yield Held(ws, data, proc.pid)
    finally:
        proc.communicate("\n", timeout=30)


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["metrics"], id="metrics"),
        pytest.param(["accounts"], id="accounts"),
        pytest.param(["health"], id="health"),
        pytest.param(["health", "history"], id="health-history"),
        pytest.param(["explain", "mrr", "--period", "2025-03"], id="explain"),
        pytest.param(["report", "--out", "{tmp}/r.html"], id="report"),
        pytest.param(["feedback"], id="feedback"),
        pytest.param(["survival"], id="survival"),
        pytest.param(["clv"], id="clv"),
    ],
)
def test_read_commands_say_in_one_line_what_to_do(held: Held, tmp_path: Path, args: list[str]) -> None:
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = runner().invoke(app, [*argv, "--workspace", str(held.workspace)])
    assert result.exit_code == 3, result.output
    assert result.stderr.splitlines() == ["error: " + held.message(READ_ADVICE)]
    assert result.stdout == ""
    assert not (tmp_path / "r.html").exists()


def through(command: str) -> str:
    """The way round a held workspace for commands the server can run (tests/web/test_server_cli.py runs it)."""
    return f"; or send it through that server: `{command} --server URL` (admin token in CSMETRICS_TOKEN)"


def test_ingest_is_told_to_wait_for_the_other_process(held: Held) -> None:
    before = held.workspace.read_bytes()
    result = runner().invoke(app, ["ingest", "--data", str(held.data), "--workspace", str(held.workspace)])
    assert result.exit_code == 3, result.output
    assert result.stderr.splitlines() == ["error: " + held.message(WRITE_ADVICE) + through("csmetrics ingest")]
    assert held.workspace.read_bytes() == before


def test_a_real_command_prints_one_line_and_no_traceback(held: Held) -> None:
    done = subprocess.run([sys.executable, "-m", "csmetrics.cli.main", "accounts", "--workspace", str(held.workspace)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 3
    assert done.stderr.splitlines() == ["error: " + held.message(READ_ADVICE)]
    assert "Traceback" not in done.stderr + done.stdout


def test_the_library_raises_the_domain_error(held: Held) -> None:
    with pytest.raises(WorkspaceInUse, match=r"^workspace .* is in use by another process \(PID \d+; ") as info:
        open_workspace(held.workspace)
    assert (info.value.pid, info.value.writing, info.value.exit_code) == (held.pid, False, 3)
    with pytest.raises(WorkspaceInUse) as info:
        connect_workspace(held.workspace)
    assert str(info.value) == held.message(WRITE_ADVICE)


def test_other_duckdb_errors_are_not_called_a_lock(tmp_path: Path) -> None:
    bad = tmp_path / "not.duckdb"
    bad.write_bytes(b"this is not a database file" * 100)
    with pytest.raises(duckdb.Error) as info:
        connect_workspace(bad, read_only=True)
    assert not is_lock_conflict(info.value)


def test_the_message_names_csmetrics_serve_when_it_holds_the_workspace(tmp_path: Path) -> None:
    from tests.web.serving import serving

    data = copy_valid(tmp_path / "data")
    ws = tmp_path / "ws.duckdb"
    ingest(data, ws)
    with serving("--workspace", str(ws), "--open") as server:
        result = runner().invoke(app, ["metrics", "--workspace", str(ws)])
        assert result.exit_code == 3, result.output
        assert result.stderr.splitlines() == [
            f"error: workspace {ws} is in use by `csmetrics serve` (PID {server.proc.pid}): {READ_ADVICE}"]


def test_sources_and_a_stripe_import_say_in_one_line_what_to_do(held: Held) -> None:
    fixture = Path(__file__).parents[1] / "fixtures" / "stripe" / "account"
    before = held.workspace.read_bytes()
    result = runner().invoke(app, ["sources", "--workspace", str(held.workspace)])
    assert result.exit_code == 3, result.output
    assert result.stderr.splitlines() == ["error: " + held.message(READ_ADVICE)]
    result = runner().invoke(app, ["import", "stripe", str(fixture), "--workspace", str(held.workspace)])
    assert result.exit_code == 3, result.output
    assert result.stderr.splitlines() == ["error: " + held.message(WRITE_ADVICE)]
    assert held.workspace.read_bytes() == before


@pytest.mark.parametrize("args", [["token", "create", "--name", "x"], ["token", "list"], ["token", "revoke", "abc"]],
                         ids=["create", "list", "revoke"])
def test_token_commands_say_in_one_line_what_to_do(held: Held, args: list[str]) -> None:
    before = held.workspace.read_bytes()
    result = runner().invoke(app, [*args, "--workspace", str(held.workspace)])
    assert result.exit_code == 3, result.output
    command = "csmetrics " + " ".join(args[:2])
    assert result.stderr.splitlines() == ["error: " + held.message(WRITE_ADVICE) + through(command)]
    assert held.workspace.read_bytes() == before
