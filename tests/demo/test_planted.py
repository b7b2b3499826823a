"""The behaviour planted in the demo company (csmetrics.demo.PLANTED) is there to be found.

Computed with plain pandas on the generated files of 2,000 accounts. An account
is "churned" when none of its subscriptions is open at the end of the data.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import csmetrics
from csmetrics.demo import PLANTED
from csmetrics.demo import catalog as C


@pytest.fixture(scope="module")
def frames(big_demo: Path) -> dict[str, pd.DataFrame]:
    out = {name: pd.read_csv(big_demo / f"{name}.csv") for name in
           ("accounts", "subscriptions", "survey_responses", "tickets", "usage_events")}
    subs = out["subscriptions"]
    still_open = set(subs[subs.ended_at.isna()].account_id)
    out["accounts"]["churned"] = ~out["accounts"].account_id.isin(still_open)
    return out


def test_churned_accounts_gave_lower_nps(frames: dict[str, pd.DataFrame]) -> None:
    nps = frames["survey_responses"].query("survey == 'nps'").merge(frames["accounts"][["account_id", "churned"]])
    mean = nps.groupby("churned").score.mean()
    assert mean[True] < mean[False] - 1.0
    detractors = nps.assign(d=nps.score <= PLANTED["risk"]["detractor_max"]).groupby("churned").d.mean()
    assert detractors[True] > 2 * detractors[False]


def test_churned_accounts_gave_lower_csat_and_needed_more_contacts(frames: dict[str, pd.DataFrame]) -> None:
    acc = frames["accounts"][["account_id", "churned"]]
    csat = frames["survey_responses"].query("survey == 'csat'").merge(acc)
    positive = csat.assign(p=csat.score >= 4).groupby("churned").p.mean()
    assert positive[True] < positive[False]
    tickets = frames["tickets"].merge(acc)
    multi = tickets.assign(m=tickets.contacts > 1).groupby("churned").m.mean()
    assert multi[True] > multi[False]


def test_the_bad_csm_book_churns_more(frames: dict[str, pd.DataFrame]) -> None:
    churn = frames["accounts"].groupby("csm").churned.mean()
    bad = PLANTED["bad_csm"]
    others = churn.drop(bad)
    assert churn.idxmax() == bad
    assert churn[bad] > 1.25 * others.mean()


def test_accounts_using_few_features_churn_more(frames: dict[str, pd.DataFrame]) -> None:
    used = frames["usage_events"].groupby("account_id").feature.nunique()
    acc = frames["accounts"].set_index("account_id")
    acc["features"] = used.reindex(acc.index).fillna(0)
    low = acc[acc.features.between(1, PLANTED["adoption"]["low_adoption_max_features"])].churned.mean()
    high = acc[acc.features >= 7].churned.mean()
    assert low > 2 * high


def test_usage_falls_in_the_last_90_days_before_churn(frames: dict[str, pd.DataFrame]) -> None:
    subs = frames["subscriptions"]
    churned = frames["accounts"].query("churned").account_id
    end = pd.to_datetime(subs[subs.account_id.isin(churned)].groupby("account_id").ended_at.max(), utc=True)
    start = pd.to_datetime(subs.groupby("account_id").started_at.min(), utc=True)
    # accounts with at least a year of history before their churn, all inside the data
    long = end[(end - start.reindex(end.index)).dt.days > 365]
    long = long[long > pd.Timestamp("2024-07-01", tz="UTC")]
    ev = frames["usage_events"]
    ev = ev[ev.account_id.isin(long.index)]
    days_left = (long.reindex(ev.account_id).to_numpy() - pd.to_datetime(ev.occurred_at, utc=True).to_numpy())
    days_left = pd.Series(days_left).dt.days
    last = (days_left < PLANTED["risk"]["usage_decline_days"]).sum()
    before = ((days_left >= 90) & (days_left < 180)).sum()
    assert last < 0.75 * before


def test_complaints_carry_their_theme_keywords(frames: dict[str, pd.DataFrame]) -> None:
    sr = frames["survey_responses"].dropna(subset=["comment"])
    detractor = sr[(sr.survey == "nps") & (sr.score <= 6)].comment.str.lower()
    for theme, keywords in PLANTED["themes"].items():
        share = detractor.str.contains("|".join(keywords)).mean()
        assert share > 0.08, theme
    promoters = sr[(sr.survey == "nps") & (sr.score >= 9)].comment.str.lower()
    assert promoters.str.contains("|".join(PLANTED["praise_keywords"])).mean() > 0.9
    complaint_words = "|".join(k for kws in PLANTED["themes"].values() for k in kws)
    assert promoters.str.contains(complaint_words).mean() < 0.02


def test_outliers_contradict_their_scores(frames: dict[str, pd.DataFrame]) -> None:
    sr = frames["survey_responses"]
    neg = sr[sr.comment.isin(PLANTED["outliers"]["negative_comments"])]
    pos = sr[sr.comment.isin(PLANTED["outliers"]["positive_comments"])]
    assert len(neg) >= 3 and len(pos) >= 3
    top = neg.survey.map({"nps": 9, "csat": 5, "ces": 7})
    bottom = pos.survey.map({"nps": 3, "csat": 1, "ces": 1})
    assert (neg.score >= top).all() and (pos.score <= bottom).all()


def test_every_complaint_names_only_its_own_theme() -> None:
    for theme in C.THEMES:
        for text in C.COMPLAINTS[theme]:
            hits = {t for t, kws in C.THEME_KEYWORDS.items() if any(k in text.lower() for k in kws)}
            assert hits == {theme}, text


def test_default_metrics_look_like_a_real_saas(big_demo: Path) -> None:
    df = csmetrics.compute(big_demo, metrics="customer_churn_rate,nps,csat,fcr_rate", period="month",
                           start="2025-01-01", end="2026-01-01")
    mean = df.groupby("metric").value.mean()
    assert 0.01 <= mean["customer_churn_rate"] <= 0.04
    assert 10 <= mean["nps"] <= 50
    assert 75 <= mean["csat"] <= 90
    assert 0.6 <= mean["fcr_rate"] <= 0.8
    year = csmetrics.compute(big_demo, metrics="net_revenue_retention", period="year",
                             start="2025-01-01", end="2026-01-01")
    assert 0.9 <= year.value.iloc[0] <= 1.2  # typically 0.95-1.10; enterprise accounts make it noisy
