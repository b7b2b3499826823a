"""`csmetrics sync`, `csmetrics import` and `csmetrics sources`: data straight from Stripe (docs/stripe.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from csmetrics.cli.common import console, err, handle_errors
from csmetrics.io.dataset import DEFAULT_WORKSPACE
from csmetrics.schema.errors import UsageError
from csmetrics.sources import SOURCES

if TYPE_CHECKING:
    from csmetrics.sources.stripe.pipeline import Result

SourceArg = Annotated[str, typer.Argument(help="The system to read: stripe.")]
WorkspaceOpt = Annotated[Path, typer.Option("--workspace", help="Workspace DuckDB file.")]
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", help="csmetrics.toml with \\[sources.stripe] (default ./csmetrics.toml if present).",
                 show_default=False),
]


def register(app: typer.Typer) -> None:
    app.command("sync")(sync_cmd)
    app.command("import")(import_cmd)
    app.command("sources")(sources_cmd)


def _check(source: str) -> None:
    if source not in SOURCES:
        raise UsageError(f"unknown source {source!r} (known: {', '.join(SOURCES)})")


def _summary(title: str, result: Result) -> None:
    t = Table(title=title)
    t.add_column("table")
    t.add_column("rows from stripe", justify="right")
    for name, n in result.rows.items():
        t.add_row(name, f"{n:,}")
    console.print(t)
    if result.changed:
        console.print(f"{result.raw_changed:,} object(s) new or changed of {result.objects:,}; "
                      f"accounts matched {result.matched:,}, unmatched {result.unmatched:,}", highlight=False)
    else:
        console.print(f"nothing new: the workspace is unchanged ({result.objects:,} objects)", highlight=False)
    if result.unmatched_charges:
        console.print(f"{result.unmatched_charges:,} charge(s) without a customer are not in the charges table "
                      "(counted in `csmetrics sources`)", highlight=False)


@handle_errors
def sync_cmd(
    source: SourceArg,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    api_base: Annotated[str | None, typer.Option("--api-base", help="Another API host (a proxy, a test server).",
                                                 show_default=False)] = None,
    full: Annotated[bool, typer.Option("--full", help="Re-list every object instead of what is new.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Pull new and changed objects through the vendor's API, map them and upsert them into the workspace.

    The API key comes only from the environment variable STRIPE_API_KEY (name set by
    \\[sources.stripe] api_key_env in csmetrics.toml). All-or-nothing: a failure leaves the
    workspace as it was. A second sync with nothing new changes nothing. See docs/stripe.md.
    """
    _check(source)
    from csmetrics.sources.stripe.pipeline import StripeSettings, sync

    settings = StripeSettings.load(config)
    tasks: dict[str, TaskID] = {}
    with Progress(TextColumn("{task.description:<14}"), BarColumn(), TextColumn("{task.completed:,} objects"),
                  TimeElapsedColumn(), console=err, transient=False) as bars:

        def progress(kind: str, n: int, done: bool) -> None:
            if kind not in tasks:
                tasks[kind] = bars.add_task(kind, total=None)
            bars.update(tasks[kind], completed=n, total=n if done else None)

        result = sync(workspace, settings, api_base=api_base, full=full, progress=progress)
    _summary(f"synced {source} into {workspace} in {result.seconds:.1f} s ({result.requests} list calls)", result)


@handle_errors
def import_cmd(
    source: SourceArg,
    directory: Annotated[Path, typer.Argument(help="Directory of the vendor's JSON files (customers.json...).")],
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    out: Annotated[Path | None, typer.Option("--out", help="Write contract CSV files to this data directory "
                                             "instead of a workspace.", show_default=False)] = None,
    config: ConfigOpt = None,
) -> None:
    """Map saved API objects (list objects or JSON lines) and upsert them into the workspace, as sync does.

    Bad JSON or an object of the wrong shape: an error naming file, line or object index and
    field, exit code 2, nothing written. See docs/stripe.md.
    """
    _check(source)
    from csmetrics.sources.stripe.pipeline import StripeSettings, import_dir, import_to_data_dir

    settings = StripeSettings.load(config)
    if out is not None:
        counts = import_to_data_dir(directory, out, settings)
        console.print(f"wrote {', '.join(f'{t}.csv ({n:,} rows)' for t, n in counts.items())} to {out}",
                      highlight=False)
        return
    with console.status("reading, mapping and validating..."):
        result = import_dir(directory, workspace, settings)
    _summary(f"imported {source} {directory} into {workspace}", result)


@handle_errors
def sources_cmd(
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """Per source: last sync, objects, rows, matched / unmatched accounts and staleness."""
    from csmetrics.sources.stripe.pipeline import status

    rows = status(workspace)
    if fmt == "json":
        print(json.dumps(rows, indent=1))
        return
    if not rows:
        console.print(f"no source has been synced or imported into {workspace}", highlight=False)
        return
    t = Table(title=f"sources of {workspace}")
    for col in rows[0]:
        t.add_column(col.replace("_", " "), justify="left" if col in ("source", "last_sync") else "right")
    for r in rows:
        t.add_row(*["" if v is None else f"{v:,}" if isinstance(v, int) else str(v) for v in r.values()])
    console.print(t)


__all__ = ["register"]
