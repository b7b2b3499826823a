"""`csmetrics demo` through the Typer app."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from csmetrics.cli.main import app
from csmetrics.demo import TABLES
from csmetrics.io import load_data_dir

runner = CliRunner()


def test_demo_writes_every_table_and_prints_the_counts(tmp_path: Path) -> None:
    out = tmp_path / "tmp"
    result = runner.invoke(app, ["demo", "--out", str(out), "--accounts", "50"])
    assert result.exit_code == 0, result.output
    for name in TABLES:
        assert (out / f"{name}.csv").exists(), name
    assert (out / "csmetrics.toml").read_text(encoding="utf-8").count('base_currency = "USD"') == 1
    assert "usage_events" in result.output and "accounts" in result.output
    load_data_dir(out)


def test_demo_parquet_with_seed_months_and_end(tmp_path: Path) -> None:
    args = ["demo", "--out", str(tmp_path), "--accounts", "30", "--seed", "4", "--months", "6",
            "--end", "2025-06-01", "--format", "parquet", "--events-per-account", "5"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.glob("*.parquet")) == sorted(f"{n}.parquet" for n in TABLES)
    load_data_dir(tmp_path)


def test_demo_rejects_an_unknown_format(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--out", str(tmp_path), "--format", "xlsx"])
    assert result.exit_code == 2
    assert not list(tmp_path.iterdir())


def test_demo_rejects_a_bad_end_date(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--out", str(tmp_path), "--end", "2025-02-30"])
    assert result.exit_code == 2
