"""Which Ibis backend runs the metrics: DuckDB by default, Spark for scale-out."""

from __future__ import annotations

from pathlib import Path

from csmetrics.io.dataset import Dataset, open_source
from csmetrics.schema.errors import UsageError

ENGINES = ("duckdb", "spark")


def open_dataset(
    data: str | Path | None = None,
    workspace: str | Path | None = None,
    engine: str = "duckdb",
    spark_master: str | None = None,
) -> Dataset:
    """Open the input on the chosen engine."""
    if engine == "duckdb":
        return open_source(data, workspace)
    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}: expected one of {', '.join(ENGINES)}")
    raise UsageError("the spark engine is not available yet")
