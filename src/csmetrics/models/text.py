"""Text models for feedback: comment sentiment (VADER) and themes (TF-IDF + NMF).

Both run offline on the comments already selected by the backend; nothing
is downloaded (VADER's lexicon ships inside ``vaderSentiment``).

Themes: comments become TF-IDF vectors of words and word pairs (English stop
words and a few survey filler words removed), fitted on the distinct texts so
that repeated boilerplate does not dominate; non-negative matrix
factorisation (NMF) splits them into k themes, each a weighted set of terms.
A comment belongs to the theme with its largest weight (none if it shares no
term with the vocabulary). Unless given, k is chosen among 2..max_themes as
the smallest value whose mean silhouette (cosine) of the distinct comments'
assignments is within ``PARSIMONY`` (10%) of the best one (more themes always fit a
little better; a theme split in two is harder to act on); a set of fewer than
``MIN_SPLIT`` distinct comments is one theme.

Given the comments' sentiment, themes are found separately among the
positive comments and among the others (negative or neutral): "support" in
"great support, fast answers" and in "support never answers" are different
themes for a customer success team, and a bag of words alone would merge them.

A theme's label is its top terms, ranked by NMF weight times the share of the
theme's comments that contain the term; its examples are the two distinct
comments that weigh most on it. Deterministic: NMF is initialised by NNDSVDA
and seeded by ``random_state``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

POSITIVE = 0.05
NEGATIVE = -0.05
"""VADER's usual cut-offs on the compound score for positive / negative."""

PARSIMONY = 0.10
"""Relative silhouette slack within which fewer themes are preferred (10% of the best)."""
SELECT_SAMPLE = 2000
"""Distinct texts on which the number of themes is chosen."""
MIN_SPLIT = 10
"""Fewer distinct comments than this form a single theme."""

# VADER rates general English. In customer feedback a few topic nouns read as
# praise ("support", "credit") and common complaints are not in its lexicon
# ("slow", "buggy"). Ratings on VADER's -4..4 scale; documented in docs/feedback.md.
DOMAIN_LEXICON: dict[str, float] = {
    "support": 0.0, "supports": 0.0, "supported": 0.0, "supporting": 0.0, "credit": 0.0, "credits": 0.0,
    "slow": -1.5, "slowly": -1.2, "slower": -1.5, "laggy": -1.5, "crashes": -1.7, "crashing": -1.7,
    "crashed": -1.7, "timeout": -1.2, "timeouts": -1.2, "bug": -1.2, "bugs": -1.2, "buggy": -1.8,
    "glitch": -1.2, "glitchy": -1.5, "overcharged": -2.0, "unanswered": -1.5, "outdated": -1.0,
    "unusable": -2.2, "unresponsive": -1.8, "incomplete": -1.0, "expensive": -1.0, "overpriced": -1.5,
    "clunky": -1.3, "intuitive": 1.5, "seamless": 1.6, "smooth": 1.3,
}

# Words that carry no theme in survey comments (on top of scikit-learn's English list).
FILLER = frozenset({
    "ve", "ll", "don", "doesn", "didn", "isn", "wasn", "just", "really", "make", "makes", "use", "using",
    "used", "product", "app", "tool", "company", "team", "teams", "time", "thing", "things", "lot", "bit",
    "month", "months", "week", "weeks", "day", "days", "year", "overall", "pretty", "got", "get", "gets",
    "like", "would", "could", "also", "still", "even", "us", "we", "our", "need", "needs", "want",
    "take", "takes", "took", "taking", "keep", "keeps", "kept", "went", "going", "go", "say", "said", "told",
    "know", "think", "feel", "felt", "way", "thanks", "thank", "ok", "okay",
})


