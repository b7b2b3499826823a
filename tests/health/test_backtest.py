"""Backtest figures by hand, and the default model on the demo company (which plants churn drivers)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from csmetrics.io import load_data_dir
from csmetrics.models.health.backtest import Backtest, backtest, evaluate

D1, D2 = dt.date(2025, 1, 31), dt.date(2025, 2, 28)


def frame() -> pd.DataFrame:
    s1 = [10, 20, 30, 40, 50, 60, 70, 80, 90, 95]
    c1 = [1, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    s2 = [15, 25, 35, 45, 55, 65, 75, 85, 92, 99]
    c2 = [0, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    scores = s1 + s2
    return pd.DataFrame({
        "account_id": [f"a{i}" for i in range(10)] * 2,
        "as_of": [D1] * 10 + [D2] * 10,
        "health_score": scores,
        "health_color": ["green" if s >= 70 else "yellow" if s >= 40 else "red" for s in scores],
        "churned": [bool(c) for c in c1 + c2],
    })


def test_figures_by_hand() -> None:
    f = evaluate(frame())
    assert (f.rows, f.churned) == (20, 3)
    assert f.churn_rate == pytest.approx(3 / 20)
    # AUC = share of (churner, non-churner) pairs where the churner scores lower:
    # churners 10, 30, 25 are below 17, 15 and 15 of the 17 non-churners
    assert f.auc == pytest.approx((17 + 15 + 15) / (3 * 17))
    # riskiest decile = the lowest score of each month end: 10 (churned) and 15 (stayed)
    assert f.top_decile_churn_rate == pytest.approx(0.5)
    assert f.lift_top_decile == pytest.approx(0.5 / 0.15)
    red = next(c for c in f.by_color if c["color"] == "red")
    # red: 10, 20, 30, 15, 25, 35 -> 3 churned of 6
    assert (red["accounts"], red["churned"], red["churn_rate"]) == (6, 3, 0.5)
    assert sum(b["accounts"] for b in f.calibration) == 20
    assert f.brier is not None and 0 < f.brier < 0.25


@pytest.fixture(scope="module")
def demo_backtest(demo_dir: Path) -> Backtest:
    ds = load_data_dir(demo_dir)
    try:
        return backtest(ds, horizon_days=90, with_suggestion=True)
    finally:
        ds.backend.disconnect()


def test_default_model_predicts_churn_on_the_demo_company(demo_backtest: Backtest) -> None:
    f = demo_backtest.figures
    assert f.rows > 1000 and f.churned > 50
    assert f.auc is not None and f.auc > 0.68
    rate = {c["color"]: c["churn_rate"] for c in f.by_color}
    assert rate["red"] > rate["yellow"] > rate["green"]
    assert f.lift_top_decile is not None and f.lift_top_decile > 2


def test_suggested_weights_recover_the_planted_drivers(demo_backtest: Backtest) -> None:
    sug = demo_backtest.suggestion
    assert sug is not None
    w = sug.weights()
    assert sum(w.values()) == pytest.approx(100, abs=0.5)
    # planted: usage falls before churn, low adoption, detractor NPS, low CSAT, multi-contact tickets;
    # renewal history is not a planted driver
    planted = ("adoption", "usage_frequency", "usage_trend", "nps", "csat", "fcr", "recency")
    assert sum(w[c] for c in planted) > 75
    assert w["renewal"] < 5
    assert max(w, key=lambda c: w[c]) in planted
    assert sug.suggested.auc is not None and demo_backtest.figures.auc is not None
    assert sug.suggested.auc >= demo_backtest.figures.auc - 0.01


def test_backtest_uses_only_period_ends_with_a_full_horizon_after_them(demo_backtest: Backtest) -> None:
    last_scored = demo_backtest.as_of_days[-1]
    assert last_scored + dt.timedelta(days=90) <= dt.date(2025, 12, 31)
    assert set(demo_backtest.frame["as_of"]) <= set(demo_backtest.as_of_days)
    assert demo_backtest.frame["active"].all()
