"""`csmetrics metrics` and `csmetrics explain`: the metric layer on the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import RenderableType
from rich.table import Table

from csmetrics.cli.common import DataOpt, WorkspaceOpt, console, err, handle_errors, print_json, working
from csmetrics.cli.render import Grid, Layout, period_grid, print_tables, terminal_width
from csmetrics.compute import compute_dataset
from csmetrics.engine import open_dataset
from csmetrics.registry import REGISTRY, load_all
from csmetrics.report.formats import compact_value, format_value, to_csv, to_json
from csmetrics.schema.errors import UsageError

FORMATS = ("table", "json", "csv")

EngineOpt = Annotated[str, typer.Option("--engine", help="Backend: duckdb (default) or spark.")]
MasterOpt = Annotated[
    str | None, typer.Option("--spark-master", help="Spark master URL (default local[2]).", show_default=False)
]


def register(app: typer.Typer) -> None:
    app.command("metrics")(metrics_cmd)
    app.command("explain")(explain_cmd)


def fmt_value(v: float | None, unit: str) -> str:
    return format_value(v, unit)


def metrics_grid(df: pd.DataFrame, title: str, by: str | None = None) -> Grid:
    """Metric rows as a :class:`Grid`: each value in full (1,028,213.73) and compact (1.03M) form."""
    periods = list(dict.fromkeys(df["period"]))
    grouped = bool(df["group"].notna().any())
    names = list(dict.fromkeys(str(m) for m in df["metric"]))
    groups: list[str | None] = list(dict.fromkeys(str(x) for x in df["group"])) if grouped else [None]
    g = Grid(title=title, name_header="metric", periods=periods, names=names, groups=groups,
             group_header=(by or "group") if grouped else None)
    for metric, period, group, value in df[["metric", "period", "group", "value"]].itertuples(index=False):
        unit = REGISTRY[str(metric)].unit
        v = None if value is None or pd.isna(value) else float(value)
        g.cells[(str(metric), str(group) if grouped else None, str(period))] = (fmt_value(v, unit),
                                                                            compact_value(v, unit))
    return g


def render_table(df: pd.DataFrame, title: str, width: int | None = None, layout: Layout = "auto",
                 by: str | None = None) -> list[RenderableType]:
    """The tables that show ``df`` in ``width`` columns: periods as columns if they fit, else as rows."""
    return period_grid(metrics_grid(df, title, by), width, layout)


@handle_errors
def metrics_cmd(
    data: DataOpt = None,
    workspace: WorkspaceOpt = None,
    period: Annotated[str, typer.Option("--period", help="week, month, quarter or year.")] = "month",
    start: Annotated[str | None, typer.Option("--start", help="First day (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option("--end", help="End day, exclusive (YYYY-MM-DD).")] = None,
    last: Annotated[int | None, typer.Option("--last", help="Only the last N periods.", min=1)] = None,
    by: Annotated[str | None, typer.Option("--by", help="Group by an accounts column (segment, csm...).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, json or csv.")] = "table",
    metrics: Annotated[str | None, typer.Option("--metrics", help="Comma-separated metric names.")] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the metrics and their definitions.")] = False,
    engine: EngineOpt = "duckdb",
    spark_master: MasterOpt = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Compute every period afresh (ignore and "
                                           "do not update the workspace's result cache).")] = False,
    wide: Annotated[bool, typer.Option("--wide", help="Table: periods as columns with full numbers, however "
                                       "wide the terminal (for `less -S` or a wide window).")] = False,
    transpose: Annotated[bool, typer.Option("--transpose", help="Table: periods as rows, metrics as columns. "
                                            "Without --wide or --transpose the table fits the terminal "
                                            "(COLUMNS): periods as columns when they fit, else as rows, "
                                            "with compact numbers (1.03M, 18.1k) when full ones do not fit. "
                                            "json and csv always have every value in full.")] = False,
) -> None:
    """Compute metrics per period (and group). See docs/metrics.md for every definition.

    Rates are fractions; nps, csat and ces are on their 0-100 / -100..100 scales.
    Metrics whose tables are absent are omitted with a note on stderr.
    On a workspace, each period's results are cached: a re-run computes only
    the periods whose input rows changed (docs/scale.md, "Incremental runs").
    """
    if list_:
        load_all()
        if fmt == "json":
            print(json.dumps([{"metric": m.name, "unit": m.unit, "needs": list(m.needs), "family": m.family,
                               "definition": m.definition} for m in REGISTRY.values()], indent=1))
            return
        t = Table(title="csmetrics metrics")
        t.add_column("metric", style="bold", no_wrap=True)
        t.add_column("unit")
        t.add_column("needs")
        t.add_column("definition")
        for m in REGISTRY.values():
            t.add_row(m.name, m.unit, ", ".join(m.needs) or "-", m.summary)
        console.print(t)
        return
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    with working(f"computing metrics ({engine})..."):
        ds = open_dataset(data, workspace, engine, spark_master)
        try:
            result = compute_dataset(ds, metrics, period, start, end, by, last, cache=not no_cache)
        finally:
            ds.backend.disconnect()
    for note in result.notes:
        err.print(f"note: {note}", highlight=False)
    if result.computed is not None and result.computed < len(result.periods):
        err.print(f"note: {len(result.periods) - result.computed} of {len(result.periods)} periods read from "
                  "the result cache (inputs unchanged); --no-cache recomputes them", highlight=False)
    if fmt == "json":
        print(to_json(result.rows))
    elif fmt == "csv":
        print(to_csv(result.rows), end="")
    else:
        src = data or workspace or "workspace"
        title = f"csmetrics: {src}, by {period}" + (f", per {by}" if by else "")
        width = terminal_width()
        layout: Layout = "transpose" if transpose else "wide" if wide else "auto"
        # --wide --transpose: periods as rows at their natural width, full numbers.
        if wide:
            width = None  # natural width: the terminal wraps, `less -S` scrolls
        print_tables(render_table(result.rows, title, width, layout, by), width)


@handle_errors
def explain_cmd(
    metric: Annotated[str, typer.Argument(help="Metric name (see `csmetrics metrics --list`).")],
    period: Annotated[str, typer.Option("--period", help="Period label: 2025-05, 2025-Q2, 2025, 2025-W19.")],
    data: DataOpt = None,
    workspace: WorkspaceOpt = None,
    by: Annotated[str | None, typer.Option("--by", help="Grouping column (with --group).")] = None,
    group: Annotated[str | None, typer.Option("--group", help="Group value to explain.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    limit: Annotated[int, typer.Option("--limit", help="Rows to show in table format (0 = all).", min=0)] = 50,
) -> None:
    """Show a metric's definition, its inputs and the rows behind its value, to audit it."""
    from csmetrics.explain import _jsonable, explain, labelled_definition

    if fmt not in ("table", "json"):
        raise UsageError(f"--format {fmt!r}: expected table or json")
    with working("explaining..."):
        ds = open_dataset(data, workspace)
        try:
            ex = explain(ds, metric, period, group, by)
        finally:
            ds.backend.disconnect()
    if fmt == "json":
        print_json(ex.to_dict(), indent=1)
        return
    unit = REGISTRY[metric].unit
    head = f"[bold]{ex.metric}[/] for {ex.period}" + (f", {by} = {ex.group}" if ex.group is not None else "")
    console.print(head + f": [bold]{fmt_value(ex.value, unit)}[/]")
    console.print(labelled_definition(ex.definition), highlight=False, markup=False)
    if ex.inputs:
        t = Table(title="inputs")
        t.add_column("input")
        t.add_column("value", justify="right")
        for k, v in ex.inputs.items():
            t.add_row(k, f"{v:,.4f}".rstrip("0").rstrip(".") if isinstance(v, float) else str(v))
        console.print(t)
    rows = ex.rows if limit == 0 else ex.rows.head(limit)
    t = Table(title=f"{ex.rows_label}: {len(ex.rows)} row(s)" + (
        f", first {limit} shown" if 0 < limit < len(ex.rows) else ""))
    for c in rows.columns:
        label = ex.column_labels.get(str(c))  # "MRR at start\n(day before P:\n2026-04-30)": narrow columns
        t.add_column(str(c) if label is None else label.replace(" (", "\n(").replace(": ", ":\n"),
                     justify="left" if label is None else "right")
    for r in rows.itertuples(index=False):
        t.add_row(*["" if pd.isna(x) else str(_jsonable(x)) for x in r])
    console.print(t)
    if len(ex.subscriptions):
        subs = ex.subscriptions if limit == 0 else ex.subscriptions.head(limit)
        t = Table(title=f"subscription rows behind these accounts: {len(ex.subscriptions)}")
        for c in subs.columns:
            t.add_column(str(c), overflow="fold")
        for r in subs.itertuples(index=False):
            t.add_row(*["" if pd.isna(x) else str(_jsonable(x)) for x in r])
        console.print(t)


__all__ = ["Path", "register"]
