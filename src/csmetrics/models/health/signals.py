"""Per-account health signals as of one or many days, computed by the backend.

Every signal is an Ibis aggregate over the input tables joined to a table of
as-of days, keeping only rows dated on or before the as-of day (point in
time: an event dated later never changes a past score). A ticket is open on
day d when opened on or before d and not resolved by d; its contact count is
used only once it is resolved by d. Definitions: :data:`config.SIGNALS`.

The result is one small pandas frame, one row per (account, as-of day); the
scoring in :mod:`csmetrics.models.health.score` works on it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from csmetrics.io.dataset import Dataset
from csmetrics.metrics import state
from csmetrics.models.health.config import SIGNALS

SIGNAL_COLUMNS = tuple(SIGNALS)


def _date(col: ir.Value) -> ir.DateValue:
    return col.cast("date") if col.type().is_timestamp() else col  # type: ignore[return-value]


def _count_if(cond: ir.BooleanValue) -> ir.IntegerValue:
    return cond.cast("int64").sum()


def days_table(days: Iterable[dt.date]) -> ir.Table:
    return ibis.memtable({"as_of": sorted(set(days))}, schema={"as_of": "date"})


def _ago(t: ir.Table, n: int) -> ir.DateValue:
    return t.as_of - ibis.interval(days=n)


def usage_aggregates(ds: Dataset, d: ir.Table, window: int) -> tuple[ir.Table, ir.Table, ir.Table]:
    """Per (account, as_of): active_days, recent/prior events; features used; per as_of: the catalogue."""
    u = ds.table("usage_events")
    u = u.select("account_id", "feature", day=_date(u.occurred_at))
    daily = u.group_by(["account_id", "day"]).aggregate(events=u.count())
    j = daily.join(d, [daily.day <= d.as_of, daily.day > _ago(d, 2 * window)])
    recent = j.day > _ago(j, window)
    activity = j.group_by(["account_id", "as_of"]).aggregate(
        active_days=_count_if(recent),
        recent_events=ibis.cases((recent, j.events), else_=0).sum(),
        prior_events=ibis.cases((~recent, j.events), else_=0).sum(),
    )
    used = u.select("account_id", "feature", "day").distinct()
    fj = used.join(d, [used.day <= d.as_of, used.day > _ago(d, window)])
    feats = fj.group_by(["account_id", "as_of"]).aggregate(features=fj.feature.nunique())
    first = u.group_by("feature").aggregate(first=u.day.min())
    cj = first.join(d, first.first <= d.as_of)
    catalogue = cj.group_by("as_of").aggregate(catalogue=cj.feature.count())
    return activity, feats, catalogue


def touch_days(ds: Dataset) -> ir.Table | None:
    """account_id, day: every day the account used the product, opened a ticket or answered a survey."""
    parts: list[ir.Table] = []
    for table, col in (("usage_events", "occurred_at"), ("tickets", "opened_at"),
                       ("survey_responses", "responded_at")):
        if ds.has(table):
            t = ds.table(table)
            parts.append(t.select("account_id", day=_date(t[col])).distinct())
    if not parts:
        return None
    out = parts[0]
    for p in parts[1:]:
        out = out.union(p, distinct=True)
    return out


def ticket_aggregates(ds: Dataset, d: ir.Table, window: int) -> ir.Table:
    t = ds.table("tickets")
    t = t.select("account_id", "contacts", o=_date(t.opened_at), r=_date(t.resolved_at))
    j = t.join(d, t.o <= d.as_of)
    is_open = j.r.isnull() | (j.r > j.as_of)
    solved = ~is_open & (j.o > _ago(j, window)) & j.contacts.notnull()
    return j.group_by(["account_id", "as_of"]).aggregate(
        open_tickets=_count_if(is_open),
        fcr_tickets=_count_if(solved),
        fcr_one=_count_if(solved & (j.contacts == 1)),
    )


def survey_aggregates(ds: Dataset, d: ir.Table, window: int) -> tuple[ir.Table, ir.Table]:
    s = ds.table("survey_responses")
    s = s.select("account_id", "survey", "score", "responded_at", day=_date(s.responded_at),
                 who=s.respondent.cast("string").fill_null(ibis.literal("response:") + s.response_id.cast("string")))
    j = s.join(d, [s.day <= d.as_of, s.day > _ago(d, window)])
    c = j.filter(j.survey == "csat")
    csat = c.group_by(["account_id", "as_of"]).aggregate(
        csat_n=c.count(), csat_pos=_count_if(c.score >= ds.config.csat_positive_min))
    n = j.filter(j.survey == "nps")
    # The account's respondents: each one's latest answer in the window.
    n = n.mutate(_rk=ibis.row_number().over(group_by=[n.account_id, n.as_of, n.who],
                                            order_by=[ibis.desc(n.responded_at)]))
    n = n.filter(n._rk == 0)
    nps = n.group_by(["account_id", "as_of"]).aggregate(
        nps_n=n.count(), promoters=_count_if(n.score >= 9), detractors=_count_if(n.score <= 6))
    return csat, nps


def renewal_aggregates(ds: Dataset, d: ir.Table, window: int) -> ir.Table:
    r = ds.table("renewals")
    j = r.join(d, [r.due_on <= d.as_of, r.due_on > _ago(d, window)])
    return j.group_by(["account_id", "as_of"]).aggregate(
        renewed=_count_if(j.outcome == "renewed"), churned=_count_if(j.outcome == "churned"))


def _attach(base: ir.Table, agg: ir.Table, keys: tuple[str, ...] = ("account_id", "as_of")) -> ir.Table:
    """``base`` left-joined to ``agg`` on ``keys`` (agg's copies of the keys dropped)."""
    r = agg.rename({f"_k_{k}": k for k in keys})
    j = base.left_join(r, [base[k] == r[f"_k_{k}"] for k in keys])
    return j.drop(*[f"_k_{k}" for k in keys])


def signal_inputs(ds: Dataset, days: Sequence[dt.date], windows: dict[str, int]) -> ir.Table:
    """One Ibis expression: a row per (account, as_of) with every aggregate the signals derive from."""
    d = days_table(days)
    out = ds.table("accounts").select("account_id").cross_join(d)
    if ds.has("subscriptions"):
        now = state.account_mrr_on(ds, d.select(day=d.as_of))
        out = _attach(out, now.select("account_id", "mrr", as_of=now.day))
        w = windows["mrr"]
        before = state.account_mrr_on(ds, d.select(day=_ago(d, w)))
        out = _attach(out, before.select("account_id", mrr_before=before.mrr,
                                         as_of=before.day + ibis.interval(days=w)))
        out = _attach(out, state.first_paying_day(ds), ("account_id",))
    if ds.has("usage_events"):
        activity, feats, catalogue = usage_aggregates(ds, d, windows["usage"])
        out = _attach(_attach(_attach(out, activity), feats), catalogue, ("as_of",))
    if ds.has("tickets"):
        out = _attach(out, ticket_aggregates(ds, d, windows["support"]))
    if ds.has("survey_responses"):
        csat, nps = survey_aggregates(ds, d, windows["surveys"])
        out = _attach(_attach(out, csat), nps)
    if ds.has("renewals"):
        out = _attach(out, renewal_aggregates(ds, d, windows["renewals"]))
    touches = touch_days(ds)
    if touches is not None:
        out = _attach(out, last_touch(touches, d))
    return out


def last_touch(touches: ir.Table, d: ir.Table) -> ir.Table:
    """account_id, as_of, last_touch: the latest touch day on or before each as-of day.

    Each touch falls in one bucket (previous as-of day, as-of day]; the latest touch
    per bucket, carried forward as a running max over the as-of days, avoids
    joining every touch to every later as-of day.
    """
    b = d.mutate(prev=d.as_of.lag().over(order_by=d.as_of))
    j = touches.join(b, [touches.day <= b.as_of, b.prev.isnull() | (touches.day > b.prev)])
    per_bucket = j.group_by(["account_id", "as_of"]).aggregate(bucket_last=j.day.max())
    grid = touches.select("account_id").distinct().cross_join(d)
    g = _attach(grid, per_bucket)
    upto = ibis.window(group_by=g.account_id, order_by=g.as_of, rows=(None, 0))
    g = g.mutate(last_touch=g.bucket_last.max().over(upto))
    return g.filter(g.last_touch.notnull()).select("account_id", "as_of", "last_touch")


def mrr_on(ds: Dataset, days: Sequence[dt.date]) -> pd.DataFrame:
    """account_id, day, mrr (float) on each day, for accounts paying that day (through metrics.state)."""
    if not ds.has("subscriptions") or not days:
        return pd.DataFrame({"account_id": pd.Series(dtype=object), "day": [], "mrr": []})
    df = ds.backend.execute(state.account_mrr_on(ds, list(days)))
    df["day"] = pd.to_datetime(df["day"]).dt.date
    df["mrr"] = df["mrr"].astype("float64")
    return df


def _col(df: pd.DataFrame, name: str) -> pd.Series:
    return df[name].astype("float64") if name in df.columns else pd.Series(np.nan, index=df.index)


def _ratio(num: pd.Series, den: pd.Series, scale: float = 1.0) -> np.ndarray:
    """num / den x scale where den > 0, else NaN (unknown)."""
    n, d = num.fillna(0).to_numpy(dtype="float64"), den.fillna(0).to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d > 0, scale * n / np.where(d > 0, d, 1.0), np.nan)


