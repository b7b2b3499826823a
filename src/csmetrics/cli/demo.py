"""`csmetrics demo`: the synthetic company generator (see csmetrics.demo)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from csmetrics.cli.common import console, handle_errors
from csmetrics.schema.errors import UsageError


def register(app: typer.Typer) -> None:
    """Add the demo command to ``app``."""
    app.command("demo")(demo_cmd)


@handle_errors
def demo_cmd(
    out: Annotated[Path, typer.Option("--out", help="Directory to write the tables into.")] = Path("demo-data"),
    accounts: Annotated[int, typer.Option("--accounts", min=1, help="Number of accounts.")] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; the same seed writes the same files.")] = 0,
    months: Annotated[int, typer.Option("--months", min=1, help="Months of activity before --end.")] = 24,
    end: Annotated[
        str | None, typer.Option("--end", help="Day the data stops, exclusive (YYYY-MM-DD; default: the first "
                                 "day of the current month, UTC).", show_default=False)
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
    events_per_account: Annotated[
        int | None, typer.Option("--events-per-account", min=0, help="Mean usage events per account (default 100).",
                                 show_default=False)
    ] = None,
) -> None:
    """Write a synthetic SaaS company (every table of SPEC section 4) into OUT.

    Accounts, subscriptions with upgrades, downgrades, churn and reactivations,
    one-off charges, tickets, NPS/CSAT/CES answers with comments, usage events,
    renewals, costs and EUR fx rates, with known behaviour planted for the
    analytics to find. Deterministic for a given seed. See docs/demo.md.
    """
    from csmetrics.demo import generate
    from csmetrics.demo.writer import FORMATS

    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    try:
        end_day = dt.date.fromisoformat(end) if end else None
    except ValueError:
        raise UsageError(f"--end must be a date YYYY-MM-DD, not {end!r}") from None
    started = time.perf_counter()
    with Progress(TextColumn("generating accounts"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("accounts", total=accounts)
        counts = generate(out, accounts=accounts, seed=seed, months=months, end=end_day, fmt=fmt,
                          events_per_account=events_per_account,
                          progress=lambda done, _total: bar.update(task, completed=done))
    elapsed = time.perf_counter() - started
    t = Table(title=f"demo company written to {out} ({elapsed:.1f} s)")
    t.add_column("table")
    t.add_column("file")
    t.add_column("rows", justify="right")
    for name, rows in counts.items():
        t.add_row(name, f"{name}.{fmt}", f"{rows:,}")
    console.print(t)
    console.print(f"next: csmetrics metrics --data {out}   (or: csmetrics ingest --data {out})", highlight=False)
