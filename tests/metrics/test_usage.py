"""Usage metrics: the bitmask counting path equals distinct counting on any events."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

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


@SETTINGS
@given(events(), st.sampled_from(["week", "month", "quarter", "year"]))
def test_bitmask_usage_equals_distinct_counts(case: tuple[list[dict[str, Any]], int], grain: str) -> None:
    rows, _ = case
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
