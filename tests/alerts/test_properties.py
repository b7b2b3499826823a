"""Invariants: whatever days the rules are evaluated on, and in whatever order, a key is stored once and two
alerts of one rule for one account are at least its cool-down apart; line numbers of any TOML key."""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from csmetrics import alerts
from csmetrics.alerts import store
from csmetrics.alerts.settings import dotted_lines, load_settings
from tests.alerts.company import T, health

FAST = ["nps_detractor", "csat_negative", "usage_drop", "mrr_contraction"]  # no health scoring: quick


@settings(max_examples=4)
@given(days=st.lists(st.integers(min_value=-20, max_value=20), min_size=1, max_size=3))
def test_keys_are_unique_and_cooldowns_hold(template_ws: Path, days: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws.duckdb"
        shutil.copy(template_ws, ws)
        cooldown = {n: r.cooldown_days for n, r in load_settings().rules.items()}
        for d in days:
            day = T + dt.timedelta(days=d)
            alerts.evaluate(ws, day, health=health(), only=FAST)
            assert alerts.evaluate(ws, day, health=health(), only=FAST) == []  # a re-run adds nothing
        stored = alerts.list_alerts(ws)
        assert len({a.key for a in stored}) == len(stored)
        assert all(a.id == store.alert_id(a.key) for a in stored)
        by_pair: dict[tuple[str, str], list[dt.date]] = {}
        for a in stored:
            by_pair.setdefault((a.rule, a.account_id), []).append(a.as_of)
        for (rule, _acc), as_ofs in by_pair.items():
            as_ofs.sort()
            assert all((b - a).days >= cooldown[rule] for a, b in zip(as_ofs, as_ofs[1:], strict=False))


_name = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)


@given(tables=st.dictionaries(_name, st.dictionaries(_name, st.integers(0, 99), max_size=4), max_size=4))
def test_dotted_lines_finds_every_key(tables: dict[str, dict[str, int]]) -> None:
    lines, where = [], {}
    for t, keys in tables.items():
        lines.append(f"[rules.{t}]")
        where[f"rules.{t}"] = len(lines)
        for k, v in keys.items():
            lines.append(f"{k} = {v}  # a comment")
            where[f"rules.{t}.{k}"] = len(lines)
    found = dotted_lines("\n".join(lines) + "\n")
    assert {k: found[k] for k in where} == where
