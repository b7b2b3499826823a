"""Backtest of a health model against churn that really happened, and suggested weights.

For every period end d (month ends by default) such that d + horizon is not
after the last day with data, every account paying on d (MRR > 0) is scored
as of d with the model, using only data dated on or before d. The account
*churned within the horizon* when it pays nothing on d + horizon (MRR = 0,
SPEC section 6). Figures, pooled over all (account, period end) rows:

- AUC: probability that a churner scored lower than a non-churner (0.5 =
  no better than chance, 1 = perfect ranking); ties count half;
- churn rate by colour (green / yellow / red);
- lift of the riskiest decile: churn rate of the 10% lowest scores of each
  period end, divided by the overall churn rate;
- calibration: churn rate per score band, next to the churn probability the
  score implies through a one-variable logistic fit (Platt scaling), and the
  Brier score of that probability.

``suggest``: an L2-regularised logistic regression (scikit-learn) of churn on
the component scores (0-1, a missing score imputed with the component's
mean). A component whose higher score goes with less churn gets a suggested
weight proportional to minus its coefficient; one that does not, weight 0.
The suggested model keeps the configured rules and is backtested the same
way: on all rows, and out of time (weights fitted on the first two thirds of
the period ends, both models scored on the last third).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from csmetrics.io.dataset import Dataset
from csmetrics.models.health.config import HealthConfig, config_for
from csmetrics.models.health.score import _with_accounts, last_data_day, score_signals
from csmetrics.models.health.signals import compute_signals, mrr_on
from csmetrics.periods import periods_between
from csmetrics.schema.errors import UsageError

COLORS = ("green", "yellow", "red")
BANDS = (0, 20, 40, 60, 80, 101)


@dataclass
class Figures:
    """Backtest figures of one model on one set of rows."""

    rows: int
    churned: int
    churn_rate: float | None
    auc: float | None
    lift_top_decile: float | None
    top_decile_churn_rate: float | None
    by_color: list[dict[str, Any]]
    calibration: list[dict[str, Any]]
    brier: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "churned": self.churned, "churn_rate": self.churn_rate, "auc": self.auc,
                "lift_top_decile": self.lift_top_decile, "top_decile_churn_rate": self.top_decile_churn_rate,
                "by_color": self.by_color, "calibration": self.calibration, "brier": self.brier}


@dataclass
class Suggestion:
    """Suggested weights (summing to 100) and their backtest next to the configured model's."""

    components: list[dict[str, Any]]
    suggested: Figures
    holdout_configured: Figures | None
    holdout_suggested: Figures | None
    holdout_from: dt.date | None
    C: float

    def weights(self) -> dict[str, float]:
        return {c["component"]: c["suggested_weight"] for c in self.components}

    def to_dict(self) -> dict[str, Any]:
        return {"regularisation_C": self.C, "components": self.components, "suggested": self.suggested.to_dict(),
                "holdout_from": self.holdout_from.isoformat() if self.holdout_from else None,
                "holdout_configured": self.holdout_configured.to_dict() if self.holdout_configured else None,
                "holdout_suggested": self.holdout_suggested.to_dict() if self.holdout_suggested else None}


@dataclass
class Backtest:
    horizon_days: int
    period: str
    as_of_days: list[dt.date]
    config: HealthConfig
    figures: Figures
    frame: pd.DataFrame = field(repr=False)
    signals: pd.DataFrame = field(repr=False)
    suggestion: Suggestion | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"horizon_days": self.horizon_days, "period": self.period,
                "as_of_first": self.as_of_days[0].isoformat(), "as_of_last": self.as_of_days[-1].isoformat(),
                "period_ends": len(self.as_of_days), "config": self.config.source,
                "configured": self.figures.to_dict(),
                "suggest": self.suggestion.to_dict() if self.suggestion else None}


