"""Shared CLI plumbing: the --data/--workspace options, error handling, consoles."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from csmetrics.report.formats import dumps_finite
from csmetrics.schema.errors import CsmetricsError, DataError

console = Console()
err = Console(stderr=True)


def fit_consoles() -> None:
    """Read the width afresh for this command: ``COLUMNS`` if set, else the terminal's at each print.

    Rich fixes a console's width from ``COLUMNS`` when the console is made, at import. The
    consoles outlive one command (tests, in-process use), so each command starts from the
    environment it runs in, not from the one the module was first imported in.
    """
    import os

    columns = os.environ.get("COLUMNS", "")
    for c in (console, err):
        if columns.isdigit() and int(columns) > 0:
            c.width = int(columns)
        else:
            c._width = None  # Rich's documented default: measure the terminal (or 80) at each print

F = TypeVar("F", bound=Callable[..., Any])

DataOpt = Annotated[
    Path | None,
    typer.Option("--data", help="Data directory of CSV/Parquet files (SPEC section 4).", show_default=False),
]
WorkspaceOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        help="DuckDB workspace written by `csmetrics ingest` (default ./.csmetrics/workspace.duckdb).",
        show_default=False,
    ),
]


def handle_errors(fn: F) -> F:
    """Turn domain errors into a message on stderr and a non-zero exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        fit_consoles()
        try:
            return fn(*args, **kwargs)
        except DataError as exc:
            n = len(exc.defects)
            err.print(f"[bold red]error:[/] the data has {n}{'+' if exc.truncated else ''} defect(s):",
                      highlight=False)
            for d in exc.defects:
                # soft_wrap: one defect per line at any width, so logs can be grepped.
                err.print(f"  {d}", markup=False, highlight=False, soft_wrap=True)
            if exc.truncated:
                err.print("  ... more defects not shown", highlight=False)
            raise typer.Exit(exc.exit_code) from None
        except CsmetricsError as exc:
            # soft_wrap: a one-line message stays one line (e.g. "workspace ... is in use"), at any width.
            err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None

    return wrapper  # type: ignore[return-value]


@contextlib.contextmanager
def working(message: str) -> Iterator[Callable[[str], None]]:
    """A spinner with ``message`` on stderr while the block runs, only when stderr is a terminal.

    Never on stdout, so ``--format json`` and pipes stay clean. Yields a function that
    changes the message (for steps of a long run).
    """
    if not err.is_terminal:
        yield lambda _msg: None
        return
    with err.status(message) as status:
        yield lambda msg: status.update(msg)


def print_json(obj: Any, **kwargs: Any) -> None:
    """``obj`` as JSON on stdout; NaN and infinities are written as null with a note on stderr naming them."""
    text, note = dumps_finite(obj, default=str, **kwargs)
    print(text)
    if note:
        err.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)


def alerts_after_write(workspace: Path) -> None:
    """Evaluate and deliver the workspace's alerts after ``ingest``/``sync``/``import`` changed it (docs/alerts.md).

    Nothing happens unless alerts are set up (an ``alerts.toml`` next to the
    workspace). A failing rule or delivery never undoes the write: it is
    reported on stderr and kept in the outbox.
    """
    from csmetrics.alerts import after_write

    try:
        done = after_write(workspace)
    except CsmetricsError as exc:
        err.print(f"alerts not evaluated: {exc}", highlight=False)
        return
    if done is None:
        return
    new, report = done
    err.print(f"alerts: {len(new)} new; deliveries sent {len(report.sent)}, retrying {len(report.retrying)}, "
              f"failed {len(report.failed)} (csmetrics alerts list --workspace {workspace})", highlight=False)
