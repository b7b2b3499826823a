"""What each page shows, as plain Python values: thin glue over compute, state and the models.

Nothing here formats HTML; the templates do (with autoescaping on). Every
function takes the :class:`~csmetrics.web.store.Store` and the page's
:class:`Filters`; metric values come from ``compute_dataset`` so the
dashboard, the API and the CLI agree.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from dataclasses import dataclass, field, replace
from typing import Any

import ibis
import pandas as pd

from csmetrics import clock
from csmetrics.compute import data_span as compute_span
from csmetrics.compute import resolve_periods
from csmetrics.io.dataset import Dataset
from csmetrics.metrics import state
from csmetrics.metrics.context import period_first
from csmetrics.periods import GRAINS, Period, check_grain, parse_date, periods_between
from csmetrics.registry import REGISTRY, load_all
from csmetrics.schema.errors import UsageError
from csmetrics.web.store import Store

log = logging.getLogger("csmetrics.web")

DEFAULT_LAST = {"week": 26, "month": 12, "quarter": 8, "year": 5}
MAX_PERIODS = 400
ACCOUNT_TABLES = ("subscriptions", "charges", "tickets", "survey_responses", "usage_events", "renewals")


@dataclass(frozen=True)
class Filters:
    """The filters every page shares; they live in the URL's query string."""

    period: str = "month"
    start: dt.date | None = None
    end: dt.date | None = None
    segment: str | None = None

    @classmethod
    def parse(cls, period: str | None, start: str | None, end: str | None, segment: str | None) -> Filters:
        grain = (period or "month").strip()
        if grain not in GRAINS:
            raise UsageError(f"unknown period {grain!r}: expected one of {', '.join(GRAINS)}")
        s = parse_date(start.strip(), "start") if start and start.strip() else None
        e = parse_date(end.strip(), "end") if end and end.strip() else None
        if s and e and e <= s:
            raise UsageError(f"end {e} must be after start {s}")
        seg = segment if segment and segment.strip() else None
        return cls(grain, s, e, seg)

    def query(self, **override: Any) -> dict[str, str]:
        """Query parameters that reproduce these filters (for links)."""
        f = replace(self, **override) if override else self
        q = {"period": f.period}
        if f.start:
            q["start"] = f.start.isoformat()
        if f.end:
            q["end"] = f.end.isoformat()
        if f.segment:
            q["segment"] = f.segment
        return q

    @property
    def last(self) -> int | None:
        return DEFAULT_LAST[self.period] if self.start is None and self.end is None else None


SHORTEST = {"week": 7, "month": 28, "quarter": 90, "year": 365}
LONGEST = {"week": 7, "month": 31, "quarter": 92, "year": 366}
"""Days in the shortest and longest period of each grain (to bound a range's period count cheaply)."""


def data_span(store: Store) -> tuple[dt.date, dt.date]:
    """The first and last day with data (the default range of a run), cached until the next write."""

    def build() -> tuple[dt.date, dt.date]:
        with store.reading():
            return compute_span(store.ds)

    return store.cached("span", build)


def check_periods(store: Store, grain: str, start: dt.date | None, end: dt.date | None,
                  last: int | None = None) -> None:
    """Refuse a request for more than MAX_PERIODS periods, whichever parameters make the range.

    ``last`` bounds the count by itself; otherwise the range is ``start`` (default: the data's first day)
    to ``end`` (exclusive; default: the day after the data's last day), as :func:`resolve_periods` takes it.
    Raises :class:`UsageError` (a 400) naming the limit.
    """
    check_grain(grain)
    if last is not None:
        if last > MAX_PERIODS:
            msg = f"last={last}: at most {MAX_PERIODS} periods per request"
            raise UsageError(msg)
        return
    s, e = start, end
    if s is None or e is None:
        lo, hi = data_span(store)
        s = s or lo
        e = e or hi + dt.timedelta(days=1)
    days = (e - s).days
    if days <= 0 or days // SHORTEST[grain] + 2 <= MAX_PERIODS:
        return  # surely within the limit (an empty range is reported where the periods are made)
    at_least = days // LONGEST[grain]
    if at_least > MAX_PERIODS:
        held = f"at least {at_least:,}"
    else:  # near the limit: count exactly (a few hundred periods)
        n = len(periods_between(s, e, grain, store.ds.config.week_start))
        if n <= MAX_PERIODS:
            return
        held = f"{n:,}"
    msg = (f"the range {s} to {e} holds {held} {grain}s, over the limit of {MAX_PERIODS} periods per request: "
           "narrow it (start, end)")
    raise UsageError(msg)


