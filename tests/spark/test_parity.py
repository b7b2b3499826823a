"""DuckDB and Spark compute the same numbers from the same expressions (SPEC section 3)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from csmetrics.compute import compute_dataset
from csmetrics.engine import open_dataset

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]

START, END = "2024-01-01", "2025-01-01"
REL = 1e-9


def _values(rows: pd.DataFrame) -> dict[tuple[str, str, Any], float | None]:
    return {
        (r.metric, r.period, r.group): (None if r.value is None or math.isnan(r.value) else float(r.value))
        for r in rows.itertuples(index=False)
    }


def _mismatches(a: dict[Any, float | None], b: dict[Any, float | None]) -> list[str]:
    out = [f"{k}: only on {'duckdb' if k in a else 'spark'}" for k in set(a) ^ set(b)]
    for k in set(a) & set(b):
        x, y = a[k], b[k]
        if x is None or y is None:
            if x is not y:
                out.append(f"{k}: duckdb {x} spark {y}")
        elif not math.isclose(x, y, rel_tol=REL, abs_tol=1e-12):
            out.append(f"{k}: duckdb {x!r} spark {y!r}")
    return sorted(out)


@pytest.mark.parametrize("by", [None, "csm"])
def test_every_metric_every_period_and_group_is_identical_on_duckdb_and_spark(
    spark: Any, demo_dir: Path, by: str | None
) -> None:
    duck = open_dataset(demo_dir)
    try:
        expected = compute_dataset(duck, None, "month", START, END, by)
    finally:
        duck.backend.disconnect()
    ds = open_dataset(demo_dir, engine="spark")
    try:
        got = compute_dataset(ds, None, "month", START, END, by)
    finally:
        ds.backend.disconnect()
    a, b = _values(expected.rows), _values(got.rows)
    # 12 months x every metric (x 8 CSMs when grouped): the comparison is not vacuous.
    assert len(a) >= 12 * 30 * (8 if by else 1)
    assert sum(v is not None for v in a.values()) > 0.8 * len(a)
    assert expected.notes == got.notes
    assert _mismatches(a, b) == []
    # The session the fixture started is still usable after disconnect.
    assert spark.range(1).count() == 1
