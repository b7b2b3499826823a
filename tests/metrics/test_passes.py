"""Large companies are computed a few periods per pass: the same rows as one pass."""

from __future__ import annotations

import datetime as dt
import importlib
from pathlib import Path

import pandas as pd
import pytest

from csmetrics.compute import compute_dataset
from csmetrics.demo.generator import generate
from csmetrics.io import load_data_dir
from csmetrics.metrics import state, usage

compute_module = importlib.import_module("csmetrics.compute")  # the package exports a function of that name


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("passes")
    generate(data, accounts=150, seed=5, months=9, end=dt.date(2025, 10, 1), fmt="csv", events_per_account=15)
    return data


@pytest.mark.parametrize(("grain", "by"), [("month", None), ("month", "csm"), ("week", "segment")])
def test_passes_of_a_few_periods_give_the_same_rows(company: Path, monkeypatch: pytest.MonkeyPatch,
                                                    grain: str, by: str | None) -> None:
    ds = load_data_dir(company)
    try:
        whole = compute_dataset(ds, None, grain, "2025-01-01", "2025-10-01", by)
        # 150 accounts x 2 periods per pass: 5 passes of months, 20 of weeks.
        monkeypatch.setattr(compute_module, "ACCOUNT_PERIODS_PER_PASS", 300)
        assert compute_module.periods_per_pass(ds, len(whole.periods)) == 2
        built: list[str] = []
        for module, name in ((state, "subscription_mrr"), (usage, "feature_catalogue")):
            real = getattr(module, name)
            monkeypatch.setattr(module, name, lambda *a, _real=real, _name=name: built.append(_name) or _real(*a))
        passes = compute_dataset(ds, None, grain, "2025-01-01", "2025-10-01", by)
        temp = ds.backend.con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name LIKE '\\_cs\\_%' ESCAPE '\\'"
        ).fetchone()
    finally:
        ds.backend.disconnect()
    pd.testing.assert_frame_equal(passes.rows, whole.rows, check_exact=True)
    assert whole.rows["value"].notna().sum() > 100
    assert temp == (0,)  # each pass drops its building blocks, and the run those of every pass
    # What does not depend on the periods is built by the first pass and read by the others.
    assert sorted(built) == ["feature_catalogue", "subscription_mrr"]
