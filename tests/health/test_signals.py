"""Each health signal on hand-made rows, as of 2025-06-30 (windows: usage 30, mrr 90, default others)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from csmetrics.io import load_data_dir
from csmetrics.models.health import compute_signals
from csmetrics.models.health.config import WINDOW_DEFAULTS
from tests.health.company import answer, ticket, usage
from tests.metrics.helpers import sub, write_dir

DAY = dt.date(2025, 6, 30)
WINDOWS = {**WINDOW_DEFAULTS, "usage": 30, "mrr": 90}


@pytest.fixture(scope="module")
def row(tmp_path_factory: pytest.TempPathFactory) -> pd.Series:
    root = write_dir(
        tmp_path_factory.mktemp("signals"),
        accounts=[{"account_id": "x"}, {"account_id": "y"}],
        # MRR 100 on 2025-04-01 (90 days before), 150 from 2025-05-15: change +50%
        subscriptions=[sub("s1", "x", "2025-01-01", "2025-05-15", 100), sub("s2", "x", "2025-05-15", None, 150),
                       sub("s3", "y", "2025-01-01", None, 10)],
        # x: 10 events in the 30 days before the window (May 2-31)... 5 in the window (June 1-30):
        # trend 5 / 10 - 1 = -50%. Features in the window: reports, exports (2) of a catalogue of
        # 3 known by 2025-06-30 (y used "admin"); "beta" first appears after the as-of day.
        usage_events=usage("x", [f"2025-05-{d:02d}" for d in range(2, 12)])
        + usage("x", ["2025-06-01", "2025-06-02", "2025-06-03"]) + usage("x", ["2025-06-04", "2025-06-20"], "exports")
        + usage("y", ["2025-01-05"], "admin") + usage("y", ["2025-07-02"], "beta"),
        # NPS: respondent r1 answered 2 then 10 (latest counts), r2 5, an anonymous answer 9:
        # promoters 2, detractors 1 of 3 -> +33.3. An answer from 2024 is outside the 365-day window.
        survey_responses=[answer("n1", "x", "nps", 2, "2025-01-10", "r1"),
                          answer("n2", "x", "nps", 10, "2025-03-10", "r1"),
                          answer("n3", "x", "nps", 5, "2025-02-10", "r2"), answer("n4", "x", "nps", 9, "2025-02-11"),
                          answer("n5", "x", "nps", 0, "2024-05-01", "r3")],
        # FCR among tickets opened in the last 180 days and resolved by the as-of day: 2 of 3 took one contact;
        # t4 is still open, t5 was opened more than 180 days ago
        tickets=[ticket("t1", "x", "2025-02-01", "2025-02-02", 1), ticket("t2", "x", "2025-03-01", "2025-03-02", 1),
                 ticket("t3", "x", "2025-04-01", "2025-04-09", 3), ticket("t4", "x", "2025-06-25", None, None),
                 ticket("t5", "x", "2024-10-01", "2024-10-02", 4)],
        # renewals due in the last 730 days: 1 renewed, 1 churned -> 0.5; the August one is not due yet
        renewals=[{"renewal_id": "w1", "account_id": "x", "due_on": "2025-03-01", "outcome": "renewed"},
                  {"renewal_id": "w2", "account_id": "x", "due_on": "2025-06-15", "outcome": "churned"},
                  {"renewal_id": "w3", "account_id": "x", "due_on": "2025-08-01", "outcome": "renewed"}],
    )
    ds = load_data_dir(root)
    try:
        df = compute_signals(ds, [DAY], WINDOWS)
    finally:
        ds.backend.disconnect()
    return df.set_index("account_id").loc["x"]


def test_usage_signals(row: pd.Series) -> None:
    assert row["active_days"] == 5
    assert row["usage_trend"] == pytest.approx(-0.5)
    assert row["feature_breadth"] == pytest.approx(2 / 3)


def test_nps_counts_each_respondents_latest_answer(row: pd.Series) -> None:
    assert row["nps"] == pytest.approx(100 / 3)


def test_support_signals(row: pd.Series) -> None:
    assert row["open_tickets"] == 1
    assert row["fcr_rate"] == pytest.approx(2 / 3)


def test_renewal_mrr_and_recency_signals(row: pd.Series) -> None:
    assert row["renewal_rate"] == pytest.approx(0.5)
    assert row["mrr"] == 150
    assert row["mrr_change"] == pytest.approx(0.5)
    # last touch: the ticket opened on 2025-06-25 -> 5 days
    assert row["days_since_touch"] == 5
    assert pd.isna(row["csat"])  # no CSAT answer: unknown, not 0


def test_absent_tables_make_signals_unknown(tmp_path: Path) -> None:
    root = write_dir(tmp_path, accounts=[{"account_id": "z"}], subscriptions=[sub("s", "z", "2025-01-01")])
    ds = load_data_dir(root)
    try:
        r = compute_signals(ds, [DAY], WINDOWS).iloc[0]
    finally:
        ds.backend.disconnect()
    for s in ("active_days", "feature_breadth", "usage_trend", "csat", "nps", "open_tickets", "fcr_rate",
              "renewal_rate", "days_since_touch"):
        assert pd.isna(r[s]), s
    assert r["mrr_change"] == 0
