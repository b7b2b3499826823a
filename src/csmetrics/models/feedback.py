"""Qualitative feedback analysis: sentiment, themes, their weight on scores and NPS, outliers.

Input: survey comments (``survey_responses.comment``) and, when the tickets
table has a ``subject`` column, ticket subjects. The backend selects the
non-blank texts (with score, survey, date and the ``--by`` column); the text
models of :mod:`csmetrics.models.text` then run on them, offline.

Per theme (see :mod:`csmetrics.models.text` for how themes are found):

- ``comments``, ``share`` of all comments with a theme-able text;
- ``avg_sentiment`` (VADER compound, -1..1) and the theme's ``kind``:
  praise (a theme of the positive comments), complaint (a theme of the other
  comments with avg_sentiment <= -0.05) or neutral;
- average score per survey (NPS 0-10, CSAT 1..csat_scale_max, CES 1-7);
- ``nps_impact``: how many NPS points the score would gain if the theme's
  detractors were passives: 100 x theme detractors / all NPS responses in the
  window (with or without comment). Comments belong to one theme, so the
  impacts of all themes add up to at most the detractors' share;
- the same per period (``grain``) and per group (``by``).

Outliers: a high score with a clearly negative comment, or a low score with a
clearly positive one. Clearly: VADER compound <= -0.5 / >= 0.5. High / low:
NPS >= 9 / <= 6; CSAT >= csat_positive_min / <= csat_positive_min - 2;
CES >= 5 / <= 3.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from csmetrics.config import Config
from csmetrics.io.dataset import Dataset
from csmetrics.models import MISSING
from csmetrics.models.text import NEGATIVE, extract_themes, sentiment, sentiment_label
from csmetrics.periods import check_grain, label, period_start
from csmetrics.schema.errors import UsageError

CLEAR = 0.5
"""|VADER compound| from which a comment counts as clearly positive or negative (outliers)."""
SURVEYS = ("nps", "csat", "ces")


def comments_table(ds: Dataset, by: str | None = None, start: dt.date | None = None,
                   end: dt.date | None = None) -> ir.Table:
    """source, id, account_id, survey, score, day, group, text: every non-blank comment (and ticket subject).

    ``end`` is exclusive. ``group`` is the ``by`` accounts column (null without it).
    """
    parts: list[ir.Table] = []
    if ds.has("survey_responses") and "comment" in ds.table("survey_responses").columns:
        r = ds.table("survey_responses")
        parts.append(r.select(
            source=ibis.literal("survey"), id=r.response_id.cast("string"), account_id=r.account_id,
            survey=r.survey.cast("string"), score=r.score.cast("float64"), day=r.responded_at.cast("date"),
            text=r.comment.cast("string"),
        ))
    if ds.has("tickets") and "subject" in ds.table("tickets").columns:
        t = ds.table("tickets")
        parts.append(t.select(
            source=ibis.literal("ticket"), id=t.ticket_id.cast("string"), account_id=t.account_id,
            survey=ibis.null("string"), score=ibis.null("float64"), day=t.opened_at.cast("date"),
            text=t.subject.cast("string"),
        ))
    if not parts:
        raise UsageError("feedback needs survey_responses with a comment column (or tickets with a subject column)")
    u = parts[0] if len(parts) == 1 else parts[0].union(parts[1])
    u = u.filter(u.text.notnull() & (u.text.strip().length() > 0))
    if start is not None:
        u = u.filter(u.day >= start)
    if end is not None:
        u = u.filter(u.day < end)
    if by is None:
        return u.mutate(group=ibis.null("string"))
    acc = ds.table("accounts")
    if by not in acc.columns:
        raise UsageError(f"--by {by!r} is not an accounts column (have: {', '.join(acc.columns)})")
    a = acc.select(_acc="account_id", group=acc[by].cast("string").fill_null(MISSING))
    return u.left_join(a, u.account_id == a._acc).drop("_acc")


def nps_counts(ds: Dataset, by: str | None = None, start: dt.date | None = None,
               end: dt.date | None = None) -> pd.DataFrame:
    """day, group, responses: NPS answers per day (and group), with or without comment."""
    if not ds.has("survey_responses"):
        return pd.DataFrame({"day": [], "group": [], "responses": []})
    r = ds.table("survey_responses")
    r = r.filter(r.survey == "nps").mutate(day=r.responded_at.cast("date"))
    if start is not None:
        r = r.filter(r.day >= start)
    if end is not None:
        r = r.filter(r.day < end)
    if by is not None:
        acc = ds.table("accounts")
        a = acc.select(_acc="account_id", group=acc[by].cast("string").fill_null(MISSING))
        r = r.left_join(a, r.account_id == a._acc)
    else:
        r = r.mutate(group=ibis.null("string"))
    agg = r.group_by(["day", "group"]).aggregate(responses=r.count(),
                                                 promoters=(r.score >= 9).cast("int64").sum(),
                                                 detractors=(r.score <= 6).cast("int64").sum())
    return ds.backend.execute(agg)


@dataclass
class ThemeSummary:
    theme: int
    label: str
    terms: list[str]
    kind: str
    comments: int
    share: float
    avg_sentiment: float
    avg_score: dict[str, float | None]
    nps_detractors: int
    nps_impact: float | None
    examples: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class FeedbackResult:
    """Everything `csmetrics feedback` shows; ``to_dict`` is its JSON form."""

    grain: str
    by: str | None
    comments: pd.DataFrame
    themes: list[ThemeSummary]
    by_period: pd.DataFrame
    outliers: pd.DataFrame
    nps: dict[str, float | int | None]
    sentiment: dict[str, int]
    n_themes_chosen: int
    silhouette: float | None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": self.grain,
            "by": self.by,
            "comments": int(len(self.comments)),
            "without_theme": int((self.comments["theme"] < 0).sum()),
            "sentiment": self.sentiment,
            "nps": self.nps,
            "themes": [t.to_dict() for t in self.themes],
            "by_period": _records(self.by_period),
            "outliers": _records(self.outliers),
            "silhouette": self.silhouette,
            "notes": self.notes,
        }


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in df.to_dict(orient="records"):
        clean: dict[str, Any] = {}
        for k, v in row.items():
            if isinstance(v, float | np.floating) and not np.isfinite(v):
                v = None
            elif isinstance(v, np.integer):
                v = int(v)
            elif isinstance(v, np.floating):
                v = float(v)
            elif isinstance(v, dt.date | pd.Timestamp):
                v = v.isoformat()
            elif v is pd.NA or (not isinstance(v, str | list | dict) and v is not None and pd.isna(v)):
                v = None
            clean[str(k)] = v
        out.append(clean)
    return out


def _mean(s: pd.Series) -> float | None:
    s = s.dropna()
    return float(s.mean()) if len(s) else None


def outlier_kind(survey: str | None, score: float | None, compound: float, config: Config) -> str | None:
    """'high score, negative comment' / 'low score, positive comment' / None (see module docstring)."""
    if survey is None or score is None or not np.isfinite(score):
        return None
    high, low = {
        "nps": (score >= 9, score <= 6),
        "csat": (score >= config.csat_positive_min, score <= config.csat_positive_min - 2),
        "ces": (score >= 5, score <= 3),
    }.get(survey, (False, False))
    if high and compound <= -CLEAR:
        return "high score, negative comment"
    if low and compound >= CLEAR:
        return "low score, positive comment"
    return None


def _kind(avg: float, polarity: str) -> str:
    if polarity == "positive":
        return "praise"
    return "complaint" if avg <= NEGATIVE else "neutral"


def analyze_feedback(
    ds: Dataset,
    grain: str = "month",
    by: str | None = None,
    n_themes: int | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    random_state: int = 0,
) -> FeedbackResult:
    """Sentiment, themes, per-theme scores and NPS impact, per period and group, and outliers."""
    check_grain(grain)
    week_start = ds.config.week_start
    df = ds.backend.execute(comments_table(ds, by, start, end))
    notes: list[str] = []
    if df.empty:
        raise UsageError("there is no comment to analyse in the selected range")
    df = df.sort_values(["day", "source", "id"], kind="stable").reset_index(drop=True)
    df["day"] = pd.to_datetime(df["day"]).dt.date
    df["period"] = _period_labels(df["day"], grain, week_start)
    df["group"] = df["group"].astype(object).where(df["group"].notna(), None)
    texts = df["text"].astype(str).str.strip().tolist()
    df["sentiment"] = sentiment(texts)
    df["sentiment_label"] = df["sentiment"].map({v: sentiment_label(v) for v in df["sentiment"].unique()})
    model = extract_themes(texts, n_themes=n_themes, random_state=random_state,
                           sentiments=df["sentiment"].to_numpy())
    if model.n_themes == 0:
        notes.append("too few comments with shared words to find themes")
    df["theme"] = model.assignment
    df["theme_label"] = [model.label(int(t)) for t in df["theme"]]
    is_nps = df["survey"] == "nps"
    df["nps_detractor"] = is_nps & (df["score"] <= 6)

    counts = nps_counts(ds, by, start, end)
    counts["day"] = pd.to_datetime(counts["day"]).dt.date
    counts["period"] = _period_labels(counts["day"], grain, week_start)
    counts["group"] = counts["group"].astype(object).where(counts["group"].notna(), None)
    total_nps = int(counts["responses"].sum())
    nps_value = (100.0 * (counts["promoters"].sum() - counts["detractors"].sum()) / total_nps
                 if total_nps else None)

    themed = df[df["theme"] >= 0]
    themes: list[ThemeSummary] = []
    for t in range(model.n_themes):
        part = df[df["theme"] == t]
        avg = float(part["sentiment"].mean())
        det = int(part["nps_detractor"].sum())
        themes.append(ThemeSummary(
            theme=t,
            label=model.label(t),
            terms=model.terms[t],
            kind=_kind(avg, model.polarity[t]),
            comments=int(len(part)),
            share=float(len(part) / len(themed)) if len(themed) else 0.0,
            avg_sentiment=avg,
            avg_score={s: _mean(part.loc[part["survey"] == s, "score"]) for s in SURVEYS},
            nps_detractors=det,
            nps_impact=100.0 * det / total_nps if total_nps else None,
            examples=[texts[i] for i in model.examples[t]],
        ))

    by_period = _by_period(df, counts)
    # (once per distinct survey, score and sentiment: a million comments share a few thousand)
    kinds: dict[tuple[Any, Any, float], str | None] = {}
    outlier = []
    for s, sc, c in zip(df["survey"], df["score"], df["sentiment"], strict=True):
        key = (s, sc, c)
        if key not in kinds:
            kinds[key] = outlier_kind(s if isinstance(s, str) else None, sc, c, ds.config)
        outlier.append(kinds[key])
    df["outlier"] = outlier
    out = df[df["outlier"].notna()].copy()
    out = out.assign(strength=out["sentiment"].abs()).sort_values(["strength", "day"], ascending=[False, True])
    outliers = out[["outlier", "source", "id", "account_id", "survey", "score", "sentiment", "day", "group",
                    "theme_label", "text"]].reset_index(drop=True)
    return FeedbackResult(
        grain=grain,
        by=by,
        comments=df,
        themes=themes,
        by_period=by_period,
        outliers=outliers,
        nps={"responses": total_nps, "nps": nps_value},
        sentiment={k: int((df["sentiment_label"] == k).sum()) for k in ("positive", "neutral", "negative")},
        n_themes_chosen=model.n_themes,
        silhouette=model.silhouette,
        notes=notes,
    )


def _period_labels(days: pd.Series, grain: str, week_start: str) -> list[str]:
    """The period label of each day, computed once per distinct day."""
    labels = {d: label(period_start(d, grain, week_start), grain) for d in days.unique()}
    return [labels[d] for d in days]


def _by_period(df: pd.DataFrame, counts: pd.DataFrame) -> pd.DataFrame:
    """theme, theme_label, period, group, comments, share, avg_sentiment, avg scores, nps_impact."""
    keys = ["period", "group"]
    d = df.assign(group=df["group"].fillna("\0"))
    c = counts.assign(group=counts["group"].fillna("\0"))
    nps_n = c.groupby(keys)["responses"].sum()
    totals = d[d["theme"] >= 0].groupby(keys).size()
    rows = []
    for (theme, tlabel, period, group), part in d[d["theme"] >= 0].groupby(
            ["theme", "theme_label", "period", "group"], sort=True):
        n = int(nps_n.get((period, group), 0))
        det = int(part["nps_detractor"].sum())
        rows.append({
            "theme": int(theme), "theme_label": tlabel, "period": period,
            "group": None if group == "\0" else group,
            "comments": int(len(part)), "share": float(len(part) / totals[(period, group)]),
            "avg_sentiment": float(part["sentiment"].mean()),
            **{f"avg_{s}_score": _mean(part.loc[part["survey"] == s, "score"]) for s in SURVEYS},
            "nps_detractors": det, "nps_impact": 100.0 * det / n if n else None,
        })
    cols = ["theme", "theme_label", "period", "group", "comments", "share", "avg_sentiment",
            *[f"avg_{s}_score" for s in SURVEYS], "nps_detractors", "nps_impact"]
    return pd.DataFrame(rows, columns=cols)
