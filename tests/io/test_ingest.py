"""Ingest: all-or-nothing, idempotent, upserting by key."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

import csmetrics.io.dataset as dataset
from csmetrics.io import ingest, open_source, open_workspace
from csmetrics.schema.errors import DataError, UsageError
from tests.io.helpers import (
    append_row,
    copy_valid,
    csv_to_parquet,
    read_rows,
    set_cell,
    workspace_contents,
    write_rows,
)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws" / "workspace.duckdb"
    ingest(copy_valid(tmp_path / "first"), ws)
    return ws


def broken(tmp_path: Path, name: str = "broken") -> Path:
    """A directory that changes good rows and adds new ones, with one defect on the last table."""
    data = copy_valid(tmp_path / name)
    set_cell(data, "accounts.csv", 2, "name", "Renamed")
    append_row(data, "accounts.csv", account_id="A4")
    append_row(data, "usage_events.csv", account_id="A4", occurred_at="2025-05-01", feature="new")
    set_cell(data, "fx_rates.csv", 4, "rate", "-1")
    return data


def test_failed_ingest_on_a_fresh_path_creates_nothing(tmp_path: Path) -> None:
    ws = tmp_path / "ws" / "workspace.duckdb"
    with pytest.raises(DataError):
        ingest(broken(tmp_path), ws)
    assert not ws.exists()
    assert not ws.parent.exists()


def test_failed_ingest_leaves_an_existing_workspace_unchanged(tmp_path: Path, workspace: Path) -> None:
    before_bytes, before_rows = digest(workspace), workspace_contents(workspace)
    with pytest.raises(DataError) as info:
        ingest(broken(tmp_path), workspace)
    assert [str(d) for d in info.value.defects] == [
        "fx_rates.csv row 4, column rate: '-1' is out of range (expected a number > 0)"
    ]
    assert digest(workspace) == before_bytes
    assert workspace_contents(workspace) == before_rows
    assert sorted(p.name for p in workspace.parent.iterdir()) == ["workspace.duckdb"]


def test_failed_table_level_check_leaves_the_workspace_unchanged(tmp_path: Path, workspace: Path) -> None:
    data = copy_valid(tmp_path / "dup")
    append_row(data, "usage_events.csv", account_id="A1", occurred_at="2025-06-01", feature="x")
    set_cell(data, "renewals.csv", 3, "renewal_id", "N1")  # duplicate key: found after typing
    before = workspace_contents(workspace)
    with pytest.raises(DataError):
        ingest(data, workspace)
    assert workspace_contents(workspace) == before


def test_repeated_ingest_changes_nothing(tmp_path: Path, workspace: Path) -> None:
    before = workspace_contents(workspace)
    counts = ingest(tmp_path / "first", workspace)
    assert workspace_contents(workspace) == before
    assert counts["usage_events"] == {"read": 4, "stored": 4}
    assert counts["accounts"] == {"read": 3, "stored": 3}
    assert {n: len(rows) for n, rows in before.items()} == {
        "_csmetrics_digest": 22, "_csmetrics_meta": 2, "accounts": 3, "charges": 3, "costs": 3, "fx_rates": 3,
        "renewals": 2,
        "subscriptions": 4, "survey_responses": 4, "tickets": 3, "usage_events": 4,
    }


def test_second_directory_upserts_by_key(tmp_path: Path, workspace: Path) -> None:
    data = copy_valid(tmp_path / "second", "charges", "costs")
    set_cell(data, "accounts.csv", 2, "name", "Acme Ltd")
    append_row(data, "accounts.csv", account_id="A4", name="Hooli", tier="gold")
    set_cell(data, "subscriptions.csv", 3, "ended_at", "2025-09-01")
    set_cell(data, "fx_rates.csv", 2, "rate", "1.12")  # composite key (EUR, 2024-12-01)
    append_row(data, "usage_events.csv", account_id="A4", occurred_at="2025-05-01T00:00:00Z", feature="new")
    counts = ingest(data, workspace)
    ds = open_workspace(workspace)
    accounts = ds.table("accounts").execute().set_index("account_id")
    assert accounts.name.to_dict() == {"A1": "Acme Ltd", "A2": "Globex", "A3": "Initech", "A4": "Hooli"}
    subs = ds.table("subscriptions").execute().set_index("subscription_id")
    assert str(subs.loc["S2", "ended_at"].date()) == "2025-09-01"
    assert len(subs) == 4
    fx = ds.table("fx_rates").execute()
    assert sorted(fx.rate.tolist()) == [1.08, 1.12, 1.27]
    assert ds.table("charges").count().execute() == 3  # not in the second directory: kept as is
    assert counts["usage_events"] == {"read": 5, "stored": 5}
    ds.backend.disconnect()


def test_usage_events_are_not_duplicated(tmp_path: Path, workspace: Path) -> None:
    data = copy_valid(tmp_path / "second")
    rows = read_rows(data / "usage_events.csv")
    write_rows(data / "usage_events.csv", rows + rows[1:2])  # also a duplicate inside the file
    ingest(data, workspace)
    ingest(data, workspace)
    ds = open_workspace(workspace)
    assert ds.table("usage_events").count().execute() == 4
    ds.backend.disconnect()


def test_child_may_refer_to_an_account_from_an_earlier_ingest(tmp_path: Path, workspace: Path) -> None:
    data = tmp_path / "later"
    data.mkdir()
    (data / "accounts.csv").write_text("account_id\nB1\n", encoding="utf-8")
    (data / "subscriptions.csv").write_text(
        "subscription_id,account_id,started_at,amount,currency\nS9,A3,2025-07-01,10,EUR\n", encoding="utf-8")
    ingest(data, workspace)  # A3 and the EUR rates come from the first ingest
    ds = open_workspace(workspace)
    assert ds.table("subscriptions").count().execute() == 5
    ds.backend.disconnect()
    (data / "subscriptions.csv").write_text(
        "subscription_id,account_id,started_at,amount\nS10,ZZ,2025-07-01,10\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        ingest(data, workspace)
    assert str(info.value) == "subscriptions.csv row 2, column account_id: 'ZZ' is not a known accounts.account_id"


def test_same_directory_loads_the_same_from_files_and_workspace(tmp_path: Path, workspace: Path) -> None:
    from_files = open_source(data=tmp_path / "first")
    from_ws = open_source(workspace=workspace)
    for name, table in from_files.tables.items():
        left = table.execute().sort_values(list(table.columns)).reset_index(drop=True)
        right = from_ws.table(name).execute().sort_values(list(table.columns)).reset_index(drop=True)
        assert left.equals(right[list(table.columns)]), name
    assert from_ws.extra_columns["accounts"] == ["tier"]
    assert from_ws.config == from_files.config
    from_ws.backend.disconnect()


def test_workspace_keeps_its_settings_when_a_directory_has_no_toml(tmp_path: Path) -> None:
    ws = tmp_path / "workspace.duckdb"
    data = copy_valid(tmp_path / "ten")
    (data / "csmetrics.toml").write_text("csat_scale_max = 10\ncsat_positive_min = 6\n", encoding="utf-8")
    ingest(data, ws)
    later = copy_valid(tmp_path / "later")
    set_cell(later, "survey_responses.csv", 4, "score", "8")  # valid on the workspace's 10-point scale
    ingest(later, ws)
    assert open_workspace(ws).config.csat_scale_max == 10


def test_base_currency_cannot_change(tmp_path: Path, workspace: Path) -> None:
    data = copy_valid(tmp_path / "eur")
    (data / "csmetrics.toml").write_text('base_currency = "EUR"\n', encoding="utf-8")
    before = workspace_contents(workspace)
    with pytest.raises(DataError) as info:
        ingest(data, workspace)
    assert str(info.value) == (
        "csmetrics.toml setting base_currency: 'EUR' differs from the workspace's USD (expected the same base currency)"
    )
    assert workspace_contents(workspace) == before


def test_a_file_that_is_not_a_workspace(tmp_path: Path) -> None:
    ws = tmp_path / "notes.duckdb"
    ws.write_text("hello", encoding="utf-8")
    with pytest.raises(DataError) as info:
        ingest(copy_valid(tmp_path / "data"), ws)
    assert str(info.value).startswith(f"{ws}: could not be opened as a workspace: ")
    assert ws.read_text(encoding="utf-8") == "hello"


def test_open_workspace_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="run `csmetrics ingest --data DIR` first"):
        open_workspace(tmp_path / "none.duckdb")


def test_new_extra_column_is_added_to_the_stored_table(tmp_path: Path, workspace: Path) -> None:
    data = copy_valid(tmp_path / "more")
    rows = read_rows(data / "accounts.csv")
    write_rows(data / "accounts.csv", [r + [v] for r, v in zip(rows, ["owner", "x", "y", "z"], strict=True)])
    ingest(data, workspace)
    ingest(tmp_path / "first", workspace)  # rows replaced without the column: NULL there, the column stays
    ds = open_workspace(workspace)
    assert ds.table("accounts").owner.execute().tolist() == [None, None, None]
    assert ds.extra_columns["accounts"] == ["tier", "owner"]
    ds.backend.disconnect()


def test_a_write_that_fails_leaves_no_new_workspace_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import csmetrics.io.dataset as dataset

    def broken_write(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(dataset, "_write", broken_write)
    ws = tmp_path / "workspace.duckdb"
    with pytest.raises(OSError, match="disk full"):
        ingest(copy_valid(tmp_path / "data"), ws)
    assert list(tmp_path.glob("workspace.duckdb*")) == []


def test_a_write_that_fails_rolls_back(tmp_path: Path, workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import csmetrics.io.dataset as dataset

    before = workspace_contents(workspace)
    data = copy_valid(tmp_path / "second")
    set_cell(data, "accounts.csv", 2, "name", "Changed")
    real_execute_count = 0
    original = dataset._write

    def write_then_fail(con: object, *args: object) -> None:
        class FailingCon:
            """Passes statements through until the metadata update, then fails."""

            def execute(self, sql: str, *params: object) -> object:
                nonlocal real_execute_count
                if "_csmetrics_meta" in sql and "INSERT" in sql:
                    raise RuntimeError("crash mid-transaction")
                real_execute_count += 1
                return con.execute(sql, *params)  # type: ignore[attr-defined]

        original(FailingCon(), *args)  # type: ignore[arg-type]

    monkeypatch.setattr(dataset, "_write", write_then_fail)
    with pytest.raises(RuntimeError, match="crash mid-transaction"):
        ingest(data, workspace)
    assert real_execute_count > 10  # the table writes did run before the failure
    assert workspace_contents(workspace) == before


def _all_parquet(data: Path) -> Path:
    for path in sorted(data.glob("*.csv")):
        csv_to_parquet(path)
    return data


def test_a_fresh_workspace_of_parquet_files_is_written_table_by_table_with_the_same_rows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Into a new workspace, Parquet tables are written two at a time, each on its own connection; the
    workspace holds exactly what the one-transaction path writes (usage de-duplicated, digest, settings)."""
    csv_dir = copy_valid(tmp_path / "csv")
    rows = read_rows(csv_dir / "usage_events.csv")
    write_rows(csv_dir / "usage_events.csv", rows + rows[1:2])  # a row twice in the file
    pq_dir = _all_parquet(shutil.copytree(csv_dir, tmp_path / "pq"))  # the same files, as Parquet
    at_once: list[set[str]] = []
    real = dataset._write_at_once

    def spy(*args: object) -> set[str]:
        written = real(*args)  # type: ignore[arg-type]
        at_once.append(written)
        return written

    monkeypatch.setattr(dataset, "_write_at_once", spy)
    by_csv, by_parquet = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    assert ingest(csv_dir, by_csv) == ingest(pq_dir, by_parquet)
    assert at_once == [set(), {p.stem for p in pq_dir.glob("*.parquet")}]  # CSV: the one transaction
    assert workspace_contents(by_csv) == workspace_contents(by_parquet)
    assert len(workspace_contents(by_parquet)["usage_events"]) == len(rows) - 1
    # Into an existing workspace, the one transaction again: the same files change nothing.
    before = workspace_contents(by_parquet)
    ingest(pq_dir, by_parquet)
    assert len(at_once) == 2 and workspace_contents(by_parquet) == before


def test_a_table_failing_to_write_into_a_fresh_workspace_leaves_no_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = dataset._write_table

    def failing(con: object, name: str, present: bool) -> None:
        if name == "tickets":
            raise OSError("disk full")
        real(con, name, present)  # type: ignore[arg-type]

    monkeypatch.setattr(dataset, "_write_table", failing)
    ws = tmp_path / "ws" / "workspace.duckdb"
    with pytest.raises(OSError, match="disk full"):
        ingest(_all_parquet(copy_valid(tmp_path / "pq")), ws)
    assert not ws.exists() and not ws.with_name(ws.name + ".wal").exists()