def sentiment(texts: Sequence[str]) -> npt.NDArray[np.float64]:
    """VADER compound sentiment per text, in [-1, 1]."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    sia = SentimentIntensityAnalyzer()
    for word, rating in DOMAIN_LEXICON.items():
        if rating == 0.0:
            sia.lexicon.pop(word, None)
        else:
            sia.lexicon[word] = rating
    # Once per distinct text (VADER gives a text the same score wherever it is): exports repeat short
    # comments ("great", "too slow") thousands of times.
    scores: dict[str, float] = {}
    for t in texts:
        if t not in scores:
            scores[t] = sia.polarity_scores(t)["compound"]
    return np.array([scores[t] for t in texts], dtype="float64")


def sentiment_label(compound: float) -> str:
    if compound >= POSITIVE:
        return "positive"
    if compound <= NEGATIVE:
        return "negative"
    return "neutral"


@dataclass
class ThemeModel:
    """Themes found in a corpus: per theme its terms and examples; per text its theme (-1 = none)."""

    terms: list[list[str]]
    assignment: npt.NDArray[np.int64]
    weight: npt.NDArray[np.float64]
    examples: list[list[int]]
    silhouette: float | None
    polarity: list[str]

    @property
    def n_themes(self) -> int:
        return len(self.terms)

    def label(self, theme: int, n_terms: int = 3) -> str:
        return " / ".join(self.terms[theme][:n_terms]) if theme >= 0 else "(no theme)"


def _readable_terms(names: npt.NDArray[np.str_], scores: npt.NDArray[np.float64], n: int) -> list[str]:
    """Top terms by score, skipping near-duplicates (plural of, or inside, a term already kept)."""
    out: list[str] = []
    for i in np.argsort(-scores, kind="stable"):
        if scores[i] <= 0 or len(out) >= n:
            break
        term = str(names[i])
        stem = term.rstrip("s")
        if any(stem == k.rstrip("s") or term in k.split() or k in term.split() for k in out):
            continue
        out.append(term)
    return out


def _nmf(k: int, random_state: int) -> Any:
    from sklearn.decomposition import NMF

    return NMF(n_components=k, init="nndsvda", random_state=random_state, max_iter=1000)


def _empty(n: int) -> ThemeModel:
    return ThemeModel([], np.full(n, -1, dtype="int64"), np.zeros(n), [], None, [])


def _fit(texts: Sequence[str], n_themes: int | None, max_themes: int, random_state: int,
         n_terms: int) -> ThemeModel:
    """Themes of one set of texts (see the module docstring)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
    from sklearn.metrics import silhouette_score

    n = len(texts)
    if n < 2:
        return _empty(n)
    # Fit on distinct texts (case and spacing aside): repeated boilerplate ("Great!",
    # templated answers) would otherwise dominate the term weights and the factorisation.
    keys = [" ".join(t.lower().split()) for t in texts]
    distinct = list(dict.fromkeys(keys))
    vec = TfidfVectorizer(
        stop_words=sorted(ENGLISH_STOP_WORDS | FILLER),
        token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z]+\b",
        ngram_range=(1, 2),
        min_df=2,
        max_df=0.6 if len(distinct) >= MIN_SPLIT else 1.0,
        sublinear_tf=True,
        max_features=5000,
    )
    try:
        Xd = vec.fit_transform(distinct)
    except ValueError:  # no term left (all stop words or too few repeats)
        return _empty(n)
    X = vec.transform(keys)
    names = vec.get_feature_names_out()
    has_terms = np.asarray(X.sum(axis=1)).ravel() > 0
    d_terms = np.asarray(Xd.sum(axis=1)).ravel() > 0
    usable = int(d_terms.sum())
    if usable == 0:
        return _empty(n)
    upper = min(max_themes, usable - 1, Xd.shape[1])
    if n_themes:
        candidates = [max(1, min(n_themes, usable, Xd.shape[1]))]
    elif usable < MIN_SPLIT or upper < 2:
        candidates = [1]
    else:
        candidates = list(range(2, upper + 1))

    # k is chosen on a sample of at most SELECT_SAMPLE distinct texts (fast on big corpora);
    # the chosen k is then fitted on all of them.
    rows = np.flatnonzero(d_terms)
    if len(rows) > SELECT_SAMPLE:
        rows = np.sort(np.random.default_rng(random_state).choice(rows, SELECT_SAMPLE, replace=False))
    Xs = Xd[rows]
    fits: list[tuple[float, int]] = []
    with warnings.catch_warnings():
        # Not reaching NMF's 1e-4 tolerance in 1000 steps changes no assignment that matters here.
        warnings.simplefilter("ignore", ConvergenceWarning)
        for k in candidates:
            if len(candidates) == 1:
                fits.append((-1.0, k))
                break
            labels = _nmf(k, random_state).fit_transform(Xs).argmax(axis=1)
            score = -1.0
            if 1 < len(set(labels.tolist())) < len(labels):
                score = float(silhouette_score(Xs, labels, metric="cosine"))
            fits.append((score, k))
        top = max(f[0] for f in fits)
        score, k = next(f for f in fits if f[0] >= top - PARSIMONY * abs(top))
        model = _nmf(k, random_state).fit(Xd)
        W = model.transform(X)
    H = model.components_
    assignment = np.where(has_terms, W.argmax(axis=1), -1).astype("int64")
    weight = np.where(has_terms, W.max(axis=1), 0.0)
    # Themes that own no comment (possible with argmax) are dropped and renumbered, largest first.
    kept = [t for t in range(k) if (assignment == t).any()]
    kept.sort(key=lambda t: -int((assignment == t).sum()))
    remap = {old: new for new, old in enumerate(kept)}
    assignment = np.array([remap.get(int(a), -1) for a in assignment], dtype="int64")
    present = (X > 0).astype("float64")
    terms: list[list[str]] = []
    examples: list[list[int]] = []
    for new, old in enumerate(kept):
        idx = np.flatnonzero(assignment == new)
        share = np.asarray(present[idx].mean(axis=0)).ravel()
        terms.append(_readable_terms(names, H[old] * share, n_terms))
        order = idx[np.argsort(-W[idx, old], kind="stable")]
        picked: list[int] = []
        seen: set[str] = set()
        for i in order:
            if keys[int(i)] not in seen:
                picked.append(int(i))
                seen.add(keys[int(i)])
            if len(picked) == 2:
                break
        examples.append(picked)
    return ThemeModel(terms, assignment, weight, examples,
                      score if n_themes is None and len(candidates) > 1 else None, [""] * len(kept))