@dataclass
class Series:
    """Metric values per period: ``frame`` has one row per period label, one column per metric."""

    frame: pd.DataFrame
    periods: list[Period]
    notes: list[str] = field(default_factory=list)

    def values(self, name: str) -> list[float | None]:
        if name not in self.frame.columns:
            return []
        return [None if pd.isna(v) else float(v) for v in self.frame[name]]

    @property
    def labels(self) -> list[str]:
        return [p.label for p in self.periods]

    def has(self, name: str) -> bool:
        return name in self.frame.columns


def restricted(ds: Dataset, segment: str | None) -> Dataset:
    """``ds`` limited to the accounts of one segment (costs, not per account, are left out)."""
    if segment is None:
        return ds
    if "segment" not in ds.account_columns:
        raise UsageError("the accounts table has no segment column")
    acc = ds.table("accounts")
    acc = acc.filter(acc.segment == segment)
    ids = acc.account_id
    tables = {"accounts": acc}
    for name, t in ds.tables.items():
        if name != "accounts" and "account_id" in t.columns:
            tables[name] = t.filter(t.account_id.isin(ids))
        elif name == "fx_rates":
            tables[name] = t
    return Dataset(ds.backend, tables, ds.config, ds.source, ds.extra_columns)


def check_filters(store: Store, f: Filters) -> None:
    """:func:`check_periods` for a page's filters."""
    check_periods(store, f.period, f.start, f.end, f.last)


def periods(store: Store, f: Filters) -> list[Period]:
    check_filters(store, f)

    def build() -> list[Period]:
        return resolve_periods(store.ds, f.period, f.start, f.end, f.last)

    return store.cached(("periods", f), build)


def series(store: Store, f: Filters, names: list[str], by: str | None = None) -> Series:
    """The metrics ``names`` over the filter's periods (those the data allows), pivoted."""
    check_filters(store, f)
    load_all()

    def build() -> Series:
        ds = restricted(store.ds, f.segment)
        wanted = [n for n in names if all(ds.has(t) for t in REGISTRY[n].needs)]
        ps = resolve_periods(store.ds, f.period, f.start, f.end, f.last)
        notes = [f"{n}: not available (needs {', '.join(REGISTRY[n].needs)})" for n in names if n not in wanted]
        if not wanted:
            return Series(pd.DataFrame(index=[p.label for p in ps]), ps, notes)
        res = store.compute(ds, metrics=wanted, period=f.period, start=ps[0].first,
                            end=ps[-1].last + dt.timedelta(days=1), by=by)
        rows = res.rows
        if by is None:
            frame = rows.pivot(index="period", columns="metric", values="value")
            frame = frame.reindex(index=[p.label for p in ps], columns=wanted)
        else:
            frame = rows.pivot_table(index=["group", "period"], columns="metric", values="value",
                                     aggfunc="first", dropna=False)
        return Series(frame, ps, notes + res.notes)

    return store.cached(("series", f, tuple(names), by), build)


def last_day(store: Store) -> dt.date:
    """The default as-of day of every API endpoint and page: the last day with recorded activity (usage,
    tickets, survey answers, charges, subscription starts), not after today.

    The rule of :func:`csmetrics.models.health.score.last_data_day`, which ``csmetrics accounts`` and
    ``csmetrics health`` use, so one account has one score by default on the CLI, the API and the pages.
    Recomputed after every write (a new answer can move it).
    """
    from csmetrics.models.health.score import last_data_day

    def build() -> dt.date:
        with store.reading():
            # The whole company's last day, whatever the scope: one account has one score on every view.
            return last_data_day(store.full_ds, clock.today())

    return store.cached("last_day", build)


def as_of(store: Store, ps: list[Period]) -> dt.date:
    """The day account-level views of a page are taken on: :func:`last_day`, or the end of the range
    when the range ends before it."""
    return min(ps[-1].last, last_day(store))


# -- health and feedback models (written elsewhere; used when present) -------------------------

def _frame(result: Any) -> pd.DataFrame | None:
    if result is None:
        return None
    if isinstance(result, pd.DataFrame):
        return result
    for attr in ("accounts", "scores", "frame", "df", "rows", "themes"):
        v = getattr(result, attr, None)
        if isinstance(v, pd.DataFrame):
            return v
    if hasattr(result, "to_pandas"):
        return result.to_pandas()  # type: ignore[no-any-return]
    if hasattr(result, "execute"):
        return result.execute()  # type: ignore[no-any-return]
    if isinstance(result, list):
        return pd.DataFrame(result)
    return None