COUNT_COLUMNS = ("active_days", "recent_events", "prior_events", "features", "catalogue", "open_tickets",
                 "fcr_tickets", "fcr_one", "csat_n", "csat_pos", "nps_n", "promoters", "detractors", "renewed",
                 "churned")
"""Aggregates of :func:`signal_inputs` that are whole counts: cast to float64 by the backend (exact below
2**53), which spares converting a column of Decimals one by one."""


def _dates(col: pd.Series) -> np.ndarray:
    """Each value as a ``datetime.date`` (None when missing); each distinct value is converted once."""
    codes, uniq = pd.factorize(col, use_na_sentinel=True)
    boxed = np.array([None, *(pd.Timestamp(v).date() for v in uniq)], dtype=object)
    return boxed[codes + 1]  # type: ignore[no-any-return]


def _day_numbers(col: pd.Series) -> np.ndarray:
    """Days since 1970-01-01 of each value's calendar day (float64, NaN when missing)."""
    v = pd.to_datetime(col).to_numpy().astype("datetime64[D]")
    out = v.astype("int64").astype("float64")
    out[np.isnat(v)] = np.nan
    return out


def compute_signals(ds: Dataset, days: Sequence[dt.date], windows: dict[str, int]) -> pd.DataFrame:
    """One row per (account, as-of day): account_id, as_of, mrr, first_day and every signal.

    The aggregates run as one backend query (:func:`signal_inputs`); the ratios
    are taken here, on whole columns. A signal is NaN when it cannot be known:
    its table is absent, or the account has nothing to measure (no CSAT answer,
    no usage in the window before...). Rows are sorted by as_of, then account_id.
    """
    expr = signal_inputs(ds, sorted(set(days)), windows)
    expr = expr.mutate(**{c: expr[c].cast("float64") for c in COUNT_COLUMNS if c in expr.columns})
    df = ds.backend.execute(expr)
    df = df.sort_values(["as_of", "account_id"], kind="stable", ignore_index=True)
    out = pd.DataFrame({"account_id": df["account_id"], "as_of": _dates(df["as_of"])})
    out["mrr"] = _col(df, "mrr").fillna(0.0)
    out["mrr_before"] = _col(df, "mrr_before")
    out["mrr_change"] = _ratio(out["mrr"], out["mrr_before"]) - 1.0
    out["first_day"] = _dates(df["first_day"]) if "first_day" in df.columns else None
    if ds.has("usage_events"):
        for c in ("active_days", "recent_events", "prior_events", "features"):
            out[c] = _col(df, c).fillna(0.0)
        out["feature_breadth"] = _ratio(out["features"], _col(df, "catalogue"))
        out["usage_trend"] = _ratio(out["recent_events"], out["prior_events"]) - 1.0
    else:
        out["active_days"] = out["feature_breadth"] = out["usage_trend"] = np.nan
    if ds.has("tickets"):
        out["open_tickets"] = _col(df, "open_tickets").fillna(0.0)
        out["fcr_rate"] = _ratio(_col(df, "fcr_one"), _col(df, "fcr_tickets"))
    else:
        out["open_tickets"] = out["fcr_rate"] = np.nan
    if ds.has("survey_responses"):
        out["csat"] = _ratio(_col(df, "csat_pos"), _col(df, "csat_n"), 100.0)
        out["nps"] = _ratio(_col(df, "promoters").fillna(0) - _col(df, "detractors").fillna(0), _col(df, "nps_n"),
                            100.0)
    else:
        out["csat"] = out["nps"] = np.nan
    if ds.has("renewals"):
        renewed = _col(df, "renewed").fillna(0)
        out["renewal_rate"] = _ratio(renewed, renewed + _col(df, "churned").fillna(0))
    else:
        out["renewal_rate"] = np.nan
    if "last_touch" in df.columns:
        out["days_since_touch"] = _day_numbers(df["as_of"]) - _day_numbers(df["last_touch"])
    else:
        out["days_since_touch"] = np.nan
    for c in SIGNAL_COLUMNS:
        out[c] = out[c].astype("float64")
    return out
