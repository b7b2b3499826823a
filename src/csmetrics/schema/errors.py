"""Domain errors. They carry the facts; the CLI and web edges format them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Defect:
    """One thing wrong with the input, located as precisely as we can."""

    file: str
    row: int | None
    column: str | None
    value: str | None
    expected: str
    # What ``column`` names: a column of a table file, or a setting of csmetrics.toml.
    column_kind: str = "column"
    # What ``row`` counts: rows of a table file (header = row 1), or lines of csmetrics.toml.
    row_kind: str = "row"

    def __str__(self) -> str:
        """``subscriptions.csv row 14, column ended_at: '2025-02-30' is not a date (expected YYYY-MM-DD)``."""
        parts = [self.file]
        if self.row is not None:
            parts.append(f"{self.row_kind} {self.row}")
        if self.column is not None:
            parts.append(f"{self.column_kind} {self.column}")
        where = parts[0] + (" " + ", ".join(parts[1:]) if len(parts) > 1 else "")
        if self.value is None:
            return f"{where}: {self.expected}"
        return f"{where}: {self.value!r} {self.expected}"


class CsmetricsError(Exception):
    """Base class of the errors csmetrics raises on purpose."""

    exit_code = 1


class DataError(CsmetricsError):
    """The input data breaks the contract of SPEC section 4.

    ``defects`` lists every problem found (up to a limit), not just the first.
    """

    exit_code = 2

    def __init__(self, defects: list[Defect], truncated: bool = False) -> None:
        self.defects = defects
        self.truncated = truncated
        lines = [str(d) for d in defects]
        if truncated:
            lines.append("... more defects not shown")
        super().__init__("\n".join(lines))


class UsageError(CsmetricsError):
    """The user asked for something that cannot be done (unknown metric, bad period...)."""

    exit_code = 2


class WorkspaceInUse(CsmetricsError):
    """Another process holds the workspace file (DuckDB allows one writing process per file).

    Typically ``csmetrics serve``, which keeps its workspace open for writing while it runs;
    DuckDB then refuses every other process, read-only ones included. The message says, in
    one line, what to do instead. Exit code 3: the command may simply be run again later.
    """

    exit_code = 3

    def __init__(self, workspace: str, pid: int | None = None, holder: str | None = None,
                 writing: bool = False) -> None:
        self.workspace = workspace
        self.pid = pid
        self.holder = holder
        self.writing = writing
        pid_text = f"PID {pid}" if pid is not None else "PID unknown"
        who = f"{holder} ({pid_text})" if holder else f"another process ({pid_text}; `csmetrics serve`?)"
        if writing:
            todo = "stop it, then run this command again"
        else:
            todo = ("stop it, or read through the server (its dashboard, or the REST API under /api/v1), "
                    "or pass --data DIR to read a data directory instead")
        super().__init__(f"workspace {workspace} is in use by {who}: {todo}")
