"""Per-account health signals as of one or many days, computed by the backend.

Every signal is an Ibis aggregate over the input tables joined to a table of
as-of days, keeping only rows dated on or before the as-of day (point in
time: an event dated later never changes a past score). A ticket is open on
day d when opened on or before d and not resolved by d; its contact count is
used only once it is resolved by d. Definitions: :data:`config.SIGNALS`.

Each aggregate is its own query (:func:`signal_parts`), narrowed to the rows
that can fall in a window before any join; the results are placed on one
pandas frame, a row per (account, as-of day), that the scoring in
:mod:`csmetrics.models.health.score` works on. Many days at once cost memory
in proportion: :func:`~csmetrics.models.health.score.iter_score_history`
takes them a few at a time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from csmetrics.io.dataset import Dataset
from csmetrics.metrics import state
from csmetrics.metrics.common import MASK_FEATURES, bit_count, bit_or
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


def _span(days: Sequence[dt.date], back: int) -> tuple[dt.date, dt.date]:
    """(lo, hi): a row dated in (lo, hi] may fall in a window of ``back`` days ending on one of ``days``."""
    return min(days) - dt.timedelta(days=back), max(days)


def _within(day: ir.DateValue, lo: dt.date, hi: dt.date) -> ir.BooleanValue:
    """lo < day <= hi: rows outside cannot count for any as-of day, so they are dropped before any join."""
    return (day > ibis.literal(lo, "date")) & (day <= ibis.literal(hi, "date"))


def first_uses(ds: Dataset) -> pd.DataFrame:
    """feature, first: the day each feature was first used by anyone (the catalogue grows with it)."""
    u = ds.table("usage_events")
    # The date of the earliest time (the same day as the earliest date, without casting every event).
    df = ds.backend.execute(u.group_by("feature").aggregate(first=_date(u.occurred_at.min())))
    df["first"] = pd.to_datetime(df["first"]).dt.date
    return df.sort_values("feature", ignore_index=True)


DAY_BITS = 62
"""Days per BIGINT bitmask when counting the distinct active days of a usage window."""


def usage_aggregates(ds: Dataset, d: ir.Table, days: Sequence[dt.date], window: int,
                     first: pd.DataFrame | None = None) -> ir.Table:
    """Per (account, as_of): active_days, recent/prior events and the features used in the usage window.

    Each event that can fall in a window is joined to the as-of days whose two
    usage windows hold it, and aggregated per (account, as_of) at once: the
    distinct days are counted with bitmasks (bit ``as_of - day`` set, in
    DAY_BITS-day words), the features too when the catalogue has at most
    MASK_FEATURES of them (else by COUNT(DISTINCT)). No per-(account, day)
    table of the events is built. ``first`` is :func:`first_uses` when the
    caller has it.
    """
    first = first_uses(ds) if first is None else first
    features = [str(f) for f in first["feature"]]
    u = ds.table("usage_events")
    u = u.select("account_id", "feature", day=_date(u.occurred_at))
    u = u.filter(_within(u.day, *_span(days, 2 * window)))
    masks = 0 < len(features) <= MASK_FEATURES
    if masks:
        bits = ibis.memtable({"_feature": features, "_fbit": [1 << i for i in range(len(features))]},
                             schema={"_feature": "string", "_fbit": "int64"})
        u = u.join(bits, u.feature == bits._feature)
    j = u.join(d, [u.day <= d.as_of, u.day > _ago(d, 2 * window)])
    j = j.mutate(_off=j.as_of.delta(j.day, unit="day"))
    recent = j._off < window
    one = ibis.literal(1, "int64")
    words = range((window + DAY_BITS - 1) // DAY_BITS)
    aggs = {
        **{f"_d{k}": bit_or(ibis.cases((recent & (j._off >= k * DAY_BITS) & (j._off < (k + 1) * DAY_BITS),
                                         one << (j._off - k * DAY_BITS)), else_=0)) for k in words},
        "recent_events": _count_if(recent),
        "prior_events": _count_if(~recent),
    }
    if masks:
        aggs["_fm"] = bit_or(ibis.cases((recent, j._fbit), else_=0))
    a = j.group_by(["account_id", "as_of"]).aggregate(**aggs)
    active_days = sum((bit_count(a[f"_d{k}"]) for k in words), ibis.literal(0, "int64"))
    cols = {"active_days": active_days, "recent_events": a.recent_events, "prior_events": a.prior_events}
    if masks:
        cols["features"] = bit_count(a._fm)
    activity = a.select("account_id", "as_of", **cols)
    if not masks:
        used = u.filter(u.day > ibis.literal(_span(days, window)[0], "date"))
        used = used.select("account_id", "feature", "day").distinct()
        fj = used.join(d, [used.day <= d.as_of, used.day > _ago(d, window)])
        feats = fj.group_by(["account_id", "as_of"]).aggregate(features=fj.feature.nunique())
        activity = _attach(activity, feats)
    return activity


def ticket_aggregates(ds: Dataset, d: ir.Table, days: Sequence[dt.date], window: int) -> ir.Table:
    t = ds.table("tickets")
    t = t.select("account_id", "contacts", o=_date(t.opened_at), r=_date(t.resolved_at))
    # Only tickets still open on the first as-of day or opened in a support window can count.
    lo, hi = _span(days, window)
    t = t.filter((t.o <= ibis.literal(hi, "date"))
                 & (t.r.isnull() | (t.r > ibis.literal(min(days), "date")) | (t.o > ibis.literal(lo, "date"))))
    j = t.join(d, t.o <= d.as_of)
    is_open = j.r.isnull() | (j.r > j.as_of)
    solved = ~is_open & (j.o > _ago(j, window)) & j.contacts.notnull()
    return j.group_by(["account_id", "as_of"]).aggregate(
        open_tickets=_count_if(is_open),
        fcr_tickets=_count_if(solved),
        fcr_one=_count_if(solved & (j.contacts == 1)),
    )


def survey_aggregates(ds: Dataset, d: ir.Table, days: Sequence[dt.date], window: int) -> tuple[ir.Table, ir.Table]:
    s = ds.table("survey_responses")
    s = s.select("account_id", "survey", "score", "responded_at", day=_date(s.responded_at),
                 who=s.respondent.cast("string").fill_null(ibis.literal("response:") + s.response_id.cast("string")))
    s = s.filter(_within(s.day, *_span(days, window)))
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


def renewal_aggregates(ds: Dataset, d: ir.Table, days: Sequence[dt.date], window: int) -> ir.Table:
    r = ds.table("renewals")
    r = r.filter(_within(r.due_on, *_span(days, window)))
    j = r.join(d, [r.due_on <= d.as_of, r.due_on > _ago(d, window)])
    return j.group_by(["account_id", "as_of"]).aggregate(
        renewed=_count_if(j.outcome == "renewed"), churned=_count_if(j.outcome == "churned"))


def _attach(base: ir.Table, agg: ir.Table, keys: tuple[str, ...] = ("account_id", "as_of")) -> ir.Table:
    """``base`` left-joined to ``agg`` on ``keys`` (agg's copies of the keys dropped)."""
    r = agg.rename({f"_k_{k}": k for k in keys})
    j = base.left_join(r, [base[k] == r[f"_k_{k}"] for k in keys])
    return j.drop(*[f"_k_{k}" for k in keys])


@dataclass(frozen=True)
class Undated:
    """The inputs of the signals that do not depend on the as-of days, read once for many calls.

    ``ids``: every account_id, sorted; ``first_uses``: :func:`first_uses` (None
    without usage); ``first_paying``: account_id, first_day (the first paying
    day, None without subscriptions).
    """

    ids: np.ndarray
    first_uses: pd.DataFrame | None
    first_paying: pd.DataFrame | None


def undated(ds: Dataset) -> Undated:
    """:class:`Undated` of ``ds`` (three small queries)."""
    ids = fetch(ds, ds.table("accounts").select("account_id"))["account_id"]
    return Undated(
        ids=ids.drop_duplicates().sort_values(kind="stable").to_numpy(dtype=object),
        first_uses=first_uses(ds) if ds.has("usage_events") else None,
        first_paying=fetch(ds, state.first_paying_day(ds)) if ds.has("subscriptions") else None,
    )


def signal_parts(ds: Dataset, days: Sequence[dt.date], windows: dict[str, int],
                 first: pd.DataFrame | None = None) -> list[ir.Table]:
    """The dated aggregates the signals derive from, as separate Ibis expressions.

    Each has account_id and ``as_of`` (at most one row per pair), except the
    MRR on every as-of day and one MRR window before it (account_id, day, mrr).
    They are run one by one and placed on the accounts x days grid by
    :func:`compute_signals`: one query joining them all would hold every
    aggregate's hash table at once (twice the memory, and slower). ``first``
    is :func:`first_uses` (read here when not given, with usage). The counts
    are cast to float64 (exact below 2**53) by the backend.
    """
    days = sorted(set(days))
    d = days_table(days)
    parts: list[ir.Table] = []
    if ds.has("subscriptions"):
        w = windows["mrr"]
        parts.append(state.account_mrr_on(ds, sorted({*days, *(day - dt.timedelta(days=w) for day in days)})))
    if ds.has("usage_events"):
        parts.append(usage_aggregates(ds, d, days, windows["usage"], first))
    if ds.has("tickets"):
        parts.append(ticket_aggregates(ds, d, days, windows["support"]))
    if ds.has("survey_responses"):
        parts.extend(survey_aggregates(ds, d, days, windows["surveys"]))
    if ds.has("renewals"):
        parts.append(renewal_aggregates(ds, d, days, windows["renewals"]))
    touches = last_touch(ds, days)
    if touches is not None:
        parts.append(touches)
    return [p.mutate(**{c: p[c].cast("float64") for c in COUNT_COLUMNS if c in p.columns}) for p in parts]


TOUCHES = (("usage_events", "occurred_at"), ("tickets", "opened_at"), ("survey_responses", "responded_at"))
"""Where a touch comes from: a usage event, a ticket opened, a survey answered."""


def _bucket(day: ir.DateValue, days: Sequence[dt.date]) -> ir.DateValue:
    """The first of ``days`` (sorted) on or after ``day``, for a day on or before the last one.

    A balanced CASE tree: log2(len(days)) comparisons per row, no join.
    """
    if len(days) == 1:
        return ibis.literal(days[0], "date")  # type: ignore[return-value]
    mid = (len(days) - 1) // 2
    return ibis.ifelse(day <= ibis.literal(days[mid], "date"),  # type: ignore[return-value]
                       _bucket(day, days[:mid + 1]), _bucket(day, days[mid + 1:]))


def last_touch(ds: Dataset, days: Sequence[dt.date]) -> ir.Table | None:
    """account_id, as_of, last_touch: the latest touch (:data:`TOUCHES`) on or before each as-of day.

    Each touch falls in one bucket (previous as-of day, as-of day]; the latest
    touch per account and bucket, carried forward as a running max over the
    as-of days, avoids joining every touch to every later as-of day (or even
    listing the distinct touch days). None when no table of touches is present.
    """
    days = sorted(set(days))
    d = days_table(days)
    hi = ibis.literal(days[-1], "date")
    parts: list[ir.Table] = []
    for table, col in TOUCHES:
        if ds.has(table):
            t = ds.table(table)
            t = t.select("account_id", day=_date(t[col]))
            t = t.filter(t.day <= hi)
            t = t.mutate(as_of=_bucket(t.day, days))
            parts.append(t.group_by(["account_id", "as_of"]).aggregate(bucket_last=t.day.max()))
    if not parts:
        return None
    per_bucket = parts[0]
    for p in parts[1:]:
        per_bucket = per_bucket.union(p)
    per_bucket = per_bucket.group_by(["account_id", "as_of"]).aggregate(bucket_last=per_bucket.bucket_last.max())
    grid = per_bucket.select("account_id").distinct().cross_join(d)
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


def _ratio(num: pd.Series, den: pd.Series, scale: float = 1.0) -> np.ndarray:
    """num / den x scale where den > 0, else NaN (unknown)."""
    n, d = num.fillna(0).to_numpy(dtype="float64"), den.fillna(0).to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d > 0, scale * n / np.where(d > 0, d, 1.0), np.nan)


