"""Customer survival: Kaplan-Meier curves and median lifetime (lifelines).

A customer's lifetime runs from their first paying day (first day with
MRR > 0, SPEC section 6) to the first day their MRR is 0 again (churn). A
customer still paying on ``as_of`` is censored there: observed for
``as_of + 1 - first day`` days. Reactivations after the first churn do not
extend the lifetime (they are a new relationship; the MRR metrics count them
as reactivation MRR).

The spans come from one Ibis expression (:func:`customer_lifetimes`, a
gaps-and-islands aggregation of paying subscriptions); lifelines fits the
Kaplan-Meier estimator on the per-customer rows. Durations are in months of
365.25 / 12 days.

Public API:

- :func:`customer_lifetimes` (Ibis table, one row per customer)
- :func:`kaplan_meier` (curves per group, with median and its 95% CI)
- :func:`median_lifetime_months` (the table the CLV metric uses for ``--lifetime survival``)
- :func:`plot_curves` (a PNG; kept apart from fitting, like lifelines)
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from csmetrics.io.dataset import Dataset
from csmetrics.metrics.state import subscription_mrr
from csmetrics.models import MISSING
from csmetrics.periods import check_grain, label, period_start
from csmetrics.schema.errors import UsageError

DAYS_PER_MONTH = 365.25 / 12
COHORT = "cohort"
"""``by`` value meaning the signup cohort: the period of the first paying day."""
CHECKPOINTS = (3, 6, 12, 24)
"""Months at which survival is reported."""
_OPEN_END = dt.date(9999, 12, 31)


def customer_lifetimes(ds: Dataset, as_of: dt.date) -> ir.Table:
    """account_id, first_day, churn_day (null if censored), duration_days, churned.

    Paying subscriptions (MRR > 0) that started on or before ``as_of`` are
    merged into islands of continuous payment per account (``ended_at`` is
    exclusive, so a renewal starting on the day the previous one ends is
    continuous). The first island is the lifetime; its end is the churn day
    when it is on or before ``as_of``.
    """
    if not ds.has("subscriptions"):
        raise UsageError("survival needs the subscriptions table")
    s = subscription_mrr(ds)
    s = s.filter((s.mrr > 0) & (s.started_at <= as_of) & (s.ended_at.isnull() | (s.ended_at > s.started_at)))
    s = s.mutate(end=s.ended_at.fill_null(ibis.literal(_OPEN_END)))
    before = ibis.window(group_by=s.account_id, order_by=[s.started_at, s.subscription_id], rows=(None, -1))
    upto = ibis.window(group_by=s.account_id, order_by=[s.started_at, s.subscription_id], rows=(None, 0))
    s = s.mutate(prev_end=s.end.max().over(before))
    s = s.mutate(new_island=ibis.cases((s.prev_end.isnull() | (s.started_at > s.prev_end), 1), else_=0))
    s = s.mutate(island=s.new_island.sum().over(upto))
    first = s.filter(s.island == 1)
    spans = first.group_by("account_id").aggregate(first_day=first.started_at.min(), end=first.end.max())
    stop = ibis.least(spans.end, ibis.literal(as_of + dt.timedelta(days=1)))
    churned = spans.end <= as_of
    return spans.select(
        "account_id",
        "first_day",
        churn_day=ibis.cases((churned, spans.end), else_=ibis.null("date")),
        duration_days=stop.delta(spans.first_day, unit="day").cast("int64"),
        churned=churned,
    )


@dataclass
class SurvivalCurve:
    """Kaplan-Meier estimate for one group (``group`` None = all customers). Times in months."""

    group: str | None
    customers: int
    churned: int
    median_months: float | None
    median_lower: float | None
    median_upper: float | None
    timeline: list[float]
    survival: list[float]
    ci_lower: list[float]
    ci_upper: list[float]
    at: dict[int, float | None] = field(default_factory=dict)

    def to_dict(self, curve: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "group": self.group,
            "customers": self.customers,
            "churned": self.churned,
            "median_months": self.median_months,
            "median_ci_lower": self.median_lower,
            "median_ci_upper": self.median_upper,
            "survival_at_months": {str(k): v for k, v in self.at.items()},
        }
        if curve:
            out["curve"] = {"months": self.timeline, "survival": self.survival,
                            "ci_lower": self.ci_lower, "ci_upper": self.ci_upper}
        return out


@dataclass
class SurvivalResult:
    as_of: dt.date
    by: str | None
    curves: list[SurvivalCurve]

    def to_dict(self, curve: bool = True) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "by": self.by,
                "groups": [c.to_dict(curve) for c in self.curves]}


def _finite(v: Any) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def fit_curve(durations_months: np.ndarray, churned: np.ndarray, group: str | None,
              alpha: float = 0.05) -> SurvivalCurve:
    """Kaplan-Meier (lifelines) with Greenwood / exponential-log-log CI; median and its CI.

    A median (or CI bound) that the curve never reaches is None ("not reached").
    """
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    kmf = KaplanMeierFitter(alpha=alpha).fit(durations_months, churned.astype(bool))
    ci = kmf.confidence_interval_
    med_ci = median_survival_times(ci)
    sf = kmf.survival_function_.iloc[:, 0]
    at = {m: _finite(kmf.survival_function_at_times(float(m)).iloc[0]) for m in CHECKPOINTS
          if len(durations_months) and m <= float(np.max(durations_months))}
    return SurvivalCurve(
        group=group,
        customers=int(len(durations_months)),
        churned=int(churned.sum()),
        median_months=_finite(kmf.median_survival_time_),
        median_lower=_finite(med_ci.iloc[0, 0]),
        median_upper=_finite(med_ci.iloc[0, 1]),
        timeline=[float(x) for x in sf.index],
        survival=[float(x) for x in sf.to_numpy()],
        ci_lower=[float(x) for x in ci.iloc[:, 0].to_numpy()],
        ci_upper=[float(x) for x in ci.iloc[:, 1].to_numpy()],
        at=at,
    )


def lifetimes_frame(ds: Dataset, as_of: dt.date, by: str | None = None, grain: str = "quarter") -> pd.DataFrame:
    """Executed :func:`customer_lifetimes` with ``months`` and a ``group`` column (None without ``by``)."""
    t = customer_lifetimes(ds, as_of)
    if by is not None and by != COHORT:
        acc = ds.table("accounts")
        if by not in acc.columns:
            raise UsageError(f"--by {by!r} is not an accounts column (have: {', '.join(acc.columns)}) "
                             f"nor {COHORT!r}")
        t = t.left_join(acc.select("account_id", _group=acc[by].cast("string").fill_null(MISSING)),
                        "account_id").drop("account_id_right")
    df = ds.backend.execute(t)
    df["months"] = df["duration_days"].astype("float64") / DAYS_PER_MONTH
    if by == COHORT:
        check_grain(grain)
        df["group"] = [label(period_start(pd.Timestamp(d).date(), grain, ds.config.week_start), grain)
                       for d in df["first_day"]]
    elif by is not None:
        df["group"] = df.pop("_group").astype(str)
    else:
        df["group"] = None
    return df.sort_values("account_id").reset_index(drop=True)


def kaplan_meier(ds: Dataset, by: str | None = None, as_of: dt.date | None = None, grain: str = "quarter",
                 alpha: float = 0.05) -> SurvivalResult:
    """Kaplan-Meier customer survival, overall (``by`` None) or per group.

    ``by`` is an accounts column or ``"cohort"`` (signup cohort: the ``grain``
    period of the first paying day). With ``by`` the first curve is still the
    total, with group None. ``as_of`` defaults to the last day with data.
    """
    if as_of is None:
        from csmetrics.models.clv import default_as_of

        as_of = default_as_of(ds)
    df = lifetimes_frame(ds, as_of, by, grain)
    if df.empty:
        raise UsageError(f"no customer had a paying day on or before {as_of}")
    curves = [fit_curve(df["months"].to_numpy(), df["churned"].to_numpy(), None, alpha)]
    if by is not None:
        for g in sorted(df["group"].unique().tolist()):
            part = df[df["group"] == g]
            curves.append(fit_curve(part["months"].to_numpy(), part["churned"].to_numpy(), str(g), alpha))
    return SurvivalResult(as_of, by, curves)


def median_lifetime_months(ds: Dataset, by: str | None = None, as_of: dt.date | None = None,
                           grain: str = "quarter", alpha: float = 0.05) -> pd.DataFrame:
    """Median customer lifetime in months with its (1 - alpha) confidence interval.

    Columns: group (None for all customers), customers, churned, median_months,
    ci_lower, ci_upper. A value the survival curve never reaches (fewer than
    half of the customers churned) is NaN: the median is "not reached" and
    the lifetime cannot be used for CLV. ``by`` as in :func:`kaplan_meier`.
    """
    res = kaplan_meier(ds, by, as_of, grain, alpha)
    rows = [{"group": c.group, "customers": c.customers, "churned": c.churned,
             "median_months": c.median_months, "ci_lower": c.median_lower, "ci_upper": c.median_upper}
            for c in res.curves]
    return pd.DataFrame(rows).astype({"median_months": "float64", "ci_lower": "float64", "ci_upper": "float64"})


def plot_curves(result: SurvivalResult, path: str | Path, max_groups: int = 8) -> Path:
    """Write the survival curves (with 95% bands) as a PNG. Needs matplotlib (a lifelines dependency)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = result.curves[1:] if len(result.curves) > 1 else result.curves
    if len(curves) > max_groups:  # keep the largest groups, in their order
        big = sorted(sorted(curves, key=lambda c: -c.customers)[:max_groups], key=lambda c: curves.index(c))
        curves = big
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    for c in curves:
        name = "all customers" if c.group is None else str(c.group)
        (line,) = ax.step(c.timeline, c.survival, where="post", label=f"{name} (n={c.customers})")
        ax.fill_between(c.timeline, c.ci_lower, c.ci_upper, step="post", alpha=0.15, color=line.get_color())
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("months since first paying day")
    ax.set_ylabel("share still paying")
    title = "Customer survival (Kaplan-Meier)" + (f" by {result.by}" if result.by else "")
    if len(result.curves) - 1 > len(curves):
        title += f" ({len(curves)} largest groups)"
    ax.set_title(f"{title}, as of {result.as_of}")
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    plt.close(fig)
    return out
