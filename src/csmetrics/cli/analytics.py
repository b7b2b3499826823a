"""`csmetrics feedback`, `csmetrics survival` and `csmetrics clv`: the fitted models on the command line.

Thin: parse options, call :mod:`csmetrics.models`, render. Docs:
docs/feedback.md and docs/survival-clv.md.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from csmetrics.cli.common import DataOpt, WorkspaceOpt, console, err, handle_errors, print_json, working
from csmetrics.cli.render import (
    Col,
    Grid,
    fit_table,
    fits,
    make_table,
    natural_width,
    period_grid,
    print_tables,
    terminal_width,
)
from csmetrics.io.dataset import opened
from csmetrics.periods import parse_date
from csmetrics.report.formats import compact_value
from csmetrics.schema.errors import UsageError

FORMATS = ("table", "json")
FormatOpt = Annotated[str, typer.Option("--format", help="table or json (for machines).")]
AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="Last day observed (YYYY-MM-DD; default: last day with data).", show_default=False),
]


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("feedback")(feedback_cmd)
    app.command("survival")(survival_cmd)
    app.command("clv")(clv_cmd)


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")


def _num(v: Any, spec: str = ",.2f", none: str = "-") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return none
    return format(v, spec)


def _short(text: str, n: int = 70) -> str:
    """User text, on one line, cut to ``n`` characters, safe from Rich markup."""
    text = " ".join(str(text).split())
    return escape(text if len(text) <= n else text[: n - 1] + "…")


def _interval(lo: Any, hi: Any, spec: str | Any, never: str = "not reached") -> str:
    """A confidence interval; a bound the curve never reaches is "not reached" (``never``).

    ``spec`` is a format spec or a function of the value.
    """
    def f(v: Any) -> str:
        if v is None or (isinstance(v, float) and not math.isfinite(v)):
            return ""
        return spec(v) if callable(spec) else format(v, spec)

    if f(lo) == "":
        return never
    return f"{f(lo)} - {f(hi) or never}"


def _dump(obj: Any) -> None:
    """JSON on stdout; a NaN or infinite number (e.g. an undefined standard error) is null, with a note."""
    print_json(obj, indent=1)


def _show(*tables: Table) -> None:
    print_tables(tables, terminal_width())


# ----------------------------------------------------------------------------- feedback


@handle_errors
def feedback_cmd(
    data: DataOpt = None,
    workspace: WorkspaceOpt = None,
    period: Annotated[str, typer.Option("--period", help="week, month, quarter or year.")] = "month",
    by: Annotated[str | None, typer.Option("--by", help="Break themes down by an accounts column.")] = None,
    themes: Annotated[
        int | None, typer.Option("--themes", help="Number of themes (default: chosen from 2-8).", min=1)
    ] = None,
    start: Annotated[str | None, typer.Option("--start", help="First day (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option("--end", help="End day, exclusive (YYYY-MM-DD).")] = None,
    last: Annotated[int, typer.Option("--last", help="Periods shown in the table (json has all).", min=1)] = 6,
    fmt: FormatOpt = "table",
) -> None:
    """Comment sentiment, themes, theme weight on scores and NPS, per period and group, and outliers.

    Reads survey comments (and ticket subjects if tickets has a subject column).
    Runs offline. Definitions: docs/feedback.md.
    """
    from csmetrics.models.feedback import analyze_feedback

    _check_format(fmt)
    s = parse_date(start, "--start") if start else None
    e = parse_date(end, "--end") if end else None
    with working("reading comments and fitting themes..."), opened(data, workspace) as ds:
        res = analyze_feedback(ds, period, by, themes, s, e)
    if fmt == "json":
        _dump(res.to_dict())
        return
    for note in res.notes:
        err.print(f"note: {note}", highlight=False)
    n = len(res.comments)
    sent = res.sentiment
    tickets = int((res.comments["source"] == "ticket").sum())
    console.print(
        f"[bold]{n:,}[/] comments ({n - tickets:,} survey, {tickets:,} ticket subjects); sentiment: "
        f"{100 * sent['positive'] / n:.0f}% positive, {100 * sent['neutral'] / n:.0f}% neutral, "
        f"{100 * sent['negative'] / n:.0f}% negative"
        + (f"; NPS {res.nps['nps']:.1f} over {res.nps['responses']:,} answers" if res.nps["nps"] is not None else ""),
        highlight=False,
    )
    width = terminal_width()
    _themes_table(res, width)
    bp = res.by_period
    if not bp.empty:
        periods = sorted(bp["period"].unique())[-last:]
        labels = {th.theme: f"{th.theme} {th.label}" for th in res.themes}
        names = [labels[th.theme] for th in res.themes]
        groups: list[str | None] = [*sorted({str(x) for x in bp["group"]})] if by else [None]
        g = Grid(title=f"comments per theme and {period}" + (f", per {by}" if by else "")
                 + " (count, avg sentiment)", name_header="theme", periods=periods, names=names, groups=groups,
                 group_header=by)
        for r in bp[bp["period"].isin(periods)].itertuples():
            text = f"{r.comments} ({r.avg_sentiment:+.2f})"
            g.cells[(labels[int(r.theme)], str(r.group) if by else None, str(r.period))] = (text, text)
        # Theme words are the user's own text: escaped for Rich markup.
        g.labels = {name: escape(name) for name in names}
        print_tables(period_grid(g, width), width)
    if not res.outliers.empty:
        _outliers(res.outliers, width)


def _outliers(outliers: pd.DataFrame, width: int | None) -> None:
    """Answers whose score and comment disagree: a table, or one paragraph each when the comment would be squeezed."""
    title = (f"outliers ({len(outliers)}): score and comment disagree"
             + (", first 10 shown (all in --format json)" if len(outliers) > 10 else ""))
    rows = [[str(r.outlier), escape(str(r.account_id)), str(r.survey), _num(r.score, ".0f"),
             f"{r.sentiment:+.2f}", str(r.day), _short(r.text, 80)] for r in outliers.head(10).itertuples()]
    cols = [Col("kind"), Col("account", "key"), Col("survey", "key"), Col("score", "num"),
            Col("sentiment", "num"), Col("day", "key"), Col("comment")]
    bare = make_table(title, cols[:-1], [r[:-1] for r in rows])
    if width is None or width - natural_width(bare) >= 33:
        _show(make_table(title, cols, rows))
        return
    console.print(f"[bold]{title}[/]")
    for kind, account, survey, score, sentiment, day, comment in rows:
        console.print(f"{account} {survey} {score}, sentiment {sentiment}, {day}: {kind}", highlight=False)
        console.print(f"    “{comment}”", highlight=False)


def _themes_table(res: Any, width: int | None) -> None:
    """The themes with their figures; examples in a column when there is room, else listed below."""
    unthemed = int((res.comments["theme"] < 0).sum())
    title = f"themes ({res.n_themes_chosen})" + (f"; {unthemed:,} comment(s) without a theme" if unthemed else "")
    # A score column per survey that any theme has answers of (NPS always: its impact is shown).
    surveys = ["nps"] + [k for k in ("csat", "ces") if any(th.avg_score.get(k) is not None for th in res.themes)]
    cols = [Col("#", "num"), Col("theme"), Col("kind", "key"), Col("comments", "num"), Col("share", "num"),
            Col("sentiment", "num"), *[Col(f"avg {k.upper()}", "num") for k in surveys], Col("NPS impact", "num")]
    rows = [[str(th.theme), escape(th.label), th.kind, f"{th.comments:,}", f"{100 * th.share:.0f}%",
             f"{th.avg_sentiment:+.2f}", *[_num(th.avg_score.get(k), ".1f") for k in surveys],
             _num(th.nps_impact, "+.1f")] for th in res.themes]
    examples = ["\n".join(f"“{_short(x)}”" for x in th.examples) for th in res.themes]
    bare = make_table(title, cols, rows)
    # Examples beside the figures only when they get 40 columns or more; else below, one theme at a time.
    if width is None or width - natural_width(bare) >= 43:
        _show(make_table(title, [*cols, Col("examples")], [[*r, x] for r, x in zip(rows, examples, strict=True)],
                         show_lines=True))
        return
    if fits(bare, width):
        _show(bare)
        console.print("[bold]examples[/] (in full: --format json)")
    else:  # too narrow for ten columns: one paragraph per theme
        console.print(f"[bold]{title}[/]")
    for th, r, x in zip(res.themes, rows, examples, strict=True):
        if fits(bare, width):
            console.print(f"  [bold]{th.theme} {escape(th.label)}[/]")
        else:
            scores = ", ".join(f"avg {k.upper()} {v}" for k, v in zip(surveys, r[6:-1], strict=True))
            console.print(f"[bold]{th.theme} {escape(th.label)}[/] ({th.kind}): {r[3]} comments ({r[4]}), "
                          f"sentiment {r[5]}, {scores}, NPS impact {r[-1]}", highlight=False)
        for line in x.split("\n") if x else []:
            console.print(f"    {line}", highlight=False)


# ----------------------------------------------------------------------------- survival


@handle_errors
def survival_cmd(
    data: DataOpt = None,
    workspace: WorkspaceOpt = None,
    by: Annotated[
        str | None, typer.Option("--by", help="'cohort' (signup cohort) or an accounts column.")
    ] = None,
    period: Annotated[str, typer.Option("--period", help="Cohort grain with --by cohort.")] = "quarter",
    as_of: AsOfOpt = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="Write the curves to this PNG file.")] = None,
    fmt: FormatOpt = "table",
) -> None:
    """Kaplan-Meier customer survival: share still paying N months after their first paying day.

    Median lifetime with its 95% confidence interval, overall and per group.
    Definitions: docs/survival-clv.md.
    """
    from csmetrics.models.survival import kaplan_meier, plot_curves

    _check_format(fmt)
    day = parse_date(as_of, "--as-of") if as_of else None
    with working("fitting survival curves..."), opened(data, workspace) as ds:
        res = kaplan_meier(ds, by, day, period)
    if plot is not None:
        plot_curves(res, plot)
        err.print(f"wrote {plot}", highlight=False)
    if fmt == "json":
        _dump(res.to_dict())
        return
    from csmetrics.models.survival import CHECKPOINTS

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.0f}%"

    def build(compact: bool) -> Table:
        never = "n.r." if compact else "not reached"
        cols = [Col("group", "key"), Col("customers", "num"), Col("churned", "num"), Col("median", "num"),
                Col("95% CI", "num"), *[Col(f"S({m})", "num") for m in CHECKPOINTS]]
        rows = [["all" if c.group is None else escape(c.group), f"{c.customers:,}", f"{c.churned:,}",
                 _num(c.median_months, ".1f", never), _interval(c.median_lower, c.median_upper, ".1f", never),
                 *[pct(c.at.get(m)) for m in CHECKPOINTS]] for c in res.curves]
        return make_table(f"customer survival as of {res.as_of}" + (f", by {by}" if by else "") + " (months)",
                          cols, rows)

    _show(fit_table(build, terminal_width()))
    if any(c.median_months is None or c.median_upper is None for c in res.curves):
        console.print("[dim]not reached (n.r.): fewer than half the customers have churned, so the median "
                      "(or its bound) is not known yet.[/]")


# ----------------------------------------------------------------------------- clv


@handle_errors
def clv_cmd(
    data: DataOpt = None,
    workspace: WorkspaceOpt = None,
    model: Annotated[
        str, typer.Option("--model", help="bgnbd (purchases: BG/NBD + Gamma-Gamma) or subscription.")
    ] = "bgnbd",
    horizon: Annotated[float, typer.Option("--horizon", help="bgnbd: months to predict.")] = 12,
    as_of: AsOfOpt = None,
    unit: Annotated[str, typer.Option("--unit", help="bgnbd: time unit of the fit (day, week, month).")] = "week",
    kinds: Annotated[
        str | None, typer.Option("--kinds", help="bgnbd: only these charge kinds (comma-separated).")
    ] = None,
    discount_rate: Annotated[
        float, typer.Option("--discount-rate", help="bgnbd: monthly discount rate of future value.")
    ] = 0.0,
    lifetime: Annotated[
        str, typer.Option("--lifetime", help="subscription: survival (KM median) or configured.")
    ] = "survival",
    by: Annotated[str | None, typer.Option("--by", help="subscription: group by an accounts column.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="bgnbd: accounts shown in the table (0 = all).", min=0)] = 20,
    fmt: FormatOpt = "table",
) -> None:
    """Customer lifetime value from fitted models.

    bgnbd: BG/NBD (expected purchases, probability alive) and Gamma-Gamma
    (spend) fitted by maximum likelihood on the charges; prints the fitted
    parameters, log-likelihoods and per-account predictions. subscription:
    ARPA x gross margin x median survival lifetime. Docs: docs/survival-clv.md.
    """
    _check_format(fmt)
    day = parse_date(as_of, "--as-of") if as_of else None
    if model == "subscription":
        _subscription_clv(data, workspace, by, day, lifetime, fmt)
        return
    if model != "bgnbd":
        raise UsageError(f"--model {model!r}: expected bgnbd or subscription")
    from csmetrics.models.clv import fit_clv

    kind_list = [k.strip() for k in kinds.split(",") if k.strip()] if kinds else None
    with working("fitting BG/NBD and Gamma-Gamma..."), opened(data, workspace) as ds:
        res = fit_clv(ds, horizon, day, unit, kind_list, discount_rate)
    if fmt == "json":
        _dump(res.to_dict())
        return
    for note in res.notes:
        err.print(f"note: {note}", highlight=False)
    for fit, title in ((res.bgnbd, "BG/NBD"), (res.gamma_gamma, "Gamma-Gamma")):
        if fit is None:
            continue
        console.print(f"[bold]{title}[/]: {fit.n:,} customers, log-likelihood {fit.log_likelihood:,.2f}"
                      + ("" if fit.converged else " (not converged)"), highlight=False)
        _show(make_table(None, [Col("parameter", "key"), Col("estimate", "num"), Col("std. error", "num")],
                         [[k, _num(v, ".4f"), _num(fit.standard_errors.get(k), ".4f")]
                          for k, v in fit.params.items()]))
    preds = res.predictions.sort_values(["clv", "account_id"], ascending=[False, True])
    shown = preds if limit == 0 else preds.head(limit)
    title = (f"{len(preds):,} accounts as of {res.as_of}, next {res.horizon_months:g} months"
             + (f" (top {len(shown)} by CLV)" if len(shown) < len(preds) else "") + f"; times in {res.unit}s")
    cols = [Col("account", "key"), Col("x", "num"), Col("t_x", "num"), Col("T", "num"), Col("avg spend", "num"),
            Col("P(alive)", "num"), Col("exp. purchases", "num"), Col("exp. spend", "num"), Col("CLV", "num")]

    def build(compact: bool) -> Table:  # compact: money without cents, 10k and up as 12.3k
        money = (lambda v: compact_value(v, "currency")) if compact else _num
        rows = [[escape(str(r.account_id)), str(r.frequency), f"{r.recency:.1f}", f"{r.T:.1f}",
                 money(r.monetary_value), f"{r.p_alive:.2f}", f"{r.expected_purchases:.2f}",
                 money(r.expected_value), money(r.clv)] for r in shown.itertuples()]
        return make_table(title, cols, rows)

    _show(fit_table(build, terminal_width()))
    console.print(f"total expected value of these {len(preds):,} accounts: [bold]{preds['clv'].sum():,.2f}[/]",
                  highlight=False)


def _subscription_clv(data: Path | None, workspace: Path | None, by: str | None, day: Any, lifetime: str,
                      fmt: str) -> None:
    from csmetrics.models.clv import default_as_of, subscription_clv

    with working("computing subscription CLV..."), opened(data, workspace) as ds:
        as_of = day or default_as_of(ds)
        df = subscription_clv(ds, by, as_of, lifetime)
    if fmt == "json":
        rows = df.astype(object).where(pd.notna(df), None).to_dict(orient="records")
        _dump({"model": "subscription", "lifetime": lifetime, "as_of": as_of.isoformat(), "by": by, "groups": rows})
        return
    def build(compact: bool) -> Table:
        money = (lambda v: compact_value(v, "currency")) if compact else _num
        never = "n.r." if compact else "not reached"
        cols = [Col("group", "key"), Col("customers", "num"), Col("ARPA", "num"), Col("lifetime (months)", "num"),
                Col("CLV", "num"), Col("CLV 95% CI", "num")]
        out = []
        for r in df.itertuples():
            name = "all" if r.group is None or r.group != r.group else escape(str(r.group))
            out.append([name, f"{r.customers:,}", money(r.arpa), _num(r.lifetime_months, ".1f", never),
                        money(r.clv), _interval(r.clv_lower, r.clv_upper, money, never)])
        return make_table(f"subscription CLV as of {as_of}: ARPA x gross margin x {lifetime} lifetime", cols, out)

    _show(fit_table(build, terminal_width()))
    if df["lifetime_months"].isna().any() or df["clv_upper"].isna().any():
        console.print("[dim]not reached (n.r.): fewer than half the customers have churned, so the lifetime "
                      "(or a bound) is not known yet.[/]")