def _f(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(float(x)) else None


def auc(churned: np.ndarray, score: np.ndarray) -> float | None:
    """AUC of ``score`` as a health score (low = risky) against the churn flags."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(churned, dtype=bool)
    if y.all() or not y.any():
        return None
    return float(roc_auc_score(y, -np.asarray(score, dtype="float64")))


def evaluate(frame: pd.DataFrame, score: str = "health_score", color: str = "health_color") -> Figures:
    """Figures of ``frame`` (rows with as_of, churned and the score/colour columns; unscored rows dropped)."""
    df = frame[frame[score].notna()]
    y = df["churned"].to_numpy(dtype=bool)
    s = df[score].to_numpy(dtype="float64")
    n, k = len(df), int(y.sum())
    base = k / n if n else None
    by_color = []
    for c in COLORS:
        part = df[df[color] == c]
        m, kc = len(part), int(part["churned"].sum())
        by_color.append({"color": c, "accounts": m, "churned": kc, "churn_rate": kc / m if m else None})
    # The riskiest decile of each period end, ties broken by account id for determinism.
    ranked = df.sort_values(["as_of", score, "account_id"], kind="stable")
    ranked = ranked.assign(_r=ranked.groupby("as_of").cumcount(), _n=ranked.groupby("as_of")[score].transform("size"))
    top = ranked[ranked["_r"] < np.ceil(0.1 * ranked["_n"])]
    top_rate = float(top["churned"].mean()) if len(top) else None
    lift = top_rate / base if top_rate is not None and base else None
    calibration: list[dict[str, Any]] = []
    brier = None
    if n and 0 < k < n:
        from sklearn.linear_model import LogisticRegression

        platt = LogisticRegression(C=1e6, max_iter=1000).fit((s / 100.0).reshape(-1, 1), y)
        p = platt.predict_proba((s / 100.0).reshape(-1, 1))[:, 1]
        brier = float(np.mean((p - y) ** 2))
        for lo, hi in zip(BANDS[:-1], BANDS[1:], strict=True):
            m = (s >= lo) & (s < hi)
            if m.any():
                calibration.append({"band": f"{lo}-{min(hi, 100)}", "accounts": int(m.sum()),
                                    "mean_score": float(s[m].mean()), "churn_rate": float(y[m].mean()),
                                    "predicted": float(p[m].mean())})
    return Figures(n, k, base, auc(y, s) if n else None, _f(lift) if lift is not None else None, top_rate,
                   by_color, calibration, brier)


def first_activity_day(ds: Dataset) -> dt.date | None:
    """The first day with a usage event, ticket or survey answer (None without those tables)."""
    import ibis

    lows = []
    for table, col in (("usage_events", "occurred_at"), ("tickets", "opened_at"),
                       ("survey_responses", "responded_at")):
        if ds.has(table):
            lows.append(ds.table(table)[col].cast("date").min())
    if not lows:
        return None
    lo = ds.backend.execute(ibis.memtable({"x": [0]}).select(lo=ibis.least(*lows) if len(lows) > 1 else lows[0]))
    v = lo["lo"].iloc[0]
    return None if pd.isna(v) else pd.Timestamp(v).date()


def period_ends(ds: Dataset, horizon_days: int, period: str = "month", start: dt.date | None = None,
                end: dt.date | None = None, warmup_days: int = 90) -> list[dt.date]:
    """Period ends d in [start, end) with d + horizon <= the last day with data.

    ``start`` defaults to the first day with usage, tickets or answers plus
    ``warmup_days`` (the usage window), so that signals have data to look back on.
    """
    last = last_data_day(ds)
    if start is None:
        first = first_activity_day(ds)
        if first is None:
            from csmetrics.compute import data_span

            first = data_span(ds)[0]
        start = first + dt.timedelta(days=warmup_days)
    e = end or last + dt.timedelta(days=1)
    if e <= start:
        raise UsageError(f"no history to backtest: the first scoring day {start} (first activity + {warmup_days} "
                         f"days) is not before {e}")
    ps = periods_between(start, e, period, ds.config.week_start)
    days = [p.last for p in ps if p.last + dt.timedelta(days=horizon_days) <= last and p.last >= start]
    if not days:
        raise UsageError(f"no {period} end from {start} has {horizon_days} days of data after it (data ends "
                         f"{last}): use a shorter --horizon")
    return days


def labelled_signals(ds: Dataset, days: list[dt.date], horizon_days: int, config: HealthConfig) -> pd.DataFrame:
    """Signals of the accounts paying on each day, with ``churned`` (not paying on day + horizon)."""
    sig = compute_signals(ds, days, config.windows)
    sig = sig[sig["mrr"] > 0]
    later = mrr_on(ds, [d + dt.timedelta(days=horizon_days) for d in days])
    later = later.assign(as_of=[d - dt.timedelta(days=horizon_days) for d in later["day"]])
    paying = set(zip(later["account_id"], later["as_of"], strict=True))
    churned = [(a, d) not in paying for a, d in zip(sig["account_id"], sig["as_of"], strict=True)]
    return _with_accounts(ds, sig.assign(churned=churned), config).reset_index(drop=True)


def score_labelled(sig: pd.DataFrame, config: HealthConfig) -> pd.DataFrame:
    scored = score_signals(sig, config)
    scored["churned"] = sig["churned"].to_numpy()
    return scored


def _design(frame: pd.DataFrame, names: list[str], means: pd.Series | None = None) -> tuple[np.ndarray, pd.Series]:
    x = frame[[f"{n}_score" for n in names]].astype("float64") / 100.0
    means = x.mean().fillna(0.5) if means is None else means
    return x.fillna(means).to_numpy(), means


def suggest(sig: pd.DataFrame, scored: pd.DataFrame, config: HealthConfig, C: float = 1.0) -> Suggestion:
    """Suggested weights from a regularised logistic regression on the component scores; see the module doc."""
    from sklearn.linear_model import LogisticRegression

    names = config.component_names
    y = scored["churned"].to_numpy(dtype=bool)
    if y.all() or not y.any():
        raise UsageError("cannot suggest weights: no churn (or only churn) within the horizon in the history")

    def fit(rows: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
        x, _ = _design(scored[rows], names)
        model = LogisticRegression(C=C, max_iter=2000).fit(x, y[rows])
        coef = model.coef_[0]
        protective = np.clip(-coef, 0.0, None)
        total = protective.sum()
        if total <= 0:
            raise UsageError("cannot suggest weights: no component score goes with less churn")
        return {n: float(round(100.0 * w / total, 1)) for n, w in zip(names, protective, strict=True)}, coef

    all_rows = np.ones(len(scored), dtype=bool)
    weights, coef = fit(all_rows)
    suggested_cfg = config.with_weights(weights)
    sug_scored = score_labelled(sig, suggested_cfg)
    comps = []
    total_cfg = config.base.total_weight
    for j, n in enumerate(names):
        col = scored[f"{n}_score"]
        have = col.notna().to_numpy()
        comps.append({
            "component": n,
            "signal": config.base.components[n].signal,
            "known_share": float(have.mean()),
            "auc_alone": auc(y[have], col.to_numpy()[have]) if have.any() else None,
            "coefficient": float(coef[j]),
            "configured_weight": round(100.0 * config.base.components[n].weight / total_cfg, 1),
            "suggested_weight": weights[n],
        })
    days = sorted(set(scored["as_of"]))
    hold_conf = hold_sug = None
    cut: dt.date | None = None
    if len(days) >= 3:
        cut = days[(2 * len(days)) // 3]
        train = (scored["as_of"] < cut).to_numpy()
        test = ~train
        if 0 < y[train].sum() < train.sum() and 0 < y[test].sum() < test.sum():
            w_train, _ = fit(train)
            hold_conf = evaluate(scored[test])
            hold_sug = evaluate(score_labelled(sig[test].reset_index(drop=True), config.with_weights(w_train)))
        else:
            cut = None
    return Suggestion(comps, evaluate(sug_scored), hold_conf, hold_sug, cut, C)


def backtest(
    ds: Dataset,
    config: HealthConfig | None = None,
    horizon_days: int = 90,
    period: str = "month",
    start: dt.date | None = None,
    end: dt.date | None = None,
    with_suggestion: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Backtest:
    """Score every paying account at every period end and check who churned within ``horizon_days``."""
    config = config or config_for(ds.source)
    if not ds.has("subscriptions"):
        raise UsageError(f"the backtest needs the subscriptions table (churn = MRR falling to 0), absent from "
                         f"{ds.source}")
    say = progress or (lambda _msg: None)
    days = period_ends(ds, horizon_days, period, start, end, config.windows["usage"])
    say(f"computing signals at {len(days)} period ends")
    sig = labelled_signals(ds, days, horizon_days, config)
    if sig.empty:
        raise UsageError("no paying account at any period end of the history")
    say("scoring")
    scored = score_labelled(sig, config)
    figures = evaluate(scored)
    sug = None
    if with_suggestion:
        say("fitting the logistic regression")
        sug = suggest(sig, scored, config)
    return Backtest(horizon_days, period, days, config, figures, scored, sig, sug)
