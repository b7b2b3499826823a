"""The health model declaration: the packaged default, the three rules, and clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from csmetrics.models.health import load_config, parse_config, parse_horizon
from csmetrics.models.health.config import Component
from csmetrics.schema.errors import UsageError


def test_default_model_covers_the_issue_components() -> None:
    cfg = load_config()
    signals = {c.signal for c in cfg.base.components.values()}
    assert signals == {"feature_breadth", "active_days", "usage_trend", "csat", "open_tickets", "fcr_rate", "nps",
                       "renewal_rate", "mrr_change", "days_since_touch"}
    assert {c.rule for c in cfg.base.components.values()} == {"linear", "thresholds", "percentile"}
    assert (cfg.base.green, cfg.base.yellow) == (70, 40)
    # onboarding accounts are judged on adoption, mature ones on usage and renewal
    onboarding, mature = cfg.for_segment("onboarding"), cfg.for_segment("mature")
    assert onboarding.components["adoption"].weight > mature.components["adoption"].weight
    assert onboarding.components["renewal"].weight == 0 < mature.components["renewal"].weight


def test_linear_rule_is_clamped_and_can_run_downhill() -> None:
    up = Component("c", "csat", 1, "linear", worst=40, best=90)
    # (65 - 40) / 50 = 50; below worst 0, above best 100; NaN stays unknown
    assert list(up.score(np.array([65, 10, 95, 40]))) == [50, 0, 100, 0]
    assert np.isnan(up.score(np.array([np.nan]))[0])
    down = Component("d", "days_since_touch", 1, "linear", worst=60, best=0)
    assert list(down.score(np.array([15, 60, 0]))) == [75, 0, 100]


def test_thresholds_rule_takes_the_first_band_that_holds() -> None:
    cfg = parse_config({"components": {"t": {
        "signal": "open_tickets", "weight": 1, "rule": "thresholds",
        "bands": [{"at_most": 0, "score": 100}, {"at_most": 2, "score": 60}, {"at_most": 4, "score": 30}],
        "otherwise": 5}}})
    t = cfg.base.components["t"]
    assert list(t.score(np.array([0, 1, 2, 3, 4, 5, 9]))) == [100, 60, 60, 30, 30, 5, 5]


def test_percentile_rule_uses_mid_ranks_and_mirrors_lower_is_better() -> None:
    up = Component("u", "active_days", 1, "percentile")
    peers = np.array([1.0, 2.0, 2.0, 5.0, np.nan])
    # of 4 known peers: 1 -> (0 + 0.5) / 4 = 12.5; 2 -> (1 + 1) / 4 = 50; 5 -> 87.5; 9 -> 100
    assert list(up.percentile_scores(np.array([1.0, 2.0, 5.0, 9.0]), peers)) == [12.5, 50, 87.5, 100]
    down = Component("d", "open_tickets", 1, "percentile")
    assert list(down.percentile_scores(np.array([1.0, 5.0]), peers)) == [87.5, 12.5]


@pytest.mark.parametrize(("raw", "needle"), [
    ({"components": {"x": {"signal": "nope", "weight": 1, "rule": "linear", "worst": 0, "best": 1}}},
     "components.x.signal"),
    ({"components": {"x": {"signal": "csat", "weight": 1, "rule": "magic"}}}, "components.x.rule"),
    ({"components": {"x": {"signal": "csat", "weight": -1, "rule": "percentile"}}}, "components.x.weight"),
    ({"components": {"x": {"signal": "csat", "weight": 1, "rule": "linear", "worst": 5}}}, "components.x.best"),
    ({"components": {"x": {"signal": "csat", "weight": 1, "rule": "thresholds", "bands": [{"score": 1}]}}},
     "components.x.bands[0]"),
    ({"colors": {"green": 30, "yellow": 60}, "components": {"x": {"signal": "csat", "weight": 1,
                                                                    "rule": "percentile"}}}, "colors.yellow"),
    ({"components": {"x": {"signal": "csat", "weight": 1, "rule": "percentile"}},
      "segments": {"s": {"weights": {"y": 1}}}}, "segments.s.weights.y"),
    ({"components": {"x": {"signal": "csat", "weight": 1, "rule": "percentile"}}, "extra": 1}, "extra"),
])
def test_config_mistakes_name_the_key(raw: dict[str, object], needle: str) -> None:
    with pytest.raises(UsageError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        parse_config(raw, "my.toml")


def test_config_file_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("components = [", encoding="utf-8")
    with pytest.raises(UsageError, match="not valid TOML"):
        load_config(bad)


def test_horizon_units() -> None:
    assert [parse_horizon(h) for h in ("90d", "12w", "3m", "1y", "45")] == [90, 84, 90, 365, 45]
    with pytest.raises(UsageError):
        parse_horizon("soon")