COUNT_COLUMNS = ("active_days", "recent_events", "prior_events", "features", "open_tickets", "fcr_tickets",
                 "fcr_one", "csat_n", "csat_pos", "nps_n", "promoters", "detractors", "renewed", "churned")
"""Aggregates of :func:`signal_parts` that are whole counts."""


def _dates(col: pd.Series) -> np.ndarray:
    """Each value as a ``datetime.date`` (None when missing); each distinct value is converted once."""
    codes, uniq = pd.factorize(col, use_na_sentinel=True)
    boxed = np.array([None, *(pd.Timestamp(v).date() for v in uniq)], dtype=object)
    return boxed[codes + 1]  # type: ignore[no-any-return]


def fetch(ds: Dataset, expr: ir.Table) -> pd.DataFrame:
    """``expr`` run by the backend, as pandas, converted from Arrow a column at a time.

    Faster than ``backend.execute`` on wide results with nulls (which builds
    Python objects for those columns): numbers become float64 (NaN for null),
    dates and timestamps datetime64 (NaT), decimals float64 with the value of
    ``float(Decimal)`` (each distinct decimal converted once).
    """
    table = ds.backend.to_pyarrow(expr)
    cols: dict[str, Any] = {}
    for name, col in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_decimal(col.type):
            cols[name] = _decimal_floats(col)
        elif pa.types.is_date(col.type) or pa.types.is_timestamp(col.type):
            cols[name] = col.to_pandas(date_as_object=False)
        else:
            cols[name] = col.to_pandas()
    return pd.DataFrame(cols)


