"""Usage metrics: the bitmask counting path equals distinct counting on any events."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from csmetrics.compute import compute_dataset
from csmetrics.io import load_data_dir
from csmetrics.metrics import usage
from csmetrics.periods import periods_between
from tests.metrics.helpers import write_dir
from tests.metrics.test_properties import SETTINGS

BASE = dt.datetime(2024, 12, 20)
# Month and quarter edges (1st and 31st of one month, weeks across months) are
# where a wrong day bit would collide; draw them often.
EDGES = [(dt.datetime(2025, m, d) - BASE).days for m, d in
         ((1, 1), (1, 31), (3, 1), (3, 31), (5, 31), (6, 1), (6, 30), (7, 1), (12, 31))]
START, END = dt.date(2025, 1, 1), dt.date(2026, 1, 1)
METRICS = "usage_accounts,product_adoption_rate,usage_frequency"


@st.composite
def events(draw: Any) -> tuple[list[dict[str, Any]], int]:
    catalogue = draw(st.sampled_from([1, 3, 12, 62, 63, 70]))
    n = draw(st.integers(1, 60))
    rows = []
    for _ in range(n):
        day = draw(st.one_of(st.integers(0, 400), st.sampled_from(EDGES)))
        at = BASE + dt.timedelta(days=day, seconds=draw(st.integers(0, 86399)))
        rows.append({"account_id": f"a{draw(st.integers(0, 5))}", "occurred_at": at.isoformat(sep=" "),
                     "feature": f"f{draw(st.integers(0, catalogue - 1))}"})
    # Every account gets a segment so --by has groups, one left empty: "(none)".
    return rows, catalogue


Cell = tuple[str, str | None]


def reference(
    rows: list[dict[str, Any]], grain: str, segments: dict[str, str | None]
) -> dict[Cell, tuple[int, float, float]]:
    """(period, group) -> (accounts, adoption, frequency), by plain Python sets."""
    periods = periods_between(START, END, grain, "monday")
    catalogue = {r["feature"] for r in rows}
    feats: dict[tuple[str, str], set[str]] = defaultdict(set)
    days: dict[tuple[str, str], set[dt.date]] = defaultdict(set)
    for r in rows:
        d = dt.datetime.fromisoformat(r["occurred_at"]).date()
        p = next((p for p in periods if p.first <= d <= p.last), None)
        if p is not None:
            feats[(p.label, r["account_id"])].add(r["feature"])
            days[(p.label, r["account_id"])].add(d)
    out: dict[Cell, list[tuple[int, int]]] = defaultdict(list)
    for (label, acc), fs in feats.items():
        out[(label, segments[acc] or "(none)")].append((len(fs), len(days[(label, acc)])))
    return {k: (len(v), sum(f for f, _ in v) / len(v) / len(catalogue), sum(d for _, d in v) / len(v))
            for k, v in out.items()}


def _by_segment(rows: list[dict[str, Any]], grain: str) -> tuple[dict[tuple[Any, ...], Any], dict[Any, Any]]:
    """(csmetrics' usage values by (metric, period, segment), the Python-set reference by (period, segment)) of
    ``rows`` over six accounts in two segments and none; checks that every referenced cell equals it."""
    segments = {f"a{i}": (None if i == 0 else f"s{i % 2}") for i in range(6)}
    with tempfile.TemporaryDirectory() as tmp:
        d = write_dir(Path(tmp), usage_events=rows,
                      accounts=[{"account_id": a, "segment": s} for a, s in segments.items()])
        ds = load_data_dir(d)
        try:
            got = compute_dataset(ds, METRICS, grain, START, END, by="segment").rows
        finally:
            ds.backend.disconnect()
    want = reference(rows, grain, segments)
    table = {(r.metric, r.period, r.group): r.value for r in got.itertuples(index=False)}
    for (label, group), (accounts, adoption, frequency) in want.items():
        assert table[("usage_accounts", label, group)] == accounts
        assert table[("product_adoption_rate", label, group)] == pytest.approx(adoption, rel=1e-12)
        assert table[("usage_frequency", label, group)] == pytest.approx(frequency, rel=1e-12)
    return table, want


@SETTINGS
@given(events(), st.sampled_from(["week", "month", "quarter", "year"]))
def test_bitmask_usage_equals_distinct_counts(case: tuple[list[dict[str, Any]], int], grain: str) -> None:
    rows, _ = case
    table, want = _by_segment(rows, grain)
    # Cells without usage: zero accounts and null rates.
    empty = [k for k in table if k[0] == "usage_accounts" and (k[1], k[2]) not in want]
    for _, label, group in empty:
        assert table[("usage_accounts", label, group)] == 0
        assert table[("usage_frequency", label, group)] != table[("usage_frequency", label, group)]  # NaN


def test_both_paths_are_exercised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same events through the bitmask path and, with the limit lowered, through COUNT(DISTINCT)."""
    rows = [{"account_id": f"a{i % 4}", "occurred_at": f"2025-0{1 + i % 6}-{1 + (i * 7) % 28:02d} 10:00:00",
             "feature": f"f{i % 5}"} for i in range(80)]
    d = write_dir(tmp_path, usage_events=rows)
    results = []
    for limit in (usage.MASK_FEATURES, 2):
        monkeypatch.setattr(usage, "MASK_FEATURES", limit)
        for grain in ("month", "quarter"):
            ds = load_data_dir(d)
            try:
                results.append(compute_dataset(ds, METRICS, grain, START, END).rows)
            finally:
                ds.backend.disconnect()
    assert results[0].equals(results[2]) and results[1].equals(results[3])
    assert results[0]["value"].notna().any()


@SETTINGS
@given(events(), st.sampled_from(["week", "month", "quarter"]), st.sampled_from([2, 3, 7]))
def test_several_mask_words_equal_distinct_counts(
    case: tuple[list[dict[str, Any]], int], grain: str, per_word: int
) -> None:
    """With words of 2, 3 or 7 bits the generated catalogues (up to 60 features)
    take several mask words (or, above MASK_WORDS words, COUNT(DISTINCT)): same values as Python sets."""
    rows, _ = case
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(usage, "MASK_FEATURES", per_word)
        table, want = _by_segment(rows, grain)
    assert sum(table[("usage_accounts", label, group)] for label, group in want) == sum(
        v[0] for v in want.values())


def wide_catalogue_rows() -> list[dict[str, Any]]:
    """130 features f000..f129 (three 62-bit words: f000-f061, f062-f123, f124-f129).

    January 2025: a1 uses f000 and f061 on the 1st (the lowest and highest bit
    of word 0), f062 on the 2nd (bit 0 of word 1), f070 and f129 on the 31st
    (word 1 bit 8, word 2 bit 5), and f000 again on the 31st: 5 features, 3 days.
    a2 uses f000 twice and f124 (word 2 bit 0) on the 5th: 2 features, 1 day.
    February 2025: a3 uses every feature on the 10th: 130 features, 1 day.
    """
    def ev(acc: str, day: str, feature: int) -> dict[str, Any]:
        return {"account_id": acc, "occurred_at": f"2025-{day} 09:30:00", "feature": f"f{feature:03d}"}
    rows = [ev("a1", "01-01", 0), ev("a1", "01-01", 61), ev("a1", "01-02", 62), ev("a1", "01-31", 70),
            ev("a1", "01-31", 129), ev("a1", "01-31", 0),
            ev("a2", "01-05", 0), ev("a2", "01-05", 0), ev("a2", "01-05", 124)]
    return rows + [ev("a3", "02-10", f) for f in range(130)]


def test_catalogue_above_62_features_hand_computed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """130 features take three mask words; the values are those worked out in wide_catalogue_rows,
    and exactly those of COUNT(DISTINCT) (MASK_WORDS lowered) on the same events."""
    d = write_dir(tmp_path / "wide", usage_events=wide_catalogue_rows())

    def run(grain: str) -> pd.DataFrame:
        ds = load_data_dir(d)
        try:
            return compute_dataset(ds, METRICS, grain, START, dt.date(2025, 3, 31)).rows
        finally:
            ds.backend.disconnect()

    month_rows, quarter_rows = run("month"), run("quarter")
    month = {(r.metric, r.period): r.value for r in month_rows.itertuples(index=False)}
    quarter = {(r.metric, r.period): r.value for r in quarter_rows.itertuples(index=False)}
    assert month[("usage_accounts", "2025-01")] == 2
    assert month[("product_adoption_rate", "2025-01")] == pytest.approx((5 + 2) / 2 / 130, rel=1e-12)
    assert month[("usage_frequency", "2025-01")] == pytest.approx((3 + 1) / 2, rel=1e-12)
    assert month[("usage_accounts", "2025-02")] == 1
    assert month[("product_adoption_rate", "2025-02")] == pytest.approx(1.0, rel=1e-12)
    assert month[("usage_frequency", "2025-02")] == pytest.approx(1.0, rel=1e-12)
    assert month[("usage_accounts", "2025-03")] == 0
    assert quarter[("usage_accounts", "2025-Q1")] == 3
    assert quarter[("product_adoption_rate", "2025-Q1")] == pytest.approx((5 + 2 + 130) / 3 / 130, rel=1e-12)
    assert quarter[("usage_frequency", "2025-Q1")] == pytest.approx((3 + 1 + 1) / 3, rel=1e-12)

    # The same events through COUNT(DISTINCT): exactly the same numbers.
    with monkeypatch.context() as mp:
        mp.setattr(usage, "MASK_WORDS", 2)  # 130 > 2 x 62
        assert run("month").equals(month_rows) and run("quarter").equals(quarter_rows)

