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
) -> None:
    """Validate DATA and upsert it into the workspace in one transaction.

    On any defect nothing is written and the exit code is 2. Re-ingesting the
    same files changes nothing (keys are upserted). See docs/data-contract.md.
    Then, when an alerts.toml is next to the workspace, alerts are evaluated and
    delivered (docs/alerts.md).
    """
    with working("validating and ingesting..."):
        counts = ingest(data, workspace)
    t = Table(title=f"ingested {data} into {workspace}")
    t.add_column("table")
    t.add_column("rows read", justify="right")
    t.add_column("rows stored", justify="right")
    for name, c in counts.items():
        t.add_row(name, f"{c['read']:,}", f"{c['stored']:,}")
    console.print(t)
    alerts_after_write(workspace)
