"""`csmetrics feedback`, `csmetrics survival` and `csmetrics clv`: the fitted models on the command line.

Thin: parse options, call :mod:`csmetrics.models`, render. Docs:
docs/feedback.md and docs/survival-clv.md.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from csmetrics.cli.common import DataOpt, WorkspaceOpt, console, err, handle_errors
from csmetrics.io.dataset import opened
from csmetrics.periods import parse_date
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


def _interval(lo: Any, hi: Any, spec: str) -> str:
    """A confidence interval; a bound the curve never reaches is "not reached"."""
    if _num(lo, spec, "") == "":
        return "not reached"
    return f"{_num(lo, spec)} - {_num(hi, spec, 'not reached')}"


def _dump(obj: Any) -> None:
    print(json.dumps(obj, indent=1, default=str, allow_nan=False))


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
    with opened(data, workspace) as ds:
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
    unthemed = int((res.comments["theme"] < 0).sum())
    t = Table(title=f"themes ({res.n_themes_chosen})" + (f"; {unthemed:,} comment(s) without a theme" if unthemed
                                                         else ""), show_lines=True)
    # A score column per survey that any theme has answers of (NPS always: its impact is shown).
    surveys = ["nps"] + [k for k in ("csat", "ces") if any(th.avg_score.get(k) is not None for th in res.themes)]
    for col in ("#", "theme", "kind", "comments", "share", "sentiment",
                *[f"avg {k.upper()}" for k in surveys], "NPS impact", "examples"):
        t.add_column(col, justify="left" if col in ("theme", "kind", "examples") else "right")
    for th in res.themes:
        t.add_row(str(th.theme), escape(th.label), th.kind, f"{th.comments:,}", f"{100 * th.share:.0f}%",
                  f"{th.avg_sentiment:+.2f}", *[_num(th.avg_score.get(k), ".1f") for k in surveys],
                  _num(th.nps_impact, "+.1f"), "\n".join(f"“{_short(x)}”" for x in th.examples))
    console.print(t)
    bp = res.by_period
    if not bp.empty:
        periods = sorted(bp["period"].unique())[-last:]
        dims = ["group", "theme"] if by else ["theme"]
        t = Table(title=f"comments per theme and {period}" + (f", per {by}" if by else "")
                  + " (count, avg sentiment)")
        if by:
            t.add_column(str(by))
        t.add_column("theme")
        for p in periods:
            t.add_column(p, justify="right")
        labels = {th.theme: th.label for th in res.themes}
        for key, part in bp[bp["period"].isin(periods)].groupby(dims, sort=True):
            cells = {r.period: f"{r.comments} ({r.avg_sentiment:+.2f})" for r in part.itertuples()}
            keys = key if isinstance(key, tuple) else (key,)
            head = [escape(str(keys[0]))] if by else []
            t.add_row(*head, f"{keys[-1]} {escape(labels[int(keys[-1])])}", *[cells.get(p, "") for p in periods])
        console.print(t)
    if not res.outliers.empty:
        t = Table(title=f"outliers ({len(res.outliers)}): score and comment disagree")
        for col in ("kind", "account", "survey", "score", "sentiment", "day", "comment"):
            t.add_column(col)
        for r in res.outliers.head(10).itertuples():
            t.add_row(str(r.outlier), escape(str(r.account_id)), str(r.survey), _num(r.score, ".0f"),
                      f"{r.sentiment:+.2f}", str(r.day), _short(r.text, 80))
        console.print(t)


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
    with opened(data, workspace) as ds:
        res = kaplan_meier(ds, by, day, period)
    if plot is not None:
        plot_curves(res, plot)
        err.print(f"wrote {plot}", highlight=False)
    if fmt == "json":
        _dump(res.to_dict())
        return
    from csmetrics.models.survival import CHECKPOINTS

    t = Table(title=f"customer survival as of {res.as_of}" + (f", by {by}" if by else "") + " (months)")
    t.add_column("group")
    t.add_column("customers", justify="right")
    t.add_column("churned", justify="right")
    t.add_column("median", justify="right")
    t.add_column("95% CI", justify="right")
    for m in CHECKPOINTS:
        t.add_column(f"S({m})", justify="right")
    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.0f}%"

    for c in res.curves:
        ci = _interval(c.median_lower, c.median_upper, ".1f")
        t.add_row("all" if c.group is None else escape(c.group), f"{c.customers:,}", f"{c.churned:,}",
                  _num(c.median_months, ".1f", "not reached"), ci,
                  *[pct(c.at.get(m)) for m in CHECKPOINTS])
    console.print(t)


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
    limit: Annotated[int, typer.Option("--limit", help="bgnbd: accounts shown in the table (0 = all).")] = 20,
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
    with opened(data, workspace) as ds:
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
        t = Table()
        t.add_column("parameter")
        t.add_column("estimate", justify="right")
        t.add_column("std. error", justify="right")
        for k, v in fit.params.items():
            t.add_row(k, f"{v:.4f}", _num(fit.standard_errors.get(k), ".4f"))
        console.print(t)
    preds = res.predictions.sort_values(["clv", "account_id"], ascending=[False, True])
    shown = preds if limit == 0 else preds.head(limit)
    t = Table(title=f"{len(preds):,} accounts as of {res.as_of}, next {res.horizon_months:g} months"
              + (f" (top {len(shown)} by CLV)" if len(shown) < len(preds) else "")
              + f"; times in {res.unit}s")
    for col in ("account", "x", "t_x", "T", "avg spend", "P(alive)", "E\\[purchases]", "E\\[spend]", "CLV"):
        t.add_column(col, justify="left" if col == "account" else "right")
    for r in shown.itertuples():
        t.add_row(escape(str(r.account_id)), str(r.frequency), f"{r.recency:.1f}", f"{r.T:.1f}",
                  _num(r.monetary_value), f"{r.p_alive:.2f}", f"{r.expected_purchases:.2f}",
                  _num(r.expected_value), _num(r.clv))
    console.print(t)
    console.print(f"total expected value of these {len(preds):,} accounts: [bold]{preds['clv'].sum():,.2f}[/]",
                  highlight=False)


def _subscription_clv(data: Path | None, workspace: Path | None, by: str | None, day: Any, lifetime: str,
                      fmt: str) -> None:
    from csmetrics.models.clv import default_as_of, subscription_clv

    with opened(data, workspace) as ds:
        as_of = day or default_as_of(ds)
        df = subscription_clv(ds, by, as_of, lifetime)
    if fmt == "json":
        rows = [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()}
                for r in df.astype(object).where(pd.notna(df), None).to_dict(orient="records")]
        _dump({"model": "subscription", "lifetime": lifetime, "as_of": as_of.isoformat(), "by": by, "groups": rows})
        return
    t = Table(title=f"subscription CLV as of {as_of}: ARPA x gross margin x {lifetime} lifetime")
    for col in ("group", "customers", "ARPA", "lifetime (months)", "CLV", "CLV 95% CI"):
        t.add_column(col, justify="left" if col == "group" else "right")
    for r in df.itertuples():
        name = "all" if r.group is None or r.group != r.group else escape(str(r.group))
        t.add_row(name, f"{r.customers:,}", _num(r.arpa), _num(r.lifetime_months, ".1f", "not reached"), _num(r.clv),
                  _interval(r.clv_lower, r.clv_upper, ",.2f"))
    console.print(t)
