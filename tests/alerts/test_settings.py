"""Alert settings: packaged rules, overrides, and defects naming the file, the line and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from csmetrics.alerts.settings import KINDS, dotted_lines, find_rules_file, load_settings
from csmetrics.schema.errors import DataError


def test_packaged_rules_cover_every_kind() -> None:
    s = load_settings()
    assert sorted(r.kind for r in s.rules.values()) == sorted(KINDS)
    assert s.rules["usage_drop"].params == {"drop": 0.5, "window_days": 30.0, "min_prior_events": 20.0}
    assert not s.configured


def test_override_merges_keys_disables_and_adds(tmp_path: Path) -> None:
    p = tmp_path / "alerts.toml"
    p.write_text('base_url = "https://cs.example.com/"\n'
                 "[rules.usage_drop]\ndrop = 0.3\n"
                 "[rules.csat_negative]\nenabled = false\n"
                 '[rules.big_churn]\nkind = "mrr_contraction"\nmin_amount = 5000\nseverity = "critical"\n',
                 encoding="utf-8")
    s = load_settings(p)
    assert s.rules["usage_drop"].params["drop"] == 0.3
    assert s.rules["usage_drop"].cooldown_days == 30  # kept from the packaged rule
    assert "csat_negative" not in s.rules
    assert s.rules["big_churn"].params == {"min_amount": 5000.0}
    assert s.link("A 1/2") == "https://cs.example.com/accounts/A%201%2F2"


def test_defects_name_file_line_and_key(tmp_path: Path) -> None:
    p = tmp_path / "alerts.toml"
    p.write_text(
        "[rules.usage_drop]\n"            # 1
        'drop = "half"\n'                  # 2
        "[rules.nps_detractor]\n"          # 3
        'severity = "urgent"\n'            # 4
        "within_dayz = 3\n"                # 5
        "[channels.webhook]\n"             # 6
        'url = "https://h.example.com"\n'  # 7
        'secret_env = "sk_live_abc-123"\n'  # 8
        "[channels.pager]\n",              # 9
        encoding="utf-8")
    with pytest.raises(DataError) as exc:
        load_settings(p)
    lines = str(exc.value).splitlines()
    assert lines == [
        f"{p} line 2, setting rules.usage_drop.drop: 'half' is not a number",
        f"{p} line 4, setting rules.nps_detractor.severity: 'urgent' is not a severity (expected info, warning or "
        "critical)",
        f"{p} line 5, setting rules.nps_detractor.within_dayz: is not a key of a nps_detractor rule (known: kind, "
        "severity, cooldown_days, enabled, description, within_days, max_score)",
        f"{p} line 8, setting channels.webhook.secret_env: 'sk_live_abc-123' is not an environment variable name "
        "(the secret itself never goes in the file)",
        f"{p} line 9, setting channels.pager: is not a channel (known: email, slack, webhook)",
    ]


def test_health_worsens_into_is_a_colour(tmp_path: Path) -> None:
    p = tmp_path / "alerts.toml"
    p.write_text('[rules.health_worsens]\ninto = "green"\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"line 2, setting rules.health_worsens.into: 'green' is not a colour"):
        load_settings(p)


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    p = tmp_path / "alerts.toml"
    p.write_text("[rules.usage_drop]\ndrop = \n", encoding="utf-8")
    with pytest.raises(DataError, match=r"alerts.toml line 2: is not valid TOML"):
        load_settings(p)


def test_missing_required_channel_key(tmp_path: Path) -> None:
    p = tmp_path / "alerts.toml"
    p.write_text('[channels.email]\nhost = "smtp.example.com"\nuser = "me"\n', encoding="utf-8")
    with pytest.raises(DataError) as exc:
        load_settings(p)
    assert str(exc.value).splitlines() == [
        f"{p} line 1, setting channels.email.from: is required",
        f"{p} line 1, setting channels.email.password_env: is required with user",
    ]


def test_lookup_prefers_the_given_file_then_the_workspace_directory(tmp_path: Path) -> None:
    ws = tmp_path / "w" / "workspace.duckdb"
    ws.parent.mkdir()
    assert find_rules_file(None, ws) is None
    (ws.parent / "alerts.toml").write_text("", encoding="utf-8")
    assert find_rules_file(None, ws) == ws.parent / "alerts.toml"
    assert find_rules_file(tmp_path / "x.toml", ws) == tmp_path / "x.toml"


def test_dotted_lines() -> None:
    text = 'a = 1\n[b."c d"]\ne = 2\nf.g = 3\n'
    assert dotted_lines(text) == {"a": 1, "b": 2, "b.c d": 2, "b.c d.e": 3, "b.c d.f": 4, "b.c d.f.g": 4}
