"""The Spark engine's inputs: the CLI, Parquet URLs and existing Spark tables."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from csmetrics.cli.main import app
from csmetrics.compute import compute_dataset
from csmetrics.engine import open_dataset
from csmetrics.schema.errors import DataError, UsageError
from csmetrics.schema.tables import TABLE_ORDER

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]

START, END = "2024-07-01", "2025-01-01"
# One metric per family and input table: enough to show every table arrives typed as on DuckDB.
SOME = ("mrr,net_new_mrr,customer_churn_rate,renewal_rate,non_recurring_revenue,crc,fcr_rate,nps,csat,ces,"
        "product_adoption_rate,usage_frequency")


Values = dict[tuple[str, str, Any], float | None]
FEW = "mrr,customer_churn_rate,fcr_rate,usage_frequency"


def _duckdb_values(demo_dir: Path, metrics: str = SOME, by: str | None = None) -> Values:
    ds = open_dataset(demo_dir)
    try:
        return _as_dict(compute_dataset(ds, metrics, "month", START, END, by).rows)
    finally:
        ds.backend.disconnect()


def _as_dict(rows: Any) -> Values:
    return {(r.metric, r.period, r.group): (None if r.value != r.value else float(r.value))
            for r in rows.itertuples(index=False)}


def _same(a: dict[Any, float | None], b: dict[Any, float | None]) -> bool:
    return a.keys() == b.keys() and all(
        (a[k] is None and b[k] is None)
        or (a[k] is not None and b[k] is not None and math.isclose(a[k], b[k], rel_tol=1e-9, abs_tol=1e-12))  # type: ignore[arg-type]
        for k in a
    )


def test_metrics_cli_with_engine_spark_prints_the_duckdb_numbers(spark: Any, demo_dir: Path) -> None:
    args = ["metrics", "--data", str(demo_dir), "--start", START, "--end", END, "--metrics", "mrr,nps",
            "--format", "json", "--by", "segment"]
    duck = CliRunner().invoke(app, args)
    assert duck.exit_code == 0, duck.output
    res = CliRunner().invoke(app, [*args, "--engine", "spark", "--spark-master", "local[2]"])
    assert res.exit_code == 0, res.output
    a = {(r["metric"], r["period"], r["group"]): r["value"] for r in json.loads(duck.stdout)}
    b = {(r["metric"], r["period"], r["group"]): r["value"] for r in json.loads(res.stdout)}
    assert len(a) == 2 * 6 * 3  # 2 metrics, 6 months, 3 segments
    assert _same(a, b)
    # The CLI disconnects, but a session it did not start keeps running.
    assert spark.range(3).count() == 3


def test_parquet_url_is_read_by_spark_directly(spark: Any, demo_dir: Path) -> None:
    ds = open_dataset(demo_dir.resolve().as_uri(), engine="spark")
    try:
        assert ds.source.startswith("file://")
        got = _as_dict(compute_dataset(ds, SOME, "month", START, END, "segment").rows)
    finally:
        ds.backend.disconnect()
    assert _same(_duckdb_values(demo_dir, by="segment"), got)


def test_existing_spark_tables_are_read_from_their_database(spark: Any, demo_dir: Path) -> None:
    spark.sql("CREATE DATABASE IF NOT EXISTS csm_demo")
    for name in TABLE_ORDER:
        path = demo_dir / f"{name}.parquet"
        if path.exists():
            spark.read.parquet(str(path)).write.mode("overwrite").saveAsTable(f"csm_demo.{name}")
    ds = open_dataset("spark:csm_demo", engine="spark")
    try:
        got = _as_dict(compute_dataset(ds, FEW, "month", START, END).rows)
    finally:
        ds.backend.disconnect()
    assert _same(_duckdb_values(demo_dir, FEW), got)


def test_a_spark_table_without_a_required_column_is_a_data_error(spark: Any) -> None:
    spark.sql("CREATE DATABASE IF NOT EXISTS csm_broken")
    spark.createDataFrame([("a1", "x")], "account_id string, name string").write.mode("overwrite") \
        .saveAsTable("csm_broken.accounts")
    spark.createDataFrame([("s1", "a1", 10.0)], "subscription_id string, account_id string, amount double") \
        .write.mode("overwrite").saveAsTable("csm_broken.subscriptions")
    with pytest.raises(DataError) as err:
        open_dataset("spark:csm_broken", engine="spark")
    text = str(err.value)
    assert "spark:csm_broken/subscriptions" in text and "started_at" in text


def test_a_second_master_in_the_same_process_is_a_usage_error(spark: Any, demo_dir: Path) -> None:
    with pytest.raises(UsageError, match="already running"):
        open_dataset(demo_dir, engine="spark", spark_master="spark://elsewhere:7077")
    assert spark.range(2).count() == 2
