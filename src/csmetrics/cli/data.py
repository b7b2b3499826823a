"""`csmetrics ingest`: validated, all-or-nothing load of a data directory into a workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from csmetrics.cli.common import alerts_after_write, console, handle_errors, working
from csmetrics.io.dataset import DEFAULT_WORKSPACE, ingest


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest_cmd)
    from csmetrics.cli import demo

    demo.register(app)


@handle_errors
def ingest_cmd(
    data: Annotated[Path, typer.Option("--data", help="Data directory of CSV/Parquet files.")],
    workspace: Annotated[Path, typer.Option("--workspace", help="Workspace DuckDB file.")] = DEFAULT_WORKSPACE,
    server: Annotated[str | None, typer.Option(
        "--server", show_default=False,
        help="URL of the `csmetrics serve` holding the workspace: upload DATA's files to it (admin token in "
             "the environment variable CSMETRICS_TOKEN) instead of opening the workspace.")] = None,
) -> None:
    """Validate DATA and upsert it into the workspace, all or nothing.

    On any defect nothing is written and the exit code is 2. Re-ingesting the
    same files changes nothing (keys are upserted). See docs/data-contract.md.
    Then, when an alerts.toml is next to the workspace, alerts are evaluated and
    delivered (docs/alerts.md). While `csmetrics serve` holds the workspace,
    --server URL ingests through it (docs/api.md; alerts are then the server's).
    """
    from csmetrics.io.lock import through_server
    from csmetrics.schema.errors import WorkspaceInUse

    if server is not None:
        from csmetrics.web.client import ServerClient

        with working("uploading and ingesting..."):
            counts = ServerClient(server).ingest(data)
        _print_counts(counts, f"ingested {data} through {server}")
        return
    with working("validating and ingesting..."):
        try:
            counts = ingest(data, workspace)
        except WorkspaceInUse as exc:
            raise through_server(exc, "csmetrics ingest") from None
    _print_counts(counts, f"ingested {data} into {workspace}")
    alerts_after_write(workspace)


def _print_counts(counts: dict[str, dict[str, int]], title: str) -> None:
    t = Table(title=title)
    t.add_column("table")
    t.add_column("rows read", justify="right")
    t.add_column("rows stored", justify="right")
    for name, c in counts.items():
        t.add_row(name, f"{c['read']:,}", f"{c['stored']:,}")
    console.print(t)