def _decimal_floats(col: pa.ChunkedArray) -> np.ndarray:
    enc = pc.dictionary_encode(col.combine_chunks())
    values = np.array([*(float(v) for v in enc.dictionary.to_pylist()), np.nan], dtype="float64")
    return values[pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False)]  # type: ignore[no-any-return]


class _Grid:
    """The accounts x as-of days frame compute_signals fills: row ``day_index * accounts + account_index``,
    days ascending, accounts in account_id order (so rows are sorted by as_of, then account_id)."""

    def __init__(self, ids: np.ndarray, days: list[dt.date]) -> None:
        self.ids, self.days = ids, days
        self.index = pd.Index(ids)
        self.day64 = np.array(days, dtype="datetime64[D]")
        self.size = len(ids) * len(days)
        self.cols: dict[str, np.ndarray] = {}

    def place(self, part: pd.DataFrame) -> None:
        """Put ``part``'s columns on the grid: by (account_id, as_of), or by account_id for every day."""
        acc = self.index.get_indexer(part["account_id"])
        keep = acc >= 0  # rows of accounts absent from the accounts table have no row (as in a left join)
        if "as_of" in part.columns:
            day = part["as_of"].to_numpy().astype("datetime64[D]")
            k = np.minimum(np.searchsorted(self.day64, day), len(self.days) - 1)
            keep &= self.day64[k] == day
            rows = k[keep] * len(self.ids) + acc[keep]
        else:
            rows = (np.arange(len(self.days))[:, None] * len(self.ids) + acc[keep][None, :]).reshape(-1)
        for c in part.columns:
            if c in ("account_id", "as_of"):
                continue
            v = part[c].to_numpy()[keep]
            if np.issubdtype(v.dtype, np.datetime64):
                col = np.full(self.size, np.datetime64("NaT"), dtype="datetime64[D]")
                v = v.astype("datetime64[D]")
            else:
                col = np.full(self.size, np.nan)
                v = v.astype("float64")
            col[rows] = v if "as_of" in part.columns else np.tile(v, len(self.days))
            self.cols[c] = col

    def get(self, name: str) -> pd.Series:
        """A float column (NaN where no aggregate row, or when no part has it)."""
        return pd.Series(self.cols[name] if name in self.cols else np.full(self.size, np.nan))

    def day_numbers(self, name: str) -> np.ndarray:
        """A date column as days since 1970-01-01 (float64, NaN when missing)."""
        v = self.cols[name]
        out = v.astype("int64").astype("float64")
        out[np.isnat(v)] = np.nan
        return out


