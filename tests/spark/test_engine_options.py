"""Choosing an engine: errors and URL handling that need no Spark session."""

from __future__ import annotations

from pathlib import Path

import pytest

from csmetrics.engine import _remote_url, open_dataset
from csmetrics.schema.errors import UsageError


def test_an_unknown_engine_names_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="duckdb, spark"):
        open_dataset(tmp_path, engine="oracle")


def test_spark_master_without_engine_spark_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--engine spark"):
        open_dataset(tmp_path, spark_master="local[2]")


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ("s3a://bucket/company", "s3a://bucket/company"),
        (str(Path("s3a://bucket/company")), "s3a://bucket/company"),  # Path() collapses the //
        ("file:///data/company", "file:///data/company"),
        (str(Path("file:///data/company")), "file:///data/company"),
        ("/data/company", None),
        ("demo-data", None),
        ("C:/data", None),
    ],
)
def test_urls_are_told_from_local_paths(given: str, url: str | None) -> None:
    assert _remote_url(given) == url


def test_duckdb_memory_is_capped_by_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "accounts.csv").write_text("account_id\na1\n", encoding="utf-8")
    monkeypatch.setenv("CSMETRICS_DUCKDB_MEMORY_LIMIT", "512MB")
    ds = open_dataset(tmp_path)
    try:
        limit = ds.backend.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        spill = Path(ds.backend.con.execute("SELECT current_setting('temp_directory')").fetchone()[0])
    finally:
        ds.backend.disconnect()
    assert limit == "488.2 MiB"  # DuckDB's MB is 10^6 bytes
    assert not spill.exists()  # the private spill directory goes with the connection


def test_a_malformed_memory_limit_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "accounts.csv").write_text("account_id\na1\n", encoding="utf-8")
    monkeypatch.setenv("CSMETRICS_DUCKDB_MEMORY_LIMIT", "lots")
    with pytest.raises(UsageError, match="CSMETRICS_DUCKDB_MEMORY_LIMIT"):
        open_dataset(tmp_path)


def test_conform_types_text_columns_as_the_validated_loader_does(tmp_path: Path) -> None:
    """Tables read by an engine directly (all text here) get the contract's types and defaults."""
    import ibis

    from csmetrics.compute import compute_dataset
    from csmetrics.config import Config
    from csmetrics.engine import conform
    from csmetrics.io.dataset import Dataset, duckdb_backend
    from csmetrics.schema.tables import TABLES

    accounts = {"account_id": ["a1", "a2"], "segment": [" smb ", ""]}
    subs = {"subscription_id": ["s1", "s2"], "account_id": ["a1", "a2"],
            "started_at": ["2025-01-01", "2025-01-14T23:30:00-05:00"], "ended_at": ["2025-03-01", " "],
            "amount": ["120", "30"], "interval": ["YEAR", None], "currency": [None, "usd"]}
    con = duckdb_backend()
    config = Config()
    tables = {"accounts": conform(ibis.memtable(accounts), TABLES["accounts"], config),
              "subscriptions": conform(ibis.memtable(subs), TABLES["subscriptions"], config)}
    typed = con.execute(tables["subscriptions"]).to_dict("list")
    assert typed["interval"] == ["year", "month"]  # lower-cased; absent -> default
    assert typed["quantity"] == [1.0, 1.0] and typed["discount"] == [0.0, 0.0]
    assert typed["currency"] == ["USD", "USD"]
    assert con.execute(tables["accounts"]).segment.tolist() == ["smb", None]
    rows = compute_dataset(Dataset(con, tables, config, "memory"), "mrr", "month", "2025-01-01", "2025-04-01").rows
    # a1: 120 / 12 = 10 in January and February, ended 1 March; a2: 30 from 15 January (UTC) on.
    assert rows.value.tolist() == [40.0, 40.0, 30.0]
    started = con.execute(tables["subscriptions"]).started_at.astype(str).tolist()
    assert started == ["2025-01-01", "2025-01-15"]
