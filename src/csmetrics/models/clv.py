"""Probabilistic CLV for purchase-based businesses: BG/NBD + Gamma-Gamma on ``charges``.

The per-customer summary (frequency, recency, T, monetary value) is one Ibis
expression run by the backend (:func:`rfm_summary`); only the fitting and the
per-account predictions happen in Python, on that aggregated table.

Definitions (Fader, Hardie and Lee 2005), per account with charges up to ``as_of``:

- a *transaction* is a day with charges (charges on the same day are one
  transaction, amounts summed, in base currency at the rate on ``charged_at``);
- ``frequency`` x = transactions - 1 (repeat transactions);
- ``recency`` t_x = time from the first to the last transaction;
- ``T`` = time from the first transaction to ``as_of`` (the end of the last day
  observed; a first purchase on as_of has T = 0);
- ``monetary_value`` = mean value of the repeat transactions (the first is left
  out, as in the Gamma-Gamma papers); 0 when x = 0.

Times are in ``unit`` (week by default, as in the CDNOW study). The CLV over a
horizon of H months is gross_margin x E[Z] x sum over months m = 1..H of the
expected purchases in month m, discounted by (1 + monthly discount rate)^m.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from csmetrics.io.dataset import Dataset
from csmetrics.metrics.state import to_base
from csmetrics.models.btyd import BetaGeoFitter, FitSummary, GammaGammaFitter
from csmetrics.models.fit_checks import check_bgnbd, check_gamma_gamma, too_few_repeat
from csmetrics.schema.errors import UsageError

PLAUSIBLE = 3.0
"""A Gamma-Gamma population mean more than this factor away from the observed mean is not used."""

DAYS_PER_UNIT: dict[str, float] = {"day": 1.0, "week": 7.0, "month": 365.25 / 12}
"""Length of each time unit in days; a month is an average calendar month."""


def default_as_of(ds: Dataset) -> dt.date:
    """The last day with any dated event in the data (capped at today)."""
    from csmetrics.compute import data_span

    return data_span(ds)[1]


def rfm_summary(
    ds: Dataset,
    as_of: dt.date,
    unit: str = "week",
    kinds: Sequence[str] | None = None,
) -> ir.Table:
    """Per purchasing account: account_id, frequency, recency, T, monetary_value, first_purchase.

    An Ibis expression over ``charges`` (optionally only the given ``kinds``),
    charges after ``as_of`` ignored. See the module docstring for definitions.
    """
    if unit not in DAYS_PER_UNIT:
        raise UsageError(f"unknown time unit {unit!r}: expected one of {', '.join(DAYS_PER_UNIT)}")
    if not ds.has("charges"):
        raise UsageError("probabilistic CLV needs the charges table (one-off purchases)")
    c = ds.table("charges")
    c = to_base(ds, c, "charged_at", "charge_id")
    c = c.filter(c.charged_at <= as_of)
    if kinds:
        c = c.filter(c.kind.isin(list(kinds)))
    daily = c.group_by(["account_id", "charged_at"]).aggregate(value=(c.amount * c.rate).sum())
    daily = daily.mutate(first=daily.charged_at.min().over(group_by=daily.account_id))
    per_unit = DAYS_PER_UNIT[unit]
    agg = daily.group_by("account_id").aggregate(
        n=daily.count(),
        first_purchase=daily.first.min(),
        last=daily.charged_at.max(),
        repeat_value=ibis.cases((daily.charged_at != daily.first, daily.value), else_=0.0).sum(),
    )
    freq = (agg.n - 1).cast("int64")
    return agg.select(
        "account_id",
        frequency=freq,
        recency=agg.last.delta(agg.first_purchase, unit="day").cast("float64") / per_unit,
        T=ibis.literal(as_of).delta(agg.first_purchase, unit="day").cast("float64") / per_unit,
        monetary_value=ibis.cases((freq > 0, agg.repeat_value / freq.cast("float64")), else_=0.0),
        first_purchase=agg.first_purchase,
    )


@dataclass
class ClvResult:
    """Fitted BG/NBD (+ Gamma-Gamma) and per-account predictions."""

    as_of: dt.date
    unit: str
    horizon_months: float
    bgnbd: FitSummary
    gamma_gamma: FitSummary | None
    frequency_spend_correlation: float | None
    predictions: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    """Everything worth saying about the fit, warnings first (the CLI prints them, JSON carries them)."""
    warnings: list[str] = field(default_factory=list)
    """Why the fit should not be trusted, in words, with what the data lacks (:mod:`csmetrics.models.fit_checks`).

    Also at the head of ``notes``; empty for a usable fit.
    """

    @property
    def degenerate(self) -> bool:
        """Whether a warning says the fit cannot be trusted."""
        return bool(self.warnings)

    def to_dict(self) -> dict[str, Any]:
        def fit(f: FitSummary | None) -> dict[str, Any] | None:
            if f is None:
                return None
            return {"params": f.params, "standard_errors": f.standard_errors,
                    "log_likelihood": f.log_likelihood, "n": f.n, "converged": f.converged}

        preds = self.predictions.copy()
        preds["first_purchase"] = preds["first_purchase"].astype(str)
        records = [{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()}
                   for r in preds.to_dict(orient="records")]
        return {
            "model": "bgnbd",
            "as_of": self.as_of.isoformat(),
            "time_unit": self.unit,
            "horizon_months": self.horizon_months,
            "bgnbd": fit(self.bgnbd),
            "gamma_gamma": fit(self.gamma_gamma),
            "frequency_spend_correlation": self.frequency_spend_correlation,
            "notes": self.notes,
            "warnings": self.warnings,
            "accounts": records,
        }


def expected_purchases_by_month(bg: BetaGeoFitter, summary: pd.DataFrame, horizon_months: float,
                                unit: str) -> list[np.ndarray]:
    """Cumulative expected purchases after 1, 2, ..., H months (the last may be a fraction)."""
    per_month = DAYS_PER_UNIT["month"] / DAYS_PER_UNIT[unit]
    steps = [float(m) for m in range(1, int(np.floor(horizon_months)) + 1)]
    if not steps or steps[-1] < horizon_months:
        steps.append(float(horizon_months))
    x, t_x, T = summary["frequency"], summary["recency"], summary["T"]
    return [bg.conditional_expected_purchases(m * per_month, x, t_x, T) for m in steps]


def fit_clv(
    ds: Dataset,
    horizon_months: float = 12,
    as_of: dt.date | None = None,
    unit: str = "week",
    kinds: Sequence[str] | None = None,
    discount_rate: float = 0.0,
) -> ClvResult:
    """Fit BG/NBD (and Gamma-Gamma when there are repeat customers) on ``charges``; predict per account.

    Per account: p_alive, expected_purchases over the horizon, expected_value
    (E[Z], Gamma-Gamma), clv = gross_margin x sum_m purchases_m x E[Z] / (1 + discount_rate)^m
    with ``discount_rate`` per month. Raises UsageError when there is nothing to fit.
    """
    if horizon_months <= 0:
        raise UsageError(f"--horizon must be > 0 months, not {horizon_months}")
    if not 0 <= discount_rate < 1:
        raise UsageError(f"--discount-rate is a monthly rate in [0, 1), not {discount_rate}")
    as_of = as_of or default_as_of(ds)
    summary = ds.backend.execute(rfm_summary(ds, as_of, unit, kinds)).sort_values("account_id")
    summary = summary.reset_index(drop=True)
    notes: list[str] = []
    if len(summary) < 10:
        raise UsageError(f"BG/NBD needs purchase histories of at least 10 accounts; found {len(summary)}")
    if (summary["frequency"] > 0).sum() == 0:
        raise UsageError("no account has a repeat purchase: BG/NBD cannot be fitted")
    bg = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    if not bg.converged_:
        notes.append("BG/NBD optimiser did not report convergence; check the parameters")
    x, t_x, T = summary["frequency"], summary["recency"], summary["T"]
    cumulative = expected_purchases_by_month(bg, summary, horizon_months, unit)
    monthly = [cumulative[0]] + [b - a for a, b in zip(cumulative, cumulative[1:], strict=False)]
    discounted = sum(m / (1 + discount_rate) ** (i + 1) for i, m in enumerate(monthly))
    out = summary.copy()
    out["p_alive"] = bg.probability_alive(x, t_x, T)
    warnings = [w for w in (
        too_few_repeat(len(summary), int((x > 0).sum())),
        check_bgnbd(bg.summary(), x, t_x, T, out["p_alive"], unit),
    ) if w is not None]
    out["expected_purchases"] = cumulative[-1]
    gg: GammaGammaFitter | None = None
    rep = summary[summary["frequency"] > 0]
    observed = float((rep["monetary_value"] * rep["frequency"]).sum() / rep["frequency"].sum())
    repeat = int(((summary["frequency"] > 0) & (summary["monetary_value"] > 0)).sum())
    if repeat >= 10:
        gg = GammaGammaFitter().fit(summary["frequency"], summary["monetary_value"])
        if (w := check_gamma_gamma(gg.summary(), x, summary["monetary_value"])) is not None:
            warnings.append(w)
        ev = gg.conditional_expected_average_value(x, summary["monetary_value"])
        pop = gg.population_mean
        if not np.isfinite(pop) or not observed / PLAUSIBLE <= pop <= observed * PLAUSIBLE:
            # q close to 1 makes p gamma / (q - 1) explode: the spend is not Gamma-Gamma shaped.
            notes.append(f"Gamma-Gamma population mean spend {pop:,.2f} (q = {gg.params_['q']:.3f}) is far from "
                         f"the observed mean repeat transaction {observed:,.2f}; accounts without a repeat "
                         "purchase get the observed mean instead")
            ev = np.where(x > 0, ev, observed)
        out["expected_value"] = ev
        corr = gg.frequency_spend_correlation_
        if np.isfinite(corr) and abs(corr) > 0.3:
            notes.append(f"frequency and spend are correlated (r = {corr:.2f}); Gamma-Gamma assumes independence")
    else:
        notes.append(f"only {repeat} repeat customer(s): Gamma-Gamma not fitted, expected_value is the "
                     "account's mean repeat transaction (the overall mean without one)")
        out["expected_value"] = np.where(x > 0, summary["monetary_value"], observed)
    out["clv"] = ds.config.gross_margin * out["expected_value"] * discounted
    out = out[["account_id", "frequency", "recency", "T", "monetary_value", "first_purchase", "p_alive",
               "expected_purchases", "expected_value", "clv"]]
    return ClvResult(
        as_of=as_of,
        unit=unit,
        horizon_months=horizon_months,
        bgnbd=bg.summary(),
        gamma_gamma=gg.summary() if gg else None,
        frequency_spend_correlation=gg.frequency_spend_correlation_ if gg else None,
        predictions=out,
        notes=warnings + notes,
        warnings=warnings,
    )


def subscription_clv(
    ds: Dataset,
    by: str | None = None,
    as_of: dt.date | None = None,
    lifetime: str = "survival",
    grain: str = "quarter",
) -> pd.DataFrame:
    """CLV of SPEC section 6 on the as-of day: ARPA x gross_margin x lifetime (months), per group.

    ``lifetime`` ``survival``: the Kaplan-Meier median lifetime with its 95% CI
    (:func:`csmetrics.models.survival.median_lifetime_months`; CLV null when the
    median is not reached); ``configured``: ``lifespan_months`` from csmetrics.toml.
    ARPA = MRR of paying accounts on ``as_of`` / their number. Columns: group,
    customers, arpa, lifetime_months, lifetime_lower, lifetime_upper, clv, clv_lower, clv_upper.
    """
    from csmetrics.metrics.state import mrr_as_of
    from csmetrics.models import MISSING
    from csmetrics.models.survival import COHORT, median_lifetime_months

    if lifetime not in ("survival", "configured"):
        raise UsageError(f"--lifetime {lifetime!r}: expected survival or configured "
                         "(the churn-based lifetime is the clv metric of `csmetrics metrics`)")
    if by == COHORT:
        raise UsageError("subscription CLV is per accounts column; cohorts are for `csmetrics survival`")
    as_of = as_of or default_as_of(ds)
    m = mrr_as_of(ds, as_of)
    m = m.filter(m.mrr > 0)
    if by is not None:
        acc = ds.table("accounts")
        if by not in acc.columns:
            raise UsageError(f"--by {by!r} is not an accounts column (have: {', '.join(acc.columns)})")
        a = acc.select(_acc="account_id", group=acc[by].cast("string").fill_null(MISSING))
        m = m.left_join(a, m.account_id == a._acc)
        arpa = m.group_by("group").aggregate(customers=m.count(), arpa=m.mrr.mean())
        total = m.aggregate(customers=m.count(), arpa=m.mrr.mean()).mutate(group=ibis.null("string"))
        arpa = total.union(arpa.select("customers", "arpa", "group"))
    else:
        arpa = m.aggregate(customers=m.count(), arpa=m.mrr.mean()).mutate(group=ibis.null("string"))
    arpa_df = ds.backend.execute(arpa)
    arpa_df = arpa_df.assign(_o=arpa_df["group"].notna()).sort_values(["_o", "group"]).drop(columns="_o")
    arpa_df = arpa_df.reset_index(drop=True)
    arpa_df["group"] = arpa_df["group"].astype(object).where(arpa_df["group"].notna(), None)
    if lifetime == "configured":
        months = ds.config.lifespan_months
        if months is None:
            raise UsageError("--lifetime configured needs lifespan_months in csmetrics.toml")
        life = pd.DataFrame({"group": arpa_df["group"], "median_months": float(months),
                             "ci_lower": float(months), "ci_upper": float(months)})
    else:
        life = median_lifetime_months(ds, by, as_of, grain)
    key = "\0"
    life = life.assign(_k=life["group"].fillna(key))
    arpa_df = arpa_df.assign(_k=arpa_df["group"].fillna(key))
    j = arpa_df.merge(life[["_k", "median_months", "ci_lower", "ci_upper"]], on="_k", how="left")
    margin = ds.config.gross_margin
    out = pd.DataFrame({
        "group": j["group"],
        "customers": j["customers"].astype("int64"),
        "arpa": j["arpa"].astype("float64"),
        "lifetime_months": j["median_months"],
        "lifetime_lower": j["ci_lower"],
        "lifetime_upper": j["ci_upper"],
    })
    out["clv"] = out["arpa"] * margin * out["lifetime_months"]
    out["clv_lower"] = out["arpa"] * margin * out["lifetime_lower"]
    out["clv_upper"] = out["arpa"] * margin * out["lifetime_upper"]
    return out
