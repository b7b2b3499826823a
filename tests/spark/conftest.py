"""One Spark session (local[2]) for every Spark test, and the demo company they share.

The tests are marked ``spark`` (select them with ``-m spark``) and grouped
on one xdist worker, so the JVM starts once per test run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from csmetrics.demo.generator import generate
from csmetrics.engine import spark_session

DEMO_END = dt.date(2025, 1, 1)
DEMO_MONTHS = 12


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session, created = spark_session("local[2]", {"spark.sql.warehouse.dir": str(warehouse)})
    yield session
    if created:
        session.stop()


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo company as Parquet: 200 accounts, 12 months ending 2024-12-31."""
    out = tmp_path_factory.mktemp("demo") / "company"
    generate(out, accounts=200, seed=11, months=DEMO_MONTHS, end=DEMO_END, fmt="parquet", events_per_account=30)
    return out
