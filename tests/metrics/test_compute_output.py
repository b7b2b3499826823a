"""`compute(output="polars")` returns the default (pandas) rows as a polars frame, nulls as nulls."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import csmetrics
from csmetrics.io import load_data_dir
from tests.metrics.helpers import sub, write_dir

METRICS = "mrr,customer_churn_rate"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    # a (csm ann) pays 100 from 1 Jan; b (no csm) pays 50 in February only.
    return write_dir(tmp_path, accounts=[{"account_id": "a", "csm": "ann"}, {"account_id": "b", "csm": ""}],
                     subscriptions=[sub("s1", "a", "2025-01-01", None, 100),
                                    sub("s2", "b", "2025-02-01", "2025-03-01", 50)])


def test_polars_output_has_the_rows_of_the_default_output(data: Path) -> None:
    got = csmetrics.compute(data, metrics=METRICS, start="2025-01-01", end="2025-04-01", output="polars")
    assert isinstance(got, pl.DataFrame)
    assert got.schema == pl.Schema({"metric": pl.String, "period": pl.String, "group": pl.String,
                                    "value": pl.Float64})
    # mrr: 100; 100 + 50 = 150; 100. churn: no customer at the start of January -> null;
    # February 0 of 1; March b gone, 1 of 2 = 0.5
    assert got.rows() == [
        ("mrr", "2025-01", None, 100.0), ("mrr", "2025-02", None, 150.0), ("mrr", "2025-03", None, 100.0),
        ("customer_churn_rate", "2025-01", None, None), ("customer_churn_rate", "2025-02", None, 0.0),
        ("customer_churn_rate", "2025-03", None, 0.5),
    ]
    pdf = csmetrics.compute(data, metrics=METRICS, start="2025-01-01", end="2025-04-01")
    assert got.rows() == [(m, p, g, None if v != v else v) for m, p, g, v in pdf.itertuples(index=False)]


def test_polars_output_keeps_the_groups_and_their_order(data: Path) -> None:
    got = csmetrics.compute(data, metrics="mrr", start="2025-01-01", end="2025-03-01", by="csm", output="polars")
    # per period the groups in order: (none) = b, then ann = a
    assert got.rows() == [
        ("mrr", "2025-01", "(none)", 0.0), ("mrr", "2025-01", "ann", 100.0),
        ("mrr", "2025-02", "(none)", 50.0), ("mrr", "2025-02", "ann", 100.0),
    ]


def test_polars_output_from_an_open_dataset(data: Path) -> None:
    ds = load_data_dir(data)
    try:
        got = csmetrics.compute(ds, metrics="mrr", start="2025-02-01", end="2025-03-01", output="polars")
    finally:
        ds.backend.disconnect()
    assert got.rows() == [("mrr", "2025-02", None, 150.0)]
