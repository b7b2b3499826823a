"""`csmetrics accounts` and `csmetrics health`: customer health on the command line.

Thin: parse options, call :mod:`csmetrics.models.health`, render. Docs: docs/health.md.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from csmetrics.cli.common import DataOpt, WorkspaceOpt, console, err, handle_errors, print_json, working
from csmetrics.cli.render import Col, fit_table, make_table, print_tables, terminal_width
from csmetrics.io.dataset import Dataset, opened
from csmetrics.models.health.records import ACCOUNT_ATTRS, account_record, csv_rows, json_records
from csmetrics.models.health.records import number as _num
from csmetrics.models.health.records import round_number as _r
from csmetrics.periods import check_grain, parse_date
from csmetrics.report.formats import compact_value
from csmetrics.schema.errors import UsageError

__all__ = ["account_record", "accounts_cmd", "health_app", "register"]  # account_record: for older importers

FORMATS = ("table", "json", "csv")
COLOR_STYLE = {"green": "green", "yellow": "yellow", "red": "bold red"}

AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="Score as of this day (YYYY-MM-DD; default: last day with activity).",
                 show_default=False),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--health-config", help="Health model TOML (default: DATA/health.toml, else the packaged model).",
                 show_default=False),
]
FormatOpt = Annotated[str, typer.Option("--format", help="table, json or csv.")]

health_app = typer.Typer(
    name="health",
    help="Customer health: colour mix, accounts at risk, history and backtest. Docs: docs/health.md",
    invoke_without_command=True,
    no_args_is_help=False,
)


def register(app: typer.Typer) -> None:
    """Add `accounts` and the `health` group to ``app``."""
    app.command("accounts")(accounts_cmd)
    app.add_typer(health_app)


# -- helpers ----------------------------------------------------------------------------------

def _check_format(fmt: str, allowed: tuple[str, ...] = FORMATS) -> None:
    if fmt not in allowed:
        raise UsageError(f"--format {fmt!r}: expected one of {', '.join(allowed)}")


def _scored(ds: Dataset, as_of: str | None, config_path: Path | None) -> tuple[pd.DataFrame, Any]:
    """Scores of every account with its name, segment and csm; and the config used."""
    from csmetrics.models.health import config_for, score_accounts

    cfg = config_for(ds.source, config_path)
    day = parse_date(as_of, "--as-of") if as_of else None
    df = score_accounts(ds, day, cfg)
    acc = ds.table("accounts")
    attrs = [c for c in ACCOUNT_ATTRS if c in acc.columns]
    if attrs:
        df = ds.backend.execute(acc.select("account_id", *attrs)).merge(df, on="account_id", how="right")
    return df, cfg


def _color(c: Any) -> str:
    if not isinstance(c, str):
        return "-"
    return f"[{COLOR_STYLE[c]}]{c}[/]"


def _change(v: Any) -> str:
    f = _num(v)
    if f is None:
        return "-"
    return f"[red]{f:+.0f}[/]" if f <= -5 else f"[green]{f:+.0f}[/]" if f >= 5 else f"{f:+.0f}"


def _money(v: Any, compact: bool = False) -> str:
    f = _num(v)
    if compact:
        return compact_value(f, "currency")
    return "-" if f is None else f"{f:,.2f}"


def _show(*tables: Table) -> None:
    print_tables(tables, terminal_width())


def _score(v: Any) -> str:
    # Floored so the shown number agrees with the colour (39.96 is red, shown 39).
    f = _num(v)
    return "-" if f is None else f"{math.floor(f + 1e-9):.0f}"


def _emit(df: pd.DataFrame, cfg: Any, fmt: str) -> None:
    """The accounts as JSON records or CSV rows, written a chunk at a time (built column by column)."""
    names = cfg.component_names
    signals = {n: cfg.base.components[n].signal for n in names}
    pieces = json_records(df, names, signals) if fmt == "json" else csv_rows(df, names)
    out = sys.stdout
    for piece in pieces:
        out.write(piece)
    if fmt == "json":
        out.write("\n")


# -- accounts -----------------------------------------------------------------------------------

@handle_errors
def accounts_cmd(
    data: DataOpt = None,
    workspace: WorkspaceOpt = None,
    as_of: AsOfOpt = None,
    fmt: FormatOpt = "table",
    health_config: ConfigOpt = None,
    color: Annotated[str | None, typer.Option("--color", help="Only accounts of this colour.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Rows in table format, riskiest first (0 = all).", min=0)] = 50,
) -> None:
    """Every account with its MRR, health score (0-100), colour and the component scores behind it.

    --format json prints one object per account (components nested: value,
    score, weight, contribution); csv flattens them. Docs: docs/health.md.
    """
    _check_format(fmt)
    if color is not None and color not in COLOR_STYLE:
        raise UsageError(f"--color {color!r}: expected green, yellow or red")
    with working("scoring accounts..."), opened(data, workspace) as ds:
        df, cfg = _scored(ds, as_of, health_config)
    if color is not None:
        df = df[df["health_color"] == color]
    if fmt != "table":
        _emit(df.sort_values("account_id", kind="stable"), cfg, fmt)
        return
    df = df.sort_values(["active", "health_score", "mrr"], ascending=[False, True, False], kind="stable")
    shown = df if limit == 0 else df.head(limit)
    day = df["as_of"].iloc[0] if len(df) else "-"
    title = (f"account health as of {day} ({len(df)} accounts"
             + (f", {len(shown)} riskiest shown" if len(shown) < len(df) else "") + ")")

    def build(compact: bool) -> Table:
        # Compact: name and CSM share a cell, money drops its cents, thin data is a "*".
        cols = [Col("account", "key"), *([Col("name / csm")] if compact else [Col("name"), Col("segment", "key"),
                                                                               Col("csm")]),
                *([Col("segment", "key")] if compact else []), Col("mrr", "num"), Col("score", "num"),
                Col("30d", "num"), Col("colour", "key"), Col("main drag")]
        rows = []
        for _, r in shown.iterrows():
            name, seg, csm = (escape(str(r.get(k) or "")) for k in ("name", "segment", "csm"))
            flag = "[dim]*[/]" if compact else " [dim](thin data)[/]"
            head = [name + (f"\n[dim]{csm}[/]" if csm else ""), seg] if compact else [name, seg, csm]
            rows.append([escape(str(r["account_id"])), *head, _money(r["mrr"], compact), _score(r["health_score"]),
                         _change(r.get("health_change")), _color(r["health_color"]) + (flag if r["thin_data"] else ""),
                         escape(str(r["main_drag"] or ""))])
        return make_table(title, cols, rows)

    t = fit_table(build, terminal_width())
    _show(t)
    if len(t.columns) == 8 and shown["thin_data"].any():
        console.print("[dim]*: thin data (some signals unknown; see --format json)[/]")


# -- health -------------------------------------------------------------------------------------

@health_app.callback()
@handle_errors
def health_cmd(
    ctx: typer.Context,
    data: DataOpt = None,
    workspace: WorkspaceOpt = None,
    as_of: AsOfOpt = None,
    at_risk: Annotated[bool, typer.Option("--at-risk", help="List red accounts by MRR at stake, with CSM and reasons.")]
    = False,
    fmt: FormatOpt = "table",
    health_config: ConfigOpt = None,
    limit: Annotated[int, typer.Option("--limit", help="Accounts listed with --at-risk (0 = all).", min=0)] = 0,
) -> None:
    """Colour mix of the paying accounts per segment; --at-risk lists the red ones by MRR at stake.

    Subcommands: `backtest` (does the score predict churn?) and `history`.
    """
    if ctx.invoked_subcommand is not None:
        return
    _check_format(fmt)
    with working("scoring accounts..."), opened(data, workspace) as ds:
        df, cfg = _scored(ds, as_of, health_config)
    day = df["as_of"].iloc[0] if len(df) else "-"
    df = df[df["active"]]
    if at_risk:
        red = df[df["health_color"] == "red"].sort_values(["mrr", "account_id"], ascending=[False, True],
                                                          kind="stable")
        if limit:
            red = red.head(limit)
        if fmt != "table":
            _emit(red, cfg, fmt)
            return
        total = red["mrr"].sum()
        title = f"accounts at risk (red) as of {day}: {len(red)}, MRR at stake {_money(total)}"

        def build(compact: bool) -> Table:
            cols = [Col("account", "key"), *([Col("name / csm")] if compact else [Col("name"), Col("csm")]),
                    Col("segment", "key"), Col("mrr", "num"), Col("score", "num"), Col("reasons")]
            rows = []
            for _, r in red.iterrows():
                reasons = "; ".join(r["reasons"]) or (r["main_drag"] or "")
                if r["thin_data"]:
                    reasons += " (thin data: " + ", ".join(r["missing"]) + " unknown)"
                name, csm = escape(str(r.get("name") or "")), escape(str(r.get("csm") or ""))
                head = [name + (f"\n[dim]{csm}[/]" if csm else "")] if compact else [name, csm]
                rows.append([escape(str(r["account_id"])), *head, escape(str(r.get("segment") or "")),
                             _money(r["mrr"], compact), _score(r["health_score"]), escape(reasons)])
            return make_table(title, cols, rows)

        _show(fit_table(build, terminal_width()))
        return
    summary = _mix(df, day)
    if fmt == "json":
        print_json(summary)
        return
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["segment", "accounts", "avg_score", "green", "yellow", "red", "thin_data", "mrr_red"])
        for s in summary["segments"]:
            w.writerow([s["segment"], s["accounts"], s["avg_score"], s["green"], s["yellow"], s["red"],
                        s["thin_data"], s["mrr_red"]])
        print(buf.getvalue(), end="")
        return
    def build_mix(compact: bool) -> Table:
        cols = [Col("segment", "key"), *[Col(c, "num") for c in ("accounts", "avg score", "green", "yellow", "red",
                                                                  "thin data", "MRR in red")]]
        rows = [[escape(str(s["segment"])), f"{s['accounts']:,}", _score(s["avg_score"]), f"{s['green']:,}",
                 f"{s['yellow']:,}", f"{s['red']:,}", f"{s['thin_data']:,}", _money(s["mrr_red"], compact)]
                for s in summary["segments"]]
        return make_table(f"health of paying accounts as of {summary['as_of']} (model: {cfg.source}, "
                          f"segments by {cfg.segment_by})", cols, rows,
                          styles=["bold" if s["segment"] == "all" else None for s in summary["segments"]])

    _show(fit_table(build_mix, terminal_width()))
    console.print("[dim]`csmetrics health --at-risk` lists the red accounts with their reasons.[/]")


def _mix(df: pd.DataFrame, day: Any) -> dict[str, Any]:
    def one(name: str, part: pd.DataFrame) -> dict[str, Any]:
        c = part["health_color"]
        return {"segment": name, "accounts": int(len(part)), "avg_score": _r(part["health_score"].mean(), 1),
                "green": int((c == "green").sum()), "yellow": int((c == "yellow").sum()),
                "red": int((c == "red").sum()), "thin_data": int(part["thin_data"].sum()),
                "mrr_red": _r(part.loc[c == "red", "mrr"].sum())}

    rows = [one(str(k), g) for k, g in df.groupby("health_segment", sort=True)]
    return {"as_of": str(day), "segments": [*rows, one("all", df)]}


@health_app.command("history")
@handle_errors
def history_cmd(
    data: DataOpt = None,
    workspace: WorkspaceOpt = None,
    account: Annotated[str | None, typer.Option("--account", help="One account's scores and colour changes.")]
    = None,
    period: Annotated[str, typer.Option("--period", help="week, month, quarter or year.")] = "month",
    last: Annotated[int, typer.Option("--last", help="Number of period ends.", min=1)] = 12,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    health_config: ConfigOpt = None,
) -> None:
    """Scores at each period end: the colour mix over time, or one account's trend and colour changes.

    The same figures per group: `csmetrics metrics --metrics health_score_avg,health_green,
    health_yellow,health_red --by segment`.
    """
    from csmetrics.models.health import config_for, iter_score_history, last_data_day
    from csmetrics.periods import period_of

    _check_format(fmt, ("table", "json"))
    check_grain(period)
    with working("scoring each period end..."), opened(data, workspace) as ds:
        cfg = config_for(ds.source, health_config)
        end = last_data_day(ds)
        days: list[dt.date] = []
        p = period_of(end, period, ds.config.week_start)
        for _ in range(last):
            days.append(min(p.last, end))
            p = period_of(p.first - dt.timedelta(days=1), period, ds.config.week_start)
        days.sort()
        if account is not None:
            acc = ds.table("accounts")
            if ds.backend.execute(acc.filter(acc.account_id == account).count()) == 0:
                raise UsageError(f"no account {account!r}")
        # A few period ends at a time, keeping only the rows and columns shown: bounded memory.
        keep = ["account_id", "as_of", "mrr", "active", "health_score", "health_color"]
        parts = [chunk[chunk["account_id"] == account] if account is not None else chunk[keep]
                 for chunk in iter_score_history(ds, days, cfg, explain=account is not None)]
        hist = pd.concat(parts, ignore_index=True)
    if account is not None:
        h = hist[hist["account_id"] == account].sort_values("as_of")
        rows, prev = [], None
        for _, r in h.iterrows():
            c = r["health_color"] if r["active"] else None
            rows.append({"as_of": str(r["as_of"]), "mrr": _r(r["mrr"]), "active": bool(r["active"]),
                         "health_score": _r(r["health_score"], 1), "health_color": r["health_color"],
                         "changed": prev is not None and c != prev, "main_drag": r["main_drag"]})
            prev = c
        if fmt == "json":
            print_json({"account_id": account, "history": rows})
            return
        cols = [Col("as of", "key"), Col("mrr", "num"), Col("score", "num"), Col("colour", "key"), Col("main drag")]
        table_rows = [[r["as_of"], _money(r["mrr"]), _score(r["health_score"]),
                       (_color(r["health_color"]) if r["active"] else "[dim]not paying[/]")
                       + (" [bold]<- changed[/]" if r["changed"] else ""), escape(str(r["main_drag"] or ""))]
                      for r in rows]
        _show(make_table(f"health history of {escape(account)}", cols, table_rows))
        return
    act = hist[hist["active"]]
    out = []
    for day, g in act.groupby("as_of", sort=True):
        c = g["health_color"]
        out.append({"as_of": str(day), "accounts": int(len(g)), "avg_score": _r(g["health_score"].mean(), 1),
                    "green": int((c == "green").sum()), "yellow": int((c == "yellow").sum()),
                    "red": int((c == "red").sum())})
    # Colour changes between consecutive period ends, per account.
    piv = act.pivot(index="account_id", columns="as_of", values="health_color")
    cols = list(piv.columns)
    for i in range(1, len(cols)):
        a, b = piv[cols[i - 1]], piv[cols[i]]
        both = a.notna() & b.notna()
        rank = {"green": 2, "yellow": 1, "red": 0}
        ra, rb = a[both].map(rank), b[both].map(rank)
        out[[o["as_of"] for o in out].index(str(cols[i]))].update(
            improved=int((rb > ra).sum()), worsened=int((rb < ra).sum()))
    if fmt == "json":
        print_json(out)
        return
    cols = [Col("as of", "key"), *[Col(c, "num") for c in ("accounts", "avg score", "green", "yellow", "red",
                                                            "improved", "worsened")]]
    _show(make_table(f"health of paying accounts at each {period} end", cols,
                     [[str(o["as_of"]), f"{o['accounts']:,}", _score(o["avg_score"]), f"{o['green']:,}",
                       f"{o['yellow']:,}", f"{o['red']:,}", str(o.get("improved", "-")), str(o.get("worsened", "-"))]
                      for o in out]))


# -- backtest -----------------------------------------------------------------------------------

def _pct(v: Any, nd: int = 1) -> str:
    f = _num(v)
    return "-" if f is None else f"{100 * f:.{nd}f}%"


def _fig(v: Any, spec: str = ".3f") -> str:
    f = _num(v)
    return "-" if f is None else format(f, spec)


@health_app.command("backtest")
@handle_errors
def backtest_cmd(
    data: DataOpt = None,
    workspace: WorkspaceOpt = None,
    horizon: Annotated[str, typer.Option("--horizon", help="Churn window after each scoring day: 90d, 12w, 3m, 1y.")]
    = "90d",
    period: Annotated[str, typer.Option("--period", help="Score at each week/month/quarter/year end.")] = "month",
    start: Annotated[str | None, typer.Option("--start", help="First scoring day (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Scoring days before this day (YYYY-MM-DD).")] = None,
    suggest: Annotated[bool, typer.Option("--suggest", help="Fit a logistic regression and suggest weights.")]
    = False,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    health_config: ConfigOpt = None,
    save_config: Annotated[
        Path | None,
        typer.Option("--save-config", help="With --suggest: write the model with the suggested weights (the one "
                     "backtested as 'suggested') to this TOML file, for --health-config.", show_default=False),
    ] = None,
) -> None:
    """Score every paying account at every period end, then check who churned within the horizon.

    Reports AUC, churn rate by colour, lift of the riskiest decile and calibration.
    --suggest fits an L2 logistic regression on the component scores and prints
    suggested weights with their backtest (in-sample and out-of-time) next to the
    configured ones. Docs: docs/health.md#backtest.
    """
    from csmetrics.models.health import config_for, parse_horizon
    from csmetrics.models.health.backtest import backtest

    _check_format(fmt, ("table", "json"))
    check_grain(period)
    if save_config is not None and not suggest:
        raise UsageError("--save-config writes the suggested weights: add --suggest")
    days = parse_horizon(horizon)
    s = parse_date(start, "--start") if start else None
    e = parse_date(end, "--end") if end else None
    with opened(data, workspace) as ds:
        cfg = config_for(ds.source, health_config)
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                      console=err if err.is_terminal else _quiet(), transient=True) as prog:
            task = prog.add_task("backtest", total=None)
            bt = backtest(ds, cfg, days, period, s, e, suggest,
                          progress=lambda msg: prog.update(task, description=msg))
    if save_config is not None and bt.suggestion is not None:
        from csmetrics.models.health.config import model_text, with_weights_toml

        source = None if cfg.source == "default" else cfg.source
        save_config.write_text(with_weights_toml(model_text(source), bt.suggestion.weights()), encoding="utf-8")
        err.print(f"wrote {save_config}: the model with the suggested weights; use it with --health-config "
                  f"{save_config}", highlight=False)
    if fmt == "json":
        print_json(bt.to_dict())
        return
    _render_backtest(bt)


def _quiet() -> Any:
    from rich.console import Console

    return Console(file=io.StringIO())


def _render_backtest(bt: Any) -> None:
    f = bt.figures
    console.print(f"[bold]health backtest[/]: model {escape(bt.config.source)}, scored at {len(bt.as_of_days)} "
                  f"{bt.period} ends from {bt.as_of_days[0]} to {bt.as_of_days[-1]}; churn = not paying "
                  f"{bt.horizon_days} days later")
    console.print(f"{f.rows:,} account-periods, {f.churned:,} churned ({_pct(f.churn_rate)}).  "
                  f"[bold]AUC {_fig(f.auc)}[/] (0.5 = chance).  Riskiest decile: churn {_pct(f.top_decile_churn_rate)}"
                  f", [bold]lift {_fig(f.lift_top_decile, '.2f')}x[/].  Brier {_fig(f.brier, '.4f')}")
    t = Table(title="churn rate by colour")
    for col in ("colour", "account-periods", "churned", "churn rate"):
        t.add_column(col, justify="left" if col == "colour" else "right")
    for c in f.by_color:
        t.add_row(_color(c["color"]), f"{c['accounts']:,}", f"{c['churned']:,}", _pct(c["churn_rate"]))
    console.print(t)
    t = Table(title="calibration: observed churn per score band vs the probability the score implies (Platt)")
    for col in ("score band", "account-periods", "mean score", "observed churn", "implied churn"):
        t.add_column(col, justify="left" if col == "score band" else "right")
    for c in f.calibration:
        t.add_row(c["band"], f"{c['accounts']:,}", f"{c['mean_score']:.1f}", _pct(c["churn_rate"]),
                  _pct(c["predicted"]))
    console.print(t)
    sug = bt.suggestion
    if sug is None:
        console.print("[dim]--suggest fits a logistic regression on the components and suggests weights.[/]")
        return
    t = Table(title=f"suggested weights (L2 logistic regression, C={sug.C:g}, on component scores 0-1)")
    for col in ("component", "signal", "known for", "AUC alone", "coefficient", "configured weight",
                "suggested weight"):
        t.add_column(col, justify="left" if col in ("component", "signal") else "right")
    for c in sug.components:
        style = "bold" if c["suggested_weight"] > c["configured_weight"] else None
        t.add_row(c["component"], c["signal"], _pct(c["known_share"], 0), _fig(c["auc_alone"]),
                  f"{c['coefficient']:+.2f}", f"{c['configured_weight']:.1f}", f"{c['suggested_weight']:.1f}",
                  style=style)
    console.print(t)
    console.print("[dim]coefficient: change in log-odds of churn from a component score of 0 to 100 "
                  "(negative = a better score goes with less churn); weights are shares of 100, "
                  "a component with a positive coefficient gets 0.[/]")
    t = Table(title="configured vs suggested weights, same rules and colours")
    for col in ("figure", "configured (all)", "suggested (all, in-sample)", "configured (holdout)",
                "suggested (holdout)"):
        t.add_column(col, justify="left" if col == "figure" else "right")
    s, hc, hs = sug.suggested, sug.holdout_configured, sug.holdout_suggested

    def row(name: str, get: Any, fmt_: Any) -> None:
        t.add_row(name, fmt_(get(f)), fmt_(get(s)), fmt_(get(hc)) if hc else "-", fmt_(get(hs)) if hs else "-")

    row("AUC", lambda x: x.auc, _fig)
    row("lift of riskiest decile", lambda x: x.lift_top_decile, lambda v: _fig(v, ".2f") + "x")
    row("churn rate, red", lambda x: x.by_color[2]["churn_rate"], _pct)
    row("churn rate, green", lambda x: x.by_color[0]["churn_rate"], _pct)
    row("red account-periods", lambda x: x.by_color[2]["accounts"], lambda v: f"{v:,}")
    row("Brier score", lambda x: x.brier, lambda v: _fig(v, ".4f"))
    console.print(t)
    if sug.holdout_from:
        console.print(f"[dim]holdout: weights fitted on period ends before {sug.holdout_from}, both models "
                      "scored on the period ends from it (out of time).[/]")
    weights = ", ".join(f"{n} = {w:g}" for n, w in sug.weights().items())
    console.print(f"suggested weights: {weights}", markup=False, highlight=False)
    console.print("The suggested figures score every segment with these weights (segment weight overrides "
                  "dropped). To use that model, re-run with --save-config health.toml and pass "
                  "--health-config health.toml.", highlight=False)