def scored_company(store: Store, day: dt.date | None) -> pd.DataFrame:
    """Every account of the company scored by the health model as of ``day`` (percentile rules compare
    peers, so always among all accounts); computed once per write and shared by every scope, which cuts
    its rows with :meth:`Store.in_scope`. Raises what the model raises."""
    from csmetrics.models.health import config_for, score_accounts

    day = day or last_day(store)  # the model's own default day, named so both spellings share one result

    def build() -> pd.DataFrame:
        try:
            with store.reading():
                df = _frame(score_accounts(store.full_ds, day, config_for(store.config_source)))
        finally:
            store.drop_temp_tables()
        if df is None:
            raise ValueError("the health model returned no table")
        return df

    return store.cached_company(("health", day), build)


def health_scores(store: Store, day: dt.date) -> pd.DataFrame | None:
    """account_id, health_score, health_color and component columns; None if the model is not available."""

    def build() -> pd.DataFrame | None:
        try:
            df = scored_company(store, day)
        except ImportError:
            return None
        except Exception:  # the model is optional for the dashboard: log and carry on
            if store.closing:  # interrupted by a stop: the warm-up drops it quietly
                raise
            log.exception("health model failed")
            return None
        if "account_id" not in df.columns:
            return None
        return store.in_scope(df).reset_index(drop=True)

    return store.cached(("health", day), build)


def warm(store: Store) -> None:
    """Compute what the first page loads need before anyone asks (``csmetrics serve`` runs this in the
    background at start and after each ingest or sync through the server): the as-of day, the health
    model over every account (the slow part at 100k+ accounts, shared by every scope), the customers
    table, the overview's, revenue's, retention's and CSMs' periods, then the feedback page's comment
    themes."""
    from csmetrics.web import pages

    f = Filters()
    steps: list[tuple[str, Any]] = [
        ("health", lambda: health_scores(store, last_day(store))),
        ("customers", lambda: accounts_frame(store, last_day(store))),
        ("overview", lambda: pages.overview_context(store, f)),
        ("revenue", lambda: pages.revenue_context(store, f, None)),
        ("retention", lambda: pages.retention_context(store, f)),
    ]
    if "csm" in store.ds.account_columns:
        steps.append(("csms", lambda: pages.csms_context(store, f)))
    # last: the comment themes of every answer (seconds at 1M+ answers)
    steps.append(("feedback", lambda: pages.feedback_context(store, f)))
    store.warm_steps(steps)


def feedback_themes(store: Store, f: Filters) -> dict[str, Any] | None:
    """Comment themes and sentiment from csmetrics.models.feedback; None if that model is not available.

    Returns ``{"themes": [rows of display strings], "sentiment": {...}, "notes": [...]}``.
    """
    ps = periods(store, f)

    def build() -> dict[str, Any] | None:
        try:
            from csmetrics.models.feedback import analyze_feedback
        except ImportError:
            return None
        ds = restricted(store.ds, f.segment)
        try:
            with store.reading():
                res = analyze_feedback(ds, grain=f.period, start=ps[0].first, end=ps[-1].last + dt.timedelta(days=1))
        except UsageError as exc:
            return {"themes": [], "sentiment": {}, "notes": [str(exc)]}
        except Exception:  # optional model: the page still renders without it
            if store.closing:  # interrupted by a stop: the warm-up drops it quietly
                raise
            log.exception("feedback model failed")
            return None
        finally:
            store.drop_temp_tables()
        rows = []
        for t in res.themes:
            rows.append({
                "theme": t.label,
                "kind": t.kind,
                "comments": t.comments,
                "share": f"{100 * t.share:.1f}%",
                "sentiment": f"{t.avg_sentiment:+.2f}",
                "NPS impact": "–" if t.nps_impact is None else f"{t.nps_impact:.1f}",
                "example": t.examples[0] if t.examples else "",
            })
        return {"themes": rows, "sentiment": res.sentiment, "notes": list(res.notes)}

    return store.cached(("themes", f), build)


# -- accounts -------------------------------------------------------------------------------

