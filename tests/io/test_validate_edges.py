"""Edges of io.validate that mutation testing found untested (docs/testing.md, "Mutation testing").

Each test breaks the valid fixture (tests/fixtures/io/valid) in one way and names the exact outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from csmetrics.io import load_data_dir
from csmetrics.schema.errors import DataError
from tests.io.helpers import copy_valid, messages, read_rows, set_cell, write_rows


def test_defects_are_capped_at_the_documented_50(tmp_path: Path) -> None:
    # docs/data-contract.md: "every defect found is reported together, up to 50".
    # costs.csv has 3 valid rows (rows 2-4); 51 rows with amount -1 follow (rows 5-55).
    data = copy_valid(tmp_path / "data")
    rows = read_rows(data / "costs.csv")
    rows += [[f"X{i}", "2025-01-01", "-1", ""] for i in range(51)]
    write_rows(data / "costs.csv", rows)
    with pytest.raises(DataError) as info:
        load_data_dir(data)
    assert len(info.value.defects) == 50
    assert [d.row for d in info.value.defects] == list(range(5, 55))
    assert info.value.truncated


def test_reserved_row_column_is_reported_on_the_header_row(tmp_path: Path) -> None:
    # The validator numbers rows in a column named __row, so a file may not bring its own.
    data = copy_valid(tmp_path / "data")
    rows = read_rows(data / "costs.csv")
    write_rows(data / "costs.csv", [rows[0] + ["__row"], *(r + ["7"] for r in rows[1:])])
    assert messages(data) == ["costs.csv row 1, column __row: is a reserved column name (expected another name)"]


# One bad row of each table-level check: (file, cells of the row numbered i, column of its defect).
TABLE_CHECKS = [
    pytest.param("subscriptions.csv", lambda i: {"subscription_id": f"X{i}", "account_id": "A1",
                 "started_at": "2025-02-01", "ended_at": "2025-01-01", "amount": "1"}, "ended_at", id="order"),
    pytest.param("subscriptions.csv", lambda i: {"subscription_id": "S1", "account_id": "A1",
                 "started_at": "2025-01-01", "amount": "1"}, "subscription_id", id="duplicate-key"),
    pytest.param("tickets.csv", lambda i: {"ticket_id": f"X{i}", "account_id": "nobody",
                 "opened_at": "2025-02-01T09:00:00Z"}, "account_id", id="foreign-key"),
    pytest.param("survey_responses.csv", lambda i: {"response_id": f"X{i}", "account_id": "A1", "survey": "nps",
                 "score": "11", "responded_at": "2025-02-02T10:00:00Z"}, "score", id="score-range"),
    pytest.param("subscriptions.csv", lambda i: {"subscription_id": f"X{i}", "account_id": "A1",
                 "started_at": "2025-01-01", "amount": "1", "currency": "JPY"}, "currency", id="fx-rate"),
]


@pytest.mark.parametrize(("file", "cells", "column"), TABLE_CHECKS)
def test_each_table_level_check_fills_the_cap_and_says_it_is_truncated(
    tmp_path: Path, file: str, cells: Callable[[int], dict[str, str]], column: str
) -> None:
    # 51 bad rows after the fixture's own: the first 50 are reported, the 51st only sets `truncated`.
    data = copy_valid(tmp_path / "data")
    rows = read_rows(data / file)
    first = len(rows) + 1  # row number of the first added row (header = row 1)
    rows += [[cells(i).get(h, "") for h in rows[0]] for i in range(51)]
    write_rows(data / file, rows)
    with pytest.raises(DataError) as info:
        load_data_dir(data)
    expected = [(file, r, column) for r in range(first, first + 50)]
    assert [(d.file, d.row, d.column) for d in info.value.defects] == expected
    assert info.value.truncated


def test_fx_check_without_an_fx_rates_file_fills_the_cap_too(tmp_path: Path) -> None:
    # Without fx_rates.csv every non-USD row is unpriced: the fixture's EUR subscription on row 3,
    # then 51 added JPY rows (rows 6-56). The cap keeps row 3 and rows 6-54 (1 + 49 = 50), drops
    # the rest of the subscriptions and charges.csv's EUR row, and says so.
    data = copy_valid(tmp_path / "data", "fx_rates")
    rows = read_rows(data / "subscriptions.csv")
    jpy = {"account_id": "A1", "started_at": "2025-01-01", "amount": "1", "currency": "JPY"}
    rows += [[{"subscription_id": f"X{i}", **jpy}.get(h, "") for h in rows[0]] for i in range(51)]
    write_rows(data / "subscriptions.csv", rows)
    with pytest.raises(DataError) as info:
        load_data_dir(data)
    assert [(d.file, d.row, d.column) for d in info.value.defects] == [
        ("subscriptions.csv", r, "currency") for r in [3, *range(6, 55)]
    ]
    assert info.value.truncated


def test_a_clean_parent_read_by_the_exact_reader_still_checks_its_children(tmp_path: Path) -> None:
    # A blank line makes DuckDB's row count differ from the file's line count, so accounts.csv is
    # read by the Python reader. The file has no defect, so subscriptions are still checked against
    # it: the orphan A9 on row 3 is reported (a "partial" parent would silence that check).
    data = copy_valid(tmp_path / "data")
    accounts = data / "accounts.csv"
    accounts.write_bytes(accounts.read_bytes() + b"\n")
    set_cell(data, "subscriptions.csv", 3, "account_id", "A9")
    assert messages(data) == ["subscriptions.csv row 3, column account_id: 'A9' is not a known accounts.account_id"]
