"""Demo companies generated once per test session (small, fixed end date)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from csmetrics.demo import generate

END = dt.date(2026, 1, 1)


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """150 accounts over 24 months, CSV."""
    out = tmp_path_factory.mktemp("demo") / "small"
    generate(out, accounts=150, seed=1, end=END, events_per_account=30)
    return out


@pytest.fixture(scope="session")
def big_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2,000 accounts (enough for the planted effects to stand out), few usage events."""
    out = tmp_path_factory.mktemp("demo") / "big"
    generate(out, accounts=2000, seed=3, end=END, events_per_account=25)
    return out
