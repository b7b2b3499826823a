"""`csmetrics sync`, `csmetrics import` and `csmetrics sources`: data straight from Stripe (docs/stripe.md)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from csmetrics.cli.common import alerts_after_write, console, err, handle_errors
from csmetrics.io.dataset import DEFAULT_WORKSPACE
from csmetrics.schema.errors import UsageError
from csmetrics.sources import SOURCES

if TYPE_CHECKING:
    from csmetrics.sources import Connector
    from csmetrics.sources.workspace import Result

SourceArg = Annotated[str, typer.Argument(help="The system to read: " + ", ".join(SOURCES) + ".")]
WorkspaceOpt = Annotated[Path, typer.Option("--workspace", help="Workspace DuckDB file.")]
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", help="csmetrics.toml with \\[sources.NAME] tables (default ./csmetrics.toml if present).",
                 show_default=False),
]


def register(app: typer.Typer) -> None:
    app.command("sync")(sync_cmd)
    app.command("import")(import_cmd)
    app.command("sources")(sources_cmd)


def _connector(source: str) -> Connector:
    from csmetrics.sources import connector

    return connector(source)


@contextmanager
def _bars(unit: str) -> Iterator[Callable[[str, int, bool], None]]:
    """A progress bar per object type on stderr; yields ``progress(kind, done so far, finished)``.

    The bars appear with the first report, so a command that fails before reading anything
    (a held workspace, a bad setting) prints only its one-line error.
    """
    tasks: dict[str, TaskID] = {}
    bars: list[Progress] = []

    def progress(kind: str, n: int, done: bool) -> None:
        if not bars:
            bars.append(Progress(TextColumn("{task.description:<14}"), BarColumn(),
                                 TextColumn("{task.completed:,} " + unit), TimeElapsedColumn(), console=err,
                                 transient=False))
            bars[0].start()
        if kind not in tasks:
            tasks[kind] = bars[0].add_task(kind, total=None)
        bars[0].update(tasks[kind], completed=n, total=n if done else None)

    try:
        yield progress
    finally:
        if bars:
            bars[0].stop()


def _summary(title: str, conn: Connector, result: Result) -> None:
    console.print(title, highlight=False)
    t = Table()
    t.add_column("table")
    t.add_column(f"rows from {conn.name}", justify="right")
    for name, n in result.rows.items():
        t.add_row(name, f"{n:,}")
    console.print(t)
    if conn.authority:
        accounts = f"{conn.name} defines the accounts: its names and CSMs win over other sources'"
    else:
        accounts = f"accounts matched {result.matched:,}, unmatched {result.unmatched:,}"
    if result.changed:
        console.print(f"{result.raw_changed:,} object(s) new or changed of {result.objects:,}; {accounts}",
                      highlight=False)
    else:
        console.print(f"nothing new: the workspace is unchanged ({result.objects:,} objects)", highlight=False)
    for note in result.notes:
        console.print(note, highlight=False)


@handle_errors
def sync_cmd(
    source: SourceArg,
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    api_base: Annotated[str | None, typer.Option("--api-base", help="Another API host (a proxy, a test server).",
                                                 show_default=False)] = None,
    full: Annotated[bool, typer.Option("--full", help="Re-list every object instead of what is new.")] = False,
    config: ConfigOpt = None,
    server: Annotated[str | None, typer.Option(
        "--server", show_default=False,
        help="URL of the `csmetrics serve` holding the workspace: it syncs with its own credentials and "
             "settings (admin token in the environment variable CSMETRICS_TOKEN).")] = None,
) -> None:
    """Pull new and changed objects through the vendor's API, map them and upsert them into the workspace.

    Credentials come only from environment variables (STRIPE_API_KEY, HUBSPOT_TOKEN,
    ZENDESK_EMAIL + ZENDESK_API_TOKEN, SALESFORCE_*; names set in \\[sources.NAME] of
    csmetrics.toml). All-or-nothing: a failure leaves the workspace as it was. A second
    sync with nothing new changes nothing. While `csmetrics serve` holds the workspace,
    --server URL makes the server sync (docs/api.md). See docs/sources.md.
    """
    if server is not None:
        if api_base is not None or config is not None:
            raise UsageError("with --server the server syncs with its own settings: drop --api-base and --config")
        from csmetrics.web.client import ServerClient

        with console.status(f"syncing {source} through {server}..."):
            done = ServerClient(server).sync(source, full)
        console.print(done["summary"], highlight=False)
        if done.get("alerts"):
            err.print(f"alerts: {done['alerts']}", highlight=False)
        return
    conn = _connector(source)
    if not conn.can_sync:
        raise UsageError(f"{source} has no API to sync from: use `csmetrics import {source} PATH`")
    settings = conn.load_settings(config)
    from csmetrics.io.lock import through_server
    from csmetrics.schema.errors import WorkspaceInUse

    try:
        with _bars("objects") as progress:
            result = conn.sync(workspace, settings, api_base=api_base, full=full, progress=progress)
    except WorkspaceInUse as exc:
        raise through_server(exc, f"csmetrics sync {source}") from None
    _summary(f"synced {source} into {workspace} in {result.seconds:.1f} s ({result.requests} list calls)", conn,
             result)
    if result.changed:
        alerts_after_write(workspace)


@handle_errors
def import_cmd(
    source: SourceArg,
    directory: Annotated[Path, typer.Argument(help="The vendor's saved files: a directory of JSON files "
                                              "(customers.json...), or a file or directory for segment/delighted.")],
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    out: Annotated[Path | None, typer.Option("--out", help="Write contract CSV files to this data directory "
                                             "instead of a workspace.", show_default=False)] = None,
    config: ConfigOpt = None,
) -> None:
    """Map saved API objects (page shapes or JSON lines) and upsert them into the workspace, as sync does.

    Bad JSON or an object of the wrong shape: an error naming file, line or object index and
    field, exit code 2, nothing written. See docs/sources.md.
    """
    conn = _connector(source)
    settings = conn.load_settings(config)
    if out is not None:
        counts = conn.import_to_data_dir(directory, out, settings)
        console.print(f"wrote {', '.join(f'{t}.csv ({n:,} rows)' for t, n in counts.items())} to {out}",
                      highlight=False)
        return
    with _bars("records") as progress:
        result = conn.import_path(directory, workspace, settings, progress=progress)
    _summary(f"imported {source} {directory} into {workspace} in {result.seconds:.1f} s", conn, result)
    if result.changed:
        alerts_after_write(workspace)


@handle_errors
def sources_cmd(
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    config: ConfigOpt = None,
) -> None:
    """Per source: last sync, staleness against max_age_days, rows per table, matched / unmatched records.

    Unmatched records are accounts a source created that no other system knows (e.g. a
    help-desk organization with no CRM company), with examples. See docs/sources.md.
    """
    from csmetrics.sources.status import max_ages, status

    if fmt not in ("table", "json"):
        raise UsageError(f"--format must be table or json, not {fmt!r}")
    rows = status(workspace, max_ages(config))
    if fmt == "json":
        print(json.dumps(rows, indent=1))
        return
    if not rows:
        console.print(f"no source has been synced or imported into {workspace}", highlight=False)
        return
    from csmetrics.schema.tables import TABLE_ORDER

    t = Table(title=f"sources of {workspace}")
    for col, just in (("source", "left"), ("last sync (UTC)", "left"), ("age / max (days)", "right"),
                      ("objects", "right"), ("rows", "left"), ("matched", "right"), ("unmatched", "right"),
                      ("unmatched examples", "left"), ("also counted", "left")):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    fixed = {"source", "last_sync", "staleness_days", "max_age_days", "stale", "newest_object", "objects",
             "matched", "unmatched", "unmatched_examples"}
    for r in rows:
        age = "never" if r["staleness_days"] is None else f"{r['staleness_days']:g}"
        age += f" / {r['max_age_days']:g}" + (" [bold red]stale[/]" if r["stale"] else "")
        tables = ", ".join(f"{k} {v:,}" for k, v in r.items() if k in TABLE_ORDER)
        counts = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in r.items()
                           if k not in fixed and k not in TABLE_ORDER and isinstance(v, int) and v)
        last = (r["last_sync"] or "")[:16].replace("T", " ")
        t.add_row(r["source"], last, age, f"{r['objects']:,}", tables,
                  "" if r["matched"] is None else f"{r['matched']:,}",
                  "" if r["unmatched"] is None else f"{r['unmatched']:,}", "; ".join(r["unmatched_examples"]),
                  counts)
    console.print(t)


__all__ = ["register"]