def account_records(store: Store, day: dt.date | None) -> list[dict[str, Any]] | None:
    """The objects `csmetrics accounts --format json` prints (health and components nested), or None
    when the health model is not available. ``day`` None means the model's default (last day with data)."""

    def build() -> list[dict[str, Any]] | None:
        try:
            from csmetrics.models.health import config_for
        except ImportError:
            return None
        from csmetrics.models.health.records import json_records  # the JSON shape is the CLI's
        ds = store.ds
        try:
            cfg = config_for(store.config_source)
            # Scored among all accounts (percentile rules compare peers), then cut to the scope.
            df = store.in_scope(scored_company(store, day))
            with store.reading():
                acc = ds.table("accounts")
                attrs = [c for c in ("name", "segment", "csm") if c in acc.columns]
                if attrs:
                    df = ds.backend.execute(acc.select("account_id", *attrs)).merge(df, on="account_id", how="right")
        except UsageError:
            raise
        except Exception:  # optional model: fall back to accounts without health
            if store.closing:  # interrupted by a stop: the warm-up drops it quietly
                raise
            log.exception("health model failed")
            return None
        finally:
            store.drop_temp_tables()
        names = cfg.component_names
        signals = {n: cfg.base.components[n].signal for n in names}
        df = df.sort_values("account_id", kind="stable")
        # The CLI's JSON writer builds the records column-wise (building them
        # row by row takes seconds per 100k accounts); the same objects.
        return json.loads("".join(json_records(df, names, signals)))  # type: ignore[no-any-return]

    return store.cached(("account_records", day), build)


def accounts_frame(store: Store, day: dt.date, segment: str | None = None) -> pd.DataFrame:
    """Every account with its MRR on ``day`` and, when available, health score and colour."""

    def build() -> pd.DataFrame:
        ds = store.ds
        acc = ds.table("accounts")
        m = state.mrr_as_of(ds, day)
        j = acc.left_join(m, acc.account_id == m.account_id).select(acc, mrr=m.mrr.fill_null(0))
        with store.reading():
            df = ds.backend.execute(j)
        h = health_scores(store, day)
        if h is not None:
            keep = [c for c in ("account_id", "health_score", "health_color") if c in h.columns]
            df = df.merge(h[keep], on="account_id", how="left")
        return df

    df = store.cached(("accounts", day), build)
    if segment is not None and "segment" in df.columns:
        df = df[df["segment"] == segment]
    return df


def account_detail(store: Store, account_id: str, day: dt.date) -> dict[str, Any] | None:
    """One account: attributes, MRR, health with components, and its rows in every account table."""

    def build() -> dict[str, Any] | None:
        ds = store.ds
        with store.reading():
            acc = ds.table("accounts")
            row = ds.backend.execute(acc.filter(acc.account_id == account_id))
            if row.empty:
                return None
            out: dict[str, Any] = {"account": _record(row.iloc[0].to_dict()), "tables": {}}
            order = {"subscriptions": "started_at", "tickets": "opened_at", "survey_responses": "responded_at",
                     "charges": "charged_at", "renewals": "due_on", "usage_events": "occurred_at"}
            for name in ACCOUNT_TABLES:
                if not ds.has(name):
                    continue
                t = ds.table(name)
                t = t.filter(t.account_id == account_id).order_by(ibis.desc(order[name])).limit(500)
                out["tables"][name] = ds.backend.execute(t)
            m = state.mrr_as_of(ds, day)
            mrr = ds.backend.execute(m.filter(m.account_id == account_id))
            out["mrr"] = float(mrr["mrr"].iloc[0]) if not mrr.empty else 0.0
        h = health_scores(store, day)
        out["health"] = None
        if h is not None:
            hit = h[h["account_id"] == account_id]
            if not hit.empty:
                out["health"] = _record(hit.iloc[0].to_dict())
        return out

    return store.cached(("account", account_id, day), build)


def _record(d: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(v) for k, v in d.items()}


def _plain(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, pd.Timestamp):
        if pd.isna(v):
            return None
        return v.date() if v == v.normalize() else v.to_pydatetime()
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(v, "item"):
        return v.item()
    return v


def _shown(value: str, limit: int = 80) -> str:
    """A user's value for an error message: repr'd, and cut so a huge value is not echoed back whole."""
    return repr(value if len(value) <= limit else value[:limit] + "...")


def check_value(name: str, value: str | None, valid: list[str]) -> None:
    """Refuse a filter value that matches nothing (an error, not an empty report), naming the valid ones."""
    if value is None or value in valid:
        return
    if not valid:
        msg = f"unknown {name} {_shown(value)}: the accounts have no {name} values"
    else:
        listed = ", ".join(valid[:30]) + (f" and {len(valid) - 30} more" if len(valid) > 30 else "")
        msg = f"unknown {name} {_shown(value)}: expected one of {listed}"
    raise UsageError(msg)