def extract_themes(
    texts: Sequence[str],
    n_themes: int | None = None,
    max_themes: int = 8,
    random_state: int = 0,
    n_terms: int = 6,
    sentiments: npt.ArrayLike | None = None,
) -> ThemeModel:
    """Find themes in ``texts`` (see the module docstring).

    With ``sentiments`` (VADER compound per text) the non-positive and the
    positive texts get their own themes, non-positive first; ``polarity`` then
    says "negative" or "positive" per theme. ``n_themes`` fixes k (per side
    with ``sentiments``).
    """
    n = len(texts)
    if sentiments is None:
        return _fit(texts, n_themes, max_themes, random_state, n_terms)
    pos = np.asarray(sentiments, dtype="float64") >= POSITIVE
    out = _empty(n)
    silhouettes: list[float] = []
    for side, mask in (("negative", ~pos), ("positive", pos)):
        idx = np.flatnonzero(mask)
        if len(idx) == 0:
            continue
        m = _fit([texts[int(i)] for i in idx], n_themes, max_themes, random_state, n_terms)
        offset = out.n_themes
        sub = np.where(m.assignment >= 0, m.assignment + offset, -1)
        out.assignment[idx] = sub
        out.weight[idx] = m.weight
        out.terms += m.terms
        out.examples += [[int(idx[j]) for j in ex] for ex in m.examples]
        out.polarity += [side] * m.n_themes
        if m.silhouette is not None:
            silhouettes.append(m.silhouette)
    out.silhouette = float(np.mean(silhouettes)) if silhouettes else None
    return out
