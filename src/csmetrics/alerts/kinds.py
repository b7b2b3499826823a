"""The rule kinds: which accounts a rule fires for as of a day, with the event and the reason.

Each kind is a function ``(ctx, rule) -> list[Finding]``. Everything is point
in time: only data dated on or before the as-of day ``T`` is read (a renewal's
``outcome`` is not read, as it is not known before its due day). Counting is
done by Ibis expressions run by the backend; Python formats the few findings.

| kind | fires when | event (part of the dedup key) |
|---|---|---|
| health_worsens | colour on T worse than on T - within_days, score down >= min_points | day of the worsening, colours |
| score_drop | health score on T - days minus score on T >= points | T |
| nps_detractor | an NPS answer 0..max_score responded in (T - within_days, T] | response_id |
| csat_negative | a CSAT answer < csat_positive_min responded in (T - within_days, T] | response_id |
| usage_drop | events in (T - w, T] <= (1 - drop) x events in (T - 2w, T - w], the latter >= min_prior_events | T |
| renewal_risk | a renewal due in [T, T + within_days] while the health score on T < below | renewal_id |
| mrr_contraction | MRR on the day before T's month - MRR on T >= min_amount (contraction or churn) | T's month |

Worked example (usage_drop, w = 30, drop = 0.5, T = 2026-06-15): 100 events
from 2026-04-17 to 2026-05-16 and 40 from 2026-05-17 to 2026-06-15: 40 <=
50, so it fires with "usage down 60% over 30 days: 40 events vs 100 in the 30
days before".

The health kinds (health_worsens, score_drop, renewal_risk) fire only for
accounts paying on T; so do usage_drop and renewal_risk.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ibis
import pandas as pd

from csmetrics.alerts.settings import Rule
from csmetrics.io.dataset import Dataset
from csmetrics.metrics import state
from csmetrics.models.health.config import HealthConfig

__all__ = ["KIND_FUNCTIONS", "Context", "Finding"]

RANK = {"green": 0, "yellow": 1, "red": 2}


@dataclass(frozen=True)
class Finding:
    """One account a rule fires for: the event behind it (for the dedup key), the reason, the numbers."""

    account_id: str
    event: str
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    """One evaluation: the dataset, the as-of day, the health model; health scores computed once."""

    ds: Dataset
    as_of: dt.date
    health: HealthConfig
    _scores: dict[dt.date, pd.DataFrame] = field(default_factory=dict)
    _paying: set[str] | None = None

    def scores(self, days: list[dt.date]) -> dict[dt.date, pd.DataFrame]:
        """Health scores (account_id-indexed frames) of each of ``days``, each day scored once per evaluation."""
        from csmetrics.models.health import score_history

        todo = sorted({d for d in days if d not in self._scores})
        if todo:
            frame = score_history(self.ds, todo, self.health)
            for d in todo:
                self._scores[d] = frame[frame["as_of"] == d].set_index("account_id")
        return {d: self._scores[d] for d in days}

    def paying(self) -> set[str]:
        """Accounts with MRR > 0 on the as-of day."""
        if self._paying is None:
            if not self.ds.has("subscriptions"):
                self._paying = set()
            else:
                m = state.account_mrr_on(self.ds, [self.as_of])
                self._paying = set(self.ds.backend.execute(m.select("account_id"))["account_id"].astype(str))
        return self._paying


def _day(col: Any) -> Any:
    return col.cast("date") if col.type().is_timestamp() else col


def _why(row: pd.Series) -> str:
    """The health explanation in words: the reasons (components scoring < 50), else the main drag."""
    reasons = row.get("reasons")
    if isinstance(reasons, list | tuple) and len(reasons):
        return "; ".join(str(r) for r in reasons)
    drag = row.get("main_drag")
    return str(drag) if isinstance(drag, str) and drag else "no component below 50"


def health_worsens(ctx: Context, rule: Rule) -> list[Finding]:
    n = int(rule.param("within_days"))
    days = [ctx.as_of - dt.timedelta(days=k) for k in range(n, -1, -1)]
    scores = ctx.scores(days)
    now, start = scores[ctx.as_of], scores[days[0]]
    paying = ctx.paying()
    out = []
    for aid, row in now.iterrows():
        c1 = row["health_color"]
        c0 = start["health_color"].get(aid) if aid in start.index else None
        if str(aid) not in paying or c1 not in RANK or c0 not in RANK or RANK[c1] <= RANK[c0]:
            continue
        if RANK[c1] < RANK[str(rule.params.get("into", "yellow"))]:
            continue
        # The day of the change: the last day of the window whose colour is worse than the day before.
        changed = ctx.as_of
        for prev, d in zip(days[:-1], days[1:], strict=True):
            a, b = scores[prev]["health_color"].get(aid), scores[d]["health_color"].get(aid)
            if a in RANK and b in RANK and RANK[b] > RANK[a]:
                changed = d
        s0 = float(start.loc[aid, "health_score"])
        s1 = float(row["health_score"])
        if s0 - s1 < rule.param("min_points"):  # a score hovering at a colour's edge: not a change
            continue
        reason = (f"health {c0} -> {c1} (score {s0:.0f} -> {s1:.0f}) on {changed.isoformat()}: {_why(row)}")
        out.append(Finding(str(aid), f"{changed.isoformat()}:{c0}->{c1}", reason,
                           {"color_before": c0, "color": c1, "score_before": round(s0, 2), "score": round(s1, 2),
                            "changed_on": changed.isoformat()}))
    return out


def score_drop(ctx: Context, rule: Rule) -> list[Finding]:
    days_back, points = int(rule.param("days")), rule.param("points")
    before = ctx.as_of - dt.timedelta(days=days_back)
    scores = ctx.scores([before, ctx.as_of])
    now, then = scores[ctx.as_of], scores[before]
    joined = now[["health_score", "reasons", "main_drag"]].join(then[["health_score"]], rsuffix="_before",
                                                                   how="inner")
    joined = joined[(joined["health_score_before"] - joined["health_score"]) >= points]
    paying = ctx.paying()
    out = []
    for aid, row in joined.iterrows():
        if str(aid) not in paying:
            continue
        s0, s1 = float(row["health_score_before"]), float(row["health_score"])
        reason = f"health score down {s0 - s1:.0f} points in {days_back} days ({s0:.0f} -> {s1:.0f}): {_why(row)}"
        out.append(Finding(str(aid), ctx.as_of.isoformat(), reason,
                           {"score_before": round(s0, 2), "score": round(s1, 2), "drop": round(s0 - s1, 2)}))
    return out


def _answers(ctx: Context, survey: str, within: int, below: float, inclusive: bool) -> pd.DataFrame:
    if not ctx.ds.has("survey_responses"):
        return pd.DataFrame()
    r = ctx.ds.table("survey_responses")
    day = _day(r.responded_at)
    lo = ctx.as_of - dt.timedelta(days=within)
    hit = r.score <= below if inclusive else r.score < below
    cols = ["response_id", "account_id", "score"] + [c for c in ("comment", "ticket_id") if c in r.columns]
    sel = r.filter((r.survey == survey) & hit & (day > lo) & (day <= ctx.as_of)).select(*cols, day=day)
    return ctx.ds.backend.execute(sel.order_by("day", "response_id"))


def _quoted(comment: Any) -> str:
    if isinstance(comment, str) and comment.strip():
        return f'"{comment.strip()}"'
    return "(no comment)"


def nps_detractor(ctx: Context, rule: Rule) -> list[Finding]:
    df = _answers(ctx, "nps", int(rule.param("within_days")), rule.param("max_score"), inclusive=True)
    out = []
    for row in df.itertuples(index=False):
        day = pd.Timestamp(row.day).date().isoformat()
        reason = f"NPS {row.score:g} on {day}: {_quoted(getattr(row, 'comment', None))}"
        out.append(Finding(str(row.account_id), str(row.response_id), reason,
                           {"response_id": str(row.response_id), "score": float(row.score), "responded_on": day}))
    return out


def csat_negative(ctx: Context, rule: Rule) -> list[Finding]:
    cfg = ctx.ds.config
    df = _answers(ctx, "csat", int(rule.param("within_days")), cfg.csat_positive_min, inclusive=False)
    out = []
    for row in df.itertuples(index=False):
        day = pd.Timestamp(row.day).date().isoformat()
        ticket = getattr(row, "ticket_id", None)
        on = f" (ticket {ticket})" if isinstance(ticket, str) and ticket else ""
        reason = (f"CSAT {row.score:g}/{cfg.csat_scale_max:g} on {day}{on}, below {cfg.csat_positive_min:g}: "
                  f"{_quoted(getattr(row, 'comment', None))}")
        out.append(Finding(str(row.account_id), str(row.response_id), reason,
                           {"response_id": str(row.response_id), "score": float(row.score), "responded_on": day}))
    return out


def usage_drop(ctx: Context, rule: Rule) -> list[Finding]:
    if not ctx.ds.has("usage_events"):
        return []
    window, drop, min_prior = int(rule.param("window_days")), rule.param("drop"), rule.param("min_prior_events")
    u = ctx.ds.table("usage_events")
    day = _day(u.occurred_at)
    mid, lo = ctx.as_of - dt.timedelta(days=window), ctx.as_of - dt.timedelta(days=2 * window)
    w = u.filter((day > lo) & (day <= ctx.as_of)).mutate(_d=day)
    agg = w.group_by("account_id").aggregate(recent=(w._d > mid).sum(), prior=(w._d <= mid).sum())
    hit = agg.filter((agg.prior >= max(min_prior, 1)) & (agg.recent <= agg.prior * (1 - drop)))
    df = ctx.ds.backend.execute(hit.order_by("account_id"))
    paying = ctx.paying()
    out = []
    for row in df.itertuples(index=False):
        if str(row.account_id) not in paying:
            continue
        change = row.recent / row.prior - 1
        reason = (f"usage down {-change:.0%} over {window} days: {row.recent} events vs {row.prior} "
                  f"in the {window} days before")
        out.append(Finding(str(row.account_id), ctx.as_of.isoformat(), reason,
                           {"recent_events": int(row.recent), "prior_events": int(row.prior),
                            "change": round(float(change), 4)}))
    return out


def renewal_risk(ctx: Context, rule: Rule) -> list[Finding]:
    if not ctx.ds.has("renewals"):
        return []
    within, below = int(rule.param("within_days")), rule.param("below")
    r = ctx.ds.table("renewals")
    hi = ctx.as_of + dt.timedelta(days=within)
    due = ctx.ds.backend.execute(
        r.filter((r.due_on >= ctx.as_of) & (r.due_on <= hi)).select("renewal_id", "account_id", "due_on")
        .order_by("due_on", "renewal_id"))
    if due.empty:
        return []
    now = ctx.scores([ctx.as_of])[ctx.as_of]
    paying = ctx.paying()
    out = []
    for row in due.itertuples(index=False):
        aid = str(row.account_id)
        if aid not in paying or aid not in now.index:
            continue
        score = float(now.loc[aid, "health_score"])
        if not score < below:
            continue
        d = pd.Timestamp(row.due_on).date()
        reason = (f"renewal {row.renewal_id} due {d.isoformat()} (in {(d - ctx.as_of).days} days) with health "
                  f"score {score:.1f} < {below:g}: {_why(now.loc[aid])}")
        out.append(Finding(aid, str(row.renewal_id), reason,
                           {"renewal_id": str(row.renewal_id), "due_on": d.isoformat(), "score": round(score, 2)}))
    return out


def mrr_contraction(ctx: Context, rule: Rule) -> list[Finding]:
    if not ctx.ds.has("subscriptions"):
        return []
    start = ctx.as_of.replace(day=1) - dt.timedelta(days=1)
    m = state.account_mrr_on(ctx.ds, [start, ctx.as_of])
    agg = m.group_by("account_id").aggregate(
        m0=ibis.cases((m.day == start, m.mrr), else_=0).sum().cast("float64"),
        m1=ibis.cases((m.day == ctx.as_of, m.mrr), else_=0).sum().cast("float64"))
    hit = agg.filter((agg.m0 > 0) & ((agg.m0 - agg.m1) >= rule.param("min_amount")))
    df = ctx.ds.backend.execute(hit.order_by("account_id"))
    month = ctx.as_of.strftime("%Y-%m")
    cur = ctx.ds.config.base_currency
    out = []
    for row in df.itertuples(index=False):
        m0, m1 = round(float(row.m0), 2), round(float(row.m1), 2)
        what = "churned" if m1 <= 0 else "contraction"
        reason = (f"MRR down {m0 - m1:,.2f} {cur} in {month} ({what}): {m0:,.2f} on {start.isoformat()} -> "
                  f"{m1:,.2f} on {ctx.as_of.isoformat()}")
        details: dict[str, Any] = {"mrr_before": m0, "mrr_now": m1, "lost": round(m0 - m1, 2), "movement": what}
        if m1 <= 0:  # a churned account has no MRR left: what is at stake is what a win-back would recover
            details["mrr_at_stake"] = m0
        out.append(Finding(str(row.account_id), month, reason, details))
    return out


KIND_FUNCTIONS: dict[str, Callable[[Context, Rule], list[Finding]]] = {
    "health_worsens": health_worsens,
    "score_drop": score_drop,
    "nps_detractor": nps_detractor,
    "csat_negative": csat_negative,
    "usage_drop": usage_drop,
    "renewal_risk": renewal_risk,
    "mrr_contraction": mrr_contraction,
}


def numbers(ctx: Context, rule: Rule, account_id: str) -> dict[str, Any]:
    """The numbers a rule judges ``account_id`` by, as of the context's day (for ``alerts test``)."""
    T = ctx.as_of
    out: dict[str, Any] = {"paying": account_id in ctx.paying()}
    if rule.kind in ("health_worsens", "score_drop", "renewal_risk"):
        back = {"health_worsens": "within_days", "score_drop": "days"}.get(rule.kind)
        days = [T - dt.timedelta(days=int(rule.param(back))), T] if back else [T]
        for d, frame in ctx.scores(days).items():
            if account_id in frame.index:
                out[f"health {d.isoformat()}"] = (f"{frame.loc[account_id, 'health_score']:.1f} "
                                                  f"{frame.loc[account_id, 'health_color']}")
    if rule.kind == "renewal_risk" and ctx.ds.has("renewals"):
        r = ctx.ds.table("renewals")
        hi = T + dt.timedelta(days=int(rule.param("within_days")))
        due = ctx.ds.backend.execute(r.filter((r.account_id == account_id) & (r.due_on >= T) & (r.due_on <= hi))
                                     .select("renewal_id", "due_on"))
        out["renewals due"] = [f"{x.renewal_id} on {pd.Timestamp(x.due_on).date().isoformat()}"
                               for x in due.itertuples(index=False)]
    if rule.kind in ("nps_detractor", "csat_negative") and ctx.ds.has("survey_responses"):
        s = ctx.ds.table("survey_responses")
        day = _day(s.responded_at)
        lo = T - dt.timedelta(days=int(rule.param("within_days")))
        survey = "nps" if rule.kind == "nps_detractor" else "csat"
        df = ctx.ds.backend.execute(s.filter((s.account_id == account_id) & (s.survey == survey) & (day > lo)
                                             & (day <= T)).select("response_id", "score", d=day).order_by("d"))
        out["answers in window"] = [f"{x.response_id}: {x.score:g} on {pd.Timestamp(x.d).date().isoformat()}"
                                    for x in df.itertuples(index=False)]
        if survey == "csat":
            out["csat_positive_min"] = ctx.ds.config.csat_positive_min
    if rule.kind == "usage_drop" and ctx.ds.has("usage_events"):
        w = int(rule.param("window_days"))
        u = ctx.ds.table("usage_events")
        day = _day(u.occurred_at)
        mid, lo = T - dt.timedelta(days=w), T - dt.timedelta(days=2 * w)
        mine = u.filter((u.account_id == account_id) & (day > lo) & (day <= T)).mutate(_d=day)
        agg = ctx.ds.backend.execute(mine.aggregate(recent=(mine._d > mid).sum(), prior=(mine._d <= mid).sum()))
        recent, prior = (int(v) if pd.notna(v) else 0 for v in (agg["recent"].iloc[0], agg["prior"].iloc[0]))
        out.update({f"events {(mid + dt.timedelta(days=1)).isoformat()}..{T.isoformat()}": recent,
                    f"events {(lo + dt.timedelta(days=1)).isoformat()}..{mid.isoformat()}": prior})
    if rule.kind == "mrr_contraction" and ctx.ds.has("subscriptions"):
        start = T.replace(day=1) - dt.timedelta(days=1)
        m = state.account_mrr_on(ctx.ds, [start, T])
        df = ctx.ds.backend.execute(m.filter(m.account_id == account_id))
        by_day = {pd.Timestamp(x.day).date(): round(float(x.mrr), 2) for x in df.itertuples(index=False)}
        out[f"mrr {start.isoformat()}"] = by_day.get(start, 0.0)
        out[f"mrr {T.isoformat()}"] = by_day.get(T, 0.0)
    return out
