"""The alerts.toml example of docs/alerts.md loads, and the packaged rules document every kind."""

from __future__ import annotations

import re
from pathlib import Path

from csmetrics.alerts.settings import KINDS, load_settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "alerts.md"


def test_the_documented_alerts_toml_loads(tmp_path: Path) -> None:
    (block,) = re.findall(r"```toml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    path = tmp_path / "alerts.toml"
    path.write_text(block, encoding="utf-8")
    s = load_settings(path)
    assert s.base_url == "https://cs.example.com"
    assert s.rules["usage_drop"].params["drop"] == 0.4
    assert "csat_negative" not in s.rules and s.rules["big_churn"].kind == "mrr_contraction"
    assert sorted(s.channels) == ["email", "slack", "webhook"]
    assert s.csms["Ben Okafor"] == "ben@example.com"
    assert s.delivery == {"max_attempts": 6.0, "backoff_seconds": 30.0, "lease_seconds": 300.0}


def test_every_kind_and_parameter_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for kind, params in KINDS.items():
        assert f"| `{kind}` |" in text
        for p in params:
            assert f"`{p}`" in text, (kind, p)
