"""Scoring a few days at a time, per query part and without texts gives the one-pass results.

The fast paths (chunked history, separate aggregate queries placed on the
account x day grid, bitmask counts, the touch buckets) are checked against
the straightforward computation on the demo company and on hand-made rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import csmetrics
from csmetrics.io import load_data_dir
from csmetrics.io.dataset import Dataset
from csmetrics.models.health import (
    compute_signals,
    config_for,
    iter_score_history,
    score_accounts,
    score_history,
    score_signals,
)
from csmetrics.models.health import score as score_mod
from csmetrics.models.health import signals as signals_mod
from csmetrics.models.health.config import WINDOW_DEFAULTS
from tests.health.company import answer, ticket, usage
from tests.health.company import make as make_company
from tests.metrics.helpers import sub, write_dir

MONTH_ENDS = [dt.date(2025, m, 1) - dt.timedelta(days=1) for m in range(2, 8)]  # 2025-01-31 .. 2025-06-30
HEALTH = ("health_score_avg", "health_green", "health_yellow", "health_red")


@pytest.fixture(scope="module")
def demo(demo_dir: Path) -> Iterator[Dataset]:
    ds = load_data_dir(demo_dir)
    yield ds
    ds.backend.disconnect()


@pytest.fixture(scope="module")
def one_pass(demo: Dataset) -> pd.DataFrame:
    return score_history(demo, MONTH_ENDS)


@pytest.mark.parametrize("days_per_chunk", [1, 2, 4])
def test_chunks_of_days_together_equal_the_one_pass_history(demo: Dataset, one_pass: pd.DataFrame,
                                                            days_per_chunk: int) -> None:
    accounts = one_pass["account_id"].nunique()
    chunks = list(iter_score_history(demo, MONTH_ENDS, max_rows=days_per_chunk * accounts))
    # 6 days: 6, 3 or 2 chunks (the last one shorter)
    assert len(chunks) == -(-len(MONTH_ENDS) // days_per_chunk)
    assert [len(set(c["as_of"])) for c in chunks[:-1]] == [days_per_chunk] * (len(chunks) - 1)
    together = pd.concat(chunks, ignore_index=True)
    pd.testing.assert_frame_equal(together, one_pass, check_exact=True)
    # every account on every day, with a 0-100 score and a colour
    assert len(one_pass) == accounts * len(MONTH_ENDS) == 300 * 6
    assert one_pass["health_score"].between(0, 100).all()
    assert set(one_pass["health_color"]) == {"green", "yellow", "red"}


def test_without_texts_only_missing_main_drag_and_reasons_are_left_out(demo: Dataset,
                                                                        one_pass: pd.DataFrame) -> None:
    sig = compute_signals(demo, MONTH_ENDS, config_for(demo.source).windows)
    lean = score_signals(sig, config_for(demo.source), explain=False)
    full = one_pass
    assert set(full.columns) - set(lean.columns) == {"missing", "main_drag", "reasons"}
    pd.testing.assert_frame_equal(lean, full[list(lean.columns)], check_exact=True)
    # the texts are there in the full frame: the red accounts have reasons
    red = full[full["health_color"] == "red"]
    assert len(red) > 0 and red["reasons"].map(len).gt(0).all()


def test_score_before_is_the_earlier_day_scored_alone(demo: Dataset) -> None:
    day = dt.date(2025, 6, 30)
    now = score_accounts(demo, day).set_index("account_id")
    before = score_history(demo, [day - dt.timedelta(days=30)]).set_index("account_id")
    alone = score_history(demo, [day]).set_index("account_id")
    pd.testing.assert_series_equal(now["health_score_before"], before["health_score"].reindex(now.index),
                                   check_names=False, check_exact=True)
    assert (now["health_color_before"] == before["health_color"].reindex(now.index)).all()
    pd.testing.assert_frame_equal(now[list(alone.columns)], alone, check_exact=True)


def test_health_change_over_30_days_on_the_hand_made_company(tmp_path: Path) -> None:
    # tests/health/company.py, scored on 2025-06-30 and 30 days earlier, 2025-05-31 (windows: usage 30 days).
    # On 05-31 nobody used the product in May 2..31 (peers all at 0 days -> percentile 0.5 x 3 / 3 = 50)
    # and no ticket was open yet (t4 was resolved on 05-02, the others opened in June) -> 100.
    #   a: csat 2 of 4 (answers of 05-01..05-04) = 50% -> 20; (2 x 20 + 100 + 50) / 4 = 47.5 (yellow)
    #      on 06-30 (test_scoring): (2 x 20 + 100 + 83.33) / 4 = 55.83; change +8.33
    #   b: csat 100% -> 100; (2 x 100 + 100 + 50) / 4 = 87.5 (green); on 06-30 75; change -12.5
    #   c: no csat: (100 + 50) / 2 = 75 (green); on 06-30 (0 + 16.67) / 2 = 8.33 (red); change -66.67
    #   e (enterprise: tickets 1, usage 3): (100 + 3 x 50) / 4 = 62.5 both days; change 0
    ds = load_data_dir(make_company(tmp_path))
    try:
        now = score_accounts(ds, DAY).set_index("account_id")
    finally:
        ds.backend.disconnect()
    before = {"a": 47.5, "b": 87.5, "c": 75.0, "e": 62.5}
    change = {"a": 55 + 5 / 6 - 47.5, "b": -12.5, "c": 25 / 3 - 75, "e": 0.0}
    for acc in "abce":
        assert now.loc[acc, "health_score_before"] == pytest.approx(before[acc]), acc
        assert now.loc[acc, "health_change"] == pytest.approx(change[acc]), acc
    assert now["health_color_before"].to_dict() == {"a": "yellow", "b": "green", "c": "green", "e": "green"}


def test_feature_bitmasks_count_what_count_distinct_counts(demo: Dataset, monkeypatch: pytest.MonkeyPatch) -> None:
    windows = config_for(demo.source).windows
    masked = compute_signals(demo, MONTH_ENDS, windows)
    monkeypatch.setattr(signals_mod, "MASK_FEATURES", 0)  # every catalogue takes the COUNT(DISTINCT) path
    distinct = compute_signals(demo, MONTH_ENDS, windows)
    pd.testing.assert_frame_equal(masked, distinct, check_exact=True)
    breadth = masked["feature_breadth"].dropna()
    assert len(breadth) > 0 and breadth.between(0, 1).all()
    assert masked["features"].max() > 1


def test_health_metrics_scored_a_day_at_a_time_equal_the_one_pass_aggregates(
        demo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(score_mod, "CHUNK_ROWS", 1)  # one period end per chunk
    df = csmetrics.compute(demo_dir, metrics=",".join(HEALTH), period="month", start="2025-01-01",
                           end="2025-07-01")
    got = {(r.metric, r.period): r.value for r in df.itertuples()}
    ds = load_data_dir(demo_dir)
    try:
        hist = score_history(ds, MONTH_ENDS)
    finally:
        ds.backend.disconnect()
    paying = hist[hist["active"]]
    for day in MONTH_ENDS:
        label = day.strftime("%Y-%m")
        on = paying[paying["as_of"] == day]
        assert got[("health_score_avg", label)] == pytest.approx(on["health_score"].mean(), rel=1e-12)
        for color in ("green", "yellow", "red"):
            assert got[(f"health_{color}", label)] == (on["health_color"] == color).sum()
    assert sum(got[(f"health_{c}", "2025-06")] for c in ("green", "yellow", "red")) == len(
        paying[paying["as_of"] == MONTH_ENDS[-1]])


# -- hand-made rows -----------------------------------------------------------------------------

DAY = dt.date(2025, 6, 30)


def _days_before(n: int) -> str:
    return (DAY - dt.timedelta(days=n)).isoformat()


def test_active_days_span_both_bitmask_words_of_a_90_day_window(tmp_path: Path) -> None:
    # usage window 90 days: June 30 back to April 2. Events 0, 61, 62, 63 and 89 days before are in
    # it (5 days, 6 events: two on the day itself); 90 and 150 days before are in the window before.
    offsets = [0, 0, 61, 62, 63, 89, 90, 150]
    root = write_dir(tmp_path, accounts=[{"account_id": "x"}],
                     subscriptions=[sub("s1", "x", "2024-01-01", None, 10)],
                     usage_events=usage("x", [_days_before(n) for n in offsets]))
    ds = load_data_dir(root)
    try:
        row = compute_signals(ds, [DAY], dict(WINDOW_DEFAULTS)).iloc[0]
    finally:
        ds.backend.disconnect()
    assert row["active_days"] == 5
    assert (row["recent_events"], row["prior_events"]) == (6, 2)
    assert row["usage_trend"] == pytest.approx(6 / 2 - 1)


def test_days_since_touch_on_each_of_several_as_of_days(tmp_path: Path) -> None:
    # touches: usage on 01-10, a ticket opened 03-05, an NPS answer 03-31 (y never touched)
    root = write_dir(tmp_path, accounts=[{"account_id": "x"}, {"account_id": "y"}],
                     subscriptions=[sub("s1", "x", "2024-01-01", None, 10), sub("s2", "y", "2024-01-01", None, 10)],
                     usage_events=usage("x", ["2025-01-10"]),
                     tickets=[ticket("t1", "x", "2025-03-05", "2025-03-06", 1)],
                     survey_responses=[answer("r1", "x", "nps", 9, "2025-03-31")])
    days = [dt.date(2025, 1, 5), dt.date(2025, 1, 31), dt.date(2025, 2, 28), dt.date(2025, 3, 31)]
    ds = load_data_dir(root)
    try:
        sig = compute_signals(ds, days, dict(WINDOW_DEFAULTS)).set_index(["account_id", "as_of"])
    finally:
        ds.backend.disconnect()
    got = [sig.loc[("x", d), "days_since_touch"] for d in days]
    # 01-05: no touch yet; 01-31: 21 days after 01-10; 02-28: 49; 03-31: the answer that day, 0
    assert pd.isna(got[0]) and got[1:] == [21.0, 49.0, 0.0]
    assert sig.loc[("y", days[-1]), "days_since_touch"] != sig.loc[("y", days[-1]), "days_since_touch"]  # NaN