def check_segment(store: Store, segment: str | None) -> None:
    """Refuse a segment that no account has (the accounts' ``segment`` column)."""
    if segment is None:  # (reads nothing: the page shown during the warm-up must not wait for the store)
        return
    if "segment" not in store.ds.account_columns:
        raise UsageError("the accounts table has no segment column")
    check_value("segment", segment, segments(store))


def check_csm(store: Store, csm: str | None) -> None:
    """Refuse a CSM that no account has (the accounts' ``csm`` column)."""
    if csm is not None and "csm" not in store.ds.account_columns:
        raise UsageError("the accounts table has no csm column")
    check_value("csm", csm, csms(store))


def column_values(store: Store, column: str) -> list[str]:
    """The distinct non-null values of the accounts' ``column``, sorted ([] when there is no such column)."""

    def build() -> list[str]:
        ds = store.ds
        if column not in ds.account_columns:
            return []
        acc = ds.table("accounts")
        s = acc.select(column).filter(acc[column].notnull()).distinct().order_by(column)
        with store.reading():
            return [str(x) for x in ds.backend.execute(s)[column]]

    return store.cached(("values", column), build)


def csms(store: Store) -> list[str]:
    return column_values(store, "csm")


def segments(store: Store) -> list[str]:
    return column_values(store, "segment")


# -- cohorts --------------------------------------------------------------------------------

def cohort_retention(store: Store, f: Filters) -> tuple[list[str], list[str], list[list[float | None]], list[int]]:
    """Cohorts by the period of first payment; share of each cohort paying at the end of later periods.

    Returns (cohort labels, period labels, matrix of shares (None before the cohort starts), cohort sizes).
    """
    ps = periods(store, f)

    def build() -> tuple[list[str], list[str], list[list[float | None]], list[int]]:
        ds = restricted(store.ds, f.segment)
        labels = [p.label for p in ps]
        if not ds.has("subscriptions"):
            return [], labels, [], []
        ws = ds.config.week_start
        fp = state.first_paying_day(ds)
        fp = fp.mutate(cohort=period_first(fp.first_day, f.period, ws))
        fp = fp.filter((fp.cohort >= ps[0].first) & (fp.cohort <= ps[-1].last))
        sizes_t = fp.group_by("cohort").aggregate(n=fp.account_id.count())
        paying = state.account_mrr_on(ds, [p.last for p in ps])
        j = paying.join(fp, paying.account_id == fp.account_id)
        kept_t = j.group_by([j.cohort, j.day]).aggregate(k=j.account_id.nunique())
        with store.reading():
            sizes = store.ds.backend.execute(sizes_t)
            kept = store.ds.backend.execute(kept_t)
        by_first = {p.first: i for i, p in enumerate(ps)}
        by_last = {p.last: i for i, p in enumerate(ps)}
        size = {pd.Timestamp(r.cohort).date(): int(r.n) for r in sizes.itertuples()}
        cohorts = sorted(c for c in size if c in by_first)
        matrix: list[list[float | None]] = [[None] * len(ps) for _ in cohorts]
        row_of = {c: i for i, c in enumerate(cohorts)}
        for c in cohorts:
            for k in range(by_first[c], len(ps)):
                matrix[row_of[c]][k] = 0.0
        for r in kept.itertuples():
            c, d = pd.Timestamp(r.cohort).date(), pd.Timestamp(r.day).date()
            if c in row_of and d in by_last and by_last[d] >= by_first[c]:
                matrix[row_of[c]][by_last[d]] = int(r.k) / size[c]
        return [labels[by_first[c]] for c in cohorts], labels, matrix, [size[c] for c in cohorts]

    result = store.cached(("cohorts", f), build)
    store.drop_temp_tables()
    return result


def recent_comments(store: Store, f: Filters, limit: int = 50) -> pd.DataFrame:
    ps = periods(store, f)

    def build() -> pd.DataFrame:
        ds = restricted(store.ds, f.segment)
        if not ds.has("survey_responses"):
            return pd.DataFrame()
        t = ds.table("survey_responses")
        day = t.responded_at.cast("date")
        t = t.filter(t.comment.notnull() & (t.comment.strip() != "") & (day >= ps[0].first) & (day <= ps[-1].last))
        t = t.order_by(ibis.desc("responded_at")).limit(limit)
        t = t.select("responded_at", "account_id", "survey", "score", "comment")
        with store.reading():
            return ds.backend.execute(t)

    return store.cached(("comments", f, limit), build)