def compute_signals(ds: Dataset, days: Sequence[dt.date], windows: dict[str, int],
                    fixed: Undated | None = None) -> pd.DataFrame:
    """One row per (account, as-of day): account_id, as_of, mrr, first_day and every signal.

    The aggregates (:func:`signal_parts`) run on the backend, one query each,
    and are placed on the grid of every account and day; the ratios are taken
    here, on whole columns. A signal is NaN when it cannot be known: its table
    is absent, or the account has nothing to measure (no CSAT answer, no usage
    in the window before...). Rows are sorted by as_of, then account_id.
    ``fixed`` is :func:`undated` of ``ds`` when the caller has it (read here if not).
    """
    days = sorted(set(days))
    fixed = undated(ds) if fixed is None else fixed
    first = fixed.first_uses
    g = _Grid(fixed.ids, days)
    if fixed.first_paying is not None:
        g.place(fixed.first_paying)
    for expr in signal_parts(ds, days, windows, first) if days else []:
        part = fetch(ds, expr)
        if "as_of" not in part.columns:  # the MRR on the as-of days and one MRR window before them
            on = part["day"].to_numpy().astype("datetime64[D]")
            g.place(part.loc[np.isin(on, g.day64), ["account_id", "mrr"]].assign(as_of=on[np.isin(on, g.day64)]))
            later = on + np.timedelta64(windows["mrr"], "D")
            back = np.isin(later, g.day64)
            g.place(pd.DataFrame({"account_id": part["account_id"].to_numpy()[back], "as_of": later[back],
                                  "mrr_before": part["mrr"].to_numpy()[back]}))
            continue
        g.place(part)
    out = pd.DataFrame({"account_id": np.tile(g.ids, len(days)),
                        "as_of": np.repeat(np.array(days, dtype=object), len(g.ids))})
    out["mrr"] = g.get("mrr").fillna(0.0)
    out["mrr_before"] = g.get("mrr_before")
    out["mrr_change"] = _ratio(out["mrr"], out["mrr_before"]) - 1.0
    out["first_day"] = _dates(pd.Series(g.cols["first_day"].astype("datetime64[s]"))) if "first_day" in g.cols \
        else None
    if ds.has("usage_events"):
        for c in ("active_days", "recent_events", "prior_events", "features"):
            out[c] = g.get(c).fillna(0.0)
        first = first_uses(ds) if first is None else first
        # The catalogue on each day: the features anyone used on or before it.
        catalogue = np.repeat([float((first["first"] <= day).sum()) for day in days], len(g.ids))
        out["feature_breadth"] = _ratio(out["features"], pd.Series(catalogue))
        out["usage_trend"] = _ratio(out["recent_events"], out["prior_events"]) - 1.0
    else:
        out["active_days"] = out["feature_breadth"] = out["usage_trend"] = np.nan
    if ds.has("tickets"):
        out["open_tickets"] = g.get("open_tickets").fillna(0.0)
        out["fcr_rate"] = _ratio(g.get("fcr_one"), g.get("fcr_tickets"))
    else:
        out["open_tickets"] = out["fcr_rate"] = np.nan
    if ds.has("survey_responses"):
        out["csat"] = _ratio(g.get("csat_pos"), g.get("csat_n"), 100.0)
        out["nps"] = _ratio(g.get("promoters").fillna(0) - g.get("detractors").fillna(0), g.get("nps_n"), 100.0)
    else:
        out["csat"] = out["nps"] = np.nan
    if ds.has("renewals"):
        renewed = g.get("renewed").fillna(0)
        out["renewal_rate"] = _ratio(renewed, renewed + g.get("churned").fillna(0))
    else:
        out["renewal_rate"] = np.nan
    if "last_touch" in g.cols:
        as_of = np.repeat(g.day64.astype("int64").astype("float64"), len(g.ids))
        out["days_since_touch"] = as_of - g.day_numbers("last_touch")
    else:
        out["days_since_touch"] = np.nan
    for c in SIGNAL_COLUMNS:
        out[c] = out[c].astype("float64")
    return out
