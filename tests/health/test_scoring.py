"""Health scores computed by hand on the tiny company of tests/health/company.py."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from csmetrics.io import load_data_dir
from csmetrics.models.health import config_for, parse_config, score_accounts
from csmetrics.models.health.score import segments
from tests.health.company import AS_OF, answer, make, ticket, usage

DAY = dt.date.fromisoformat(AS_OF)


def scores(root: Path, day: dt.date = DAY) -> pd.DataFrame:
    ds = load_data_dir(root)
    try:
        return score_accounts(ds, day).set_index("account_id")
    finally:
        ds.backend.disconnect()


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    return scores(make(tmp_path_factory.mktemp("health")))


def test_account_a_weighted_mean_of_linear_thresholds_and_percentile(scored: pd.DataFrame) -> None:
    a = scored.loc["a"]
    # csat 50% -> linear (50 - 40) / (90 - 40) = 20; 0 open tickets -> first band, 100;
    # 10 active days among smb peers {10, 5, 0}: 2 below + half of 1 equal = 2.5 / 3 = 83.33
    assert a["csat_value"] == pytest.approx(50.0)
    assert a["csat_score"] == pytest.approx(20.0)
    assert a["tickets_score"] == pytest.approx(100.0)
    assert a["usage_score"] == pytest.approx(250 / 3)
    # (2 x 20 + 1 x 100 + 1 x 83.33) / 4 = 55.83 -> yellow
    assert a["health_score"] == pytest.approx((40 + 100 + 250 / 3) / 4)
    assert a["health_color"] == "yellow"
    # contributions add up to the score: 10 + 25 + 20.83
    assert a["csat_contribution"] == pytest.approx(10.0)
    assert a["csat_weight"] == pytest.approx(0.5)
    total = sum(a[f"{c}_contribution"] for c in ("csat", "tickets", "usage"))
    assert total == pytest.approx(a["health_score"])
    # lost points: csat 0.5 x 80 = 40, usage 0.25 x 16.7: CSAT is the main drag
    assert a["main_drag"] == "CSAT 50% positive"
    assert a["reasons"] == ["CSAT 50% positive"]
    assert not a["thin_data"] and a["missing"] == []


def test_account_b_ticket_resolved_after_the_as_of_day_is_still_open(scored: pd.DataFrame) -> None:
    b = scored.loc["b"]
    # csat 100% -> clamped to 100; 2 open (t2 never resolved, t3 resolved on 07-05) -> band at_most 2 = 50;
    # 5 active days: 1 below (0) + half of 1 -> 1.5 / 3 = 50
    assert b["tickets_value"] == 2
    assert (b["csat_score"], b["tickets_score"], b["usage_score"]) == pytest.approx((100.0, 50.0, 50.0))
    assert b["health_score"] == pytest.approx((200 + 50 + 50) / 4)  # 75
    assert b["health_color"] == "green"


def test_missing_signal_renormalises_weights_and_flags_thin_data(scored: pd.DataFrame) -> None:
    c = scored.loc["c"]
    # no CSAT answer: csat (weight 2 of 4) is missing; 3 open tickets -> otherwise 0;
    # 0 active days -> 0.5 / 3 = 16.67; score over the 2 remaining weights: (0 + 16.67) / 2
    assert pd.isna(c["csat_score"]) and pd.isna(c["csat_contribution"])
    assert c["csat_weight"] == 0
    assert c["tickets_weight"] == pytest.approx(0.5)
    assert c["health_score"] == pytest.approx((0 + 50 / 3) / 2)
    assert c["health_color"] == "red"
    assert c["coverage"] == pytest.approx(0.5)
    assert c["thin_data"]  # 0.5 < min_coverage 0.6
    assert c["missing"] == ["csat"]
    assert c["main_drag"] == "3 open tickets"


def test_segment_override_changes_weights_and_colours(scored: pd.DataFrame) -> None:
    e = scored.loc["e"]
    # enterprise: csat weight 0 (its 0% CSAT is ignored), tickets 1, usage 3; alone in its
    # segment, its 5 active days are the 50th percentile; (100 + 3 x 50) / 4 = 62.5
    assert e["health_segment"] == "enterprise"
    assert e["health_score"] == pytest.approx(62.5)
    assert e["usage_weight"] == pytest.approx(0.75)
    assert e["csat_weight"] == 0 and e["missing"] == []  # a weight-0 component is not "missing"
    # green from 60 in enterprise (it would be yellow under the default 70)
    assert e["health_color"] == "green"


def test_same_account_scored_without_the_override(tmp_path: Path) -> None:
    root = make(tmp_path)
    text = (root / "health.toml").read_text()
    (root / "health.toml").write_text(text.split("[segments.enterprise]")[0])
    e = scores(root).loc["e"]
    # base weights: (2 x 0% CSAT -> 0 + 1 x 100 + 1 x 50) / 4 = 37.5, red under the default colours
    assert e["health_score"] == pytest.approx(37.5)
    assert e["health_color"] == "red"


def test_later_events_do_not_change_a_past_score(tmp_path: Path) -> None:
    before = scores(make(tmp_path / "before"))
    later = make(
        tmp_path / "after",
        usage_events=usage("c", ["2025-07-01", "2025-07-02"], "exports"),
        survey_responses=[answer("r8", "c", "csat", 5, "2025-07-01"), answer("r9", "a", "nps", 0, "2025-07-02")],
        tickets=[ticket("t8", "a", "2025-07-01")],
        subscriptions=[{"subscription_id": "s9", "account_id": "a", "started_at": "2025-07-01", "amount": 500}],
    )
    after = scores(later)
    pd.testing.assert_frame_equal(before.drop(columns="as_of"), after.drop(columns="as_of"))
    # ...while scoring on a later day does see them
    moved = scores(later, dt.date(2025, 7, 3))
    assert moved.loc["c", "csat_value"] == 100.0
    assert moved.loc["a", "mrr"] == 600.0


def test_accounts_of_a_segment_value_with_no_override_use_the_base_model(tmp_path: Path) -> None:
    cfg = parse_config({"model": {"segment_by": "segment"},
                        "components": {"t": {"signal": "open_tickets", "weight": 1, "rule": "thresholds",
                                             "bands": [{"at_most": 0, "score": 100}], "otherwise": 0}},
                        "segments": {"vip": {"colors": {"green": 100, "yellow": 100}}}})
    assert cfg.for_segment("smb") is cfg.base
    assert cfg.for_segment("vip").green == 100


def test_lifecycle_segments_by_days_since_first_paying_day() -> None:
    cfg = config_for(None)
    frame = pd.DataFrame({
        "as_of": [DAY] * 3,
        "first_day": [DAY - dt.timedelta(days=cfg.onboarding_days), DAY - dt.timedelta(days=3), None],
    })
    assert list(segments(frame, cfg)) == ["mature", "onboarding", "onboarding"]


def test_default_model_scores_every_account_of_the_tiny_company(tmp_path: Path) -> None:
    root = make(tmp_path, model=False)
    df = scores(root)
    assert set(df.index) == {"a", "b", "c", "e"}
    assert df["health_score"].between(0, 100).all()
    assert set(df["health_color"]) <= {"green", "yellow", "red"}
    # the default model has ten components, each with value, score, weight and contribution
    assert sum(c.endswith("_score") and c != "health_score" for c in df.columns) == 10
