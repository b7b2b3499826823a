"""A small demo company (the generator plants churn drivers), shared by the backtest tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from csmetrics import demo


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("health-demo")
    demo.generate(Path(root), accounts=300, seed=1, months=24, end=dt.date(2026, 1, 1))
    return Path(root)
