"""One answer, in one place, when another process holds a workspace file.

DuckDB lets one process write a database file, and while it does no other
process may open the file at all, not even read-only (DuckDB takes an
exclusive file lock for a writer and a shared one for readers). ``csmetrics
serve`` keeps its workspace open for writing (survey answers, tokens), so
every other command that opens that workspace meets DuckDB's ``IOException:
Could not set lock on file ...``. The functions here turn it into
:class:`~csmetrics.schema.errors.WorkspaceInUse`, whose message says what to do.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from csmetrics.schema.errors import WorkspaceInUse

__all__ = ["attach_workspace", "connect_workspace", "is_lock_conflict", "through_server", "translate_lock_errors"]

LOCK_MESSAGE = "Could not set lock on file"
_PID = re.compile(r"\(PID (\d+)\)")


def is_lock_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` is DuckDB refusing a file another process holds."""
    return isinstance(exc, duckdb.Error) and LOCK_MESSAGE in str(exc)


def _holder(pid: int) -> str | None:
    """``csmetrics serve`` when the process holding the file is one (read from /proc where there is one)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    words = [a.decode(errors="replace") for a in args if a]
    named = any(Path(w).name == "csmetrics" or w == "csmetrics" or w.endswith("csmetrics.cli.main") for w in words)
    if named and "serve" in words:
        return "`csmetrics serve`"
    return None


def in_use(workspace: str | Path, exc: BaseException, writing: bool = False) -> WorkspaceInUse:
    """The domain error for DuckDB's lock conflict ``exc`` on ``workspace``."""
    m = _PID.search(str(exc))
    pid = int(m.group(1)) if m else None
    return WorkspaceInUse(str(workspace), pid, _holder(pid) if pid is not None else None, writing)


def through_server(exc: WorkspaceInUse, command: str) -> WorkspaceInUse:
    """``exc`` with the way round it for a command that can go through the server holding the workspace:
    ``command --server URL`` with an admin token in ``CSMETRICS_TOKEN`` (exit code 3 as before)."""
    hinted = WorkspaceInUse(exc.workspace, exc.pid, exc.holder, exc.writing)
    hinted.args = (f"{exc}; or send it through that server: `{command} --server URL` "
                   "(admin token in CSMETRICS_TOKEN)",)
    return hinted


@contextmanager
def translate_lock_errors(workspace: str | Path, writing: bool = False) -> Iterator[None]:
    """Raise :class:`WorkspaceInUse` instead of DuckDB's lock conflict inside the block."""
    try:
        yield
    except duckdb.Error as exc:
        if is_lock_conflict(exc):
            raise in_use(workspace, exc, writing) from None
        raise


def connect_workspace(workspace: str | Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect(workspace)``, raising :class:`WorkspaceInUse` when another process holds it."""
    with translate_lock_errors(workspace, writing=not read_only):
        return duckdb.connect(str(workspace), read_only=read_only)


def attach_workspace(con: duckdb.DuckDBPyConnection, workspace: str | Path, alias: str = "ws",
                     read_only: bool = False, writing: bool = True) -> None:
    """``ATTACH workspace AS alias`` on ``con``, raising :class:`WorkspaceInUse` when another process holds it.

    ``writing`` says whether the command writes, which decides the advice: a
    command that attaches read-only to validate and then writes (ingest) is
    told to stop the other process, not to read elsewhere.
    """
    path = "'" + str(workspace).replace("'", "''") + "'"
    with translate_lock_errors(workspace, writing=writing):
        con.execute(f"ATTACH {path} AS {alias}" + (" (READ_ONLY)" if read_only else ""))
