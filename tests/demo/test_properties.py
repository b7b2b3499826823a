"""Property tests: any generated company validates, and any single corrupted cell is caught.

The corruption test edits one cell of a generated CSV and checks that
``load_data_dir`` raises a DataError with a defect naming that file, that
1-based row (the header is row 1) and that column.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csmetrics.demo import TABLES, generate
from csmetrics.io import load_data_dir
from csmetrics.schema.errors import DataError
from csmetrics.schema.tables import TABLES as SPEC_TABLES

SETTINGS = settings(max_examples=10, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    accounts=st.integers(1, 120),
    months=st.integers(1, 36),
    end=st.dates(dt.date(2020, 1, 1), dt.date(2030, 12, 31)),
    events=st.integers(0, 20),
    fmt=st.sampled_from(["csv", "parquet"]),
)
def test_any_generated_company_passes_validation(seed: int, accounts: int, months: int, end: dt.date,
                                                 events: int, fmt: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        counts = generate(Path(tmp), accounts=accounts, seed=seed, months=months, end=end, fmt=fmt,
                          events_per_account=events)
        ds = load_data_dir(tmp)
        for name in TABLES:
            assert ds.tables[name].count().execute() == counts[name], name


# -- corruption ------------------------------------------------------------
@pytest.fixture(scope="module")
def company() -> Iterator[Callable[[int], Path]]:
    """seed -> a generated company, made once per seed and copied by each example; removed after the module."""
    made: dict[int, Path] = {}
    with tempfile.TemporaryDirectory(prefix="csm-demo-") as tmp:

        def get(seed: int) -> Path:
            if seed not in made:
                made[seed] = root = Path(tmp) / str(seed)
                generate(root, accounts=40, seed=seed, end=dt.date(2025, 7, 1), events_per_account=5)
            return made[seed]

        yield get


def read(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def corruptions(table: str, header: list[str], row: list[str], prev: list[str] | None) -> list[tuple[str, Any]]:
    """(column, new value or callable(row) -> None) pairs that must each be rejected."""
    spec = SPEC_TABLES[table]
    out: list[tuple[str, Any]] = []
    for col in spec.columns:
        if col.required:
            out.append((col.name, ""))
        if col.type == "date":
            out.append((col.name, "2025-02-30"))
        if col.type == "timestamp":
            out.append((col.name, "2025-02-30T10:00:00Z"))
        if col.type in ("double", "integer") and col.min is not None:
            out.append((col.name, "-5"))
        if col.type in ("double", "integer"):
            out.append((col.name, "many"))
        if col.max is not None:
            out.append((col.name, str(col.max + 0.5)))
        if col.name == "contacts":
            out += [(col.name, "0"), (col.name, "2.5")]
        if col.choices:
            out.append((col.name, "not-a-choice"))
        if col.name == "account_id" and table != "accounts":
            out.append((col.name, "UNKNOWN-ACCOUNT"))
        if col.name == "currency" and table in ("subscriptions", "charges"):
            out.append((col.name, "GBP"))
        if col.name == "score":
            hi = {"nps": "11", "csat": "6", "ces": "8"}[row[header.index("survey")]]
            out += [(col.name, hi), (col.name, "-1")]
    for start, end in spec.ordered:
        if row[header.index(start)]:
            value = row[header.index(start)]
            if "T" in value:
                before = (dt.datetime.fromisoformat(value.replace("Z", "")) - dt.timedelta(hours=1))
                out.append((end, before.strftime("%Y-%m-%dT%H:%M:%SZ")))
            else:
                out.append((end, (dt.date.fromisoformat(value) - dt.timedelta(days=1)).isoformat()))
    if spec.primary_key and prev is not None:
        out.append((",".join(spec.primary_key), "duplicate"))
    return out


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 3), data=st.data())
def test_one_corrupted_cell_is_reported_with_file_row_and_column(company: Callable[[int], Path], seed: int,
                                                                 data: st.DataObject) -> None:
    src = company(seed)
    names = [n for n in TABLES if len(read(src / f"{n}.csv")[1]) >= 2]
    table = data.draw(st.sampled_from(names), label="table")
    header, rows = read(src / f"{table}.csv")
    index = data.draw(st.integers(0, len(rows) - 1), label="data row")
    prev = rows[index - 1] if index > 0 else None
    column, value = data.draw(st.sampled_from(corruptions(table, header, rows[index], prev)), label="corruption")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "data"
        shutil.copytree(src, out)
        row = list(rows[index])
        if value == "duplicate":
            assert prev is not None
            for key in SPEC_TABLES[table].primary_key:
                row[header.index(key)] = prev[header.index(key)]
        else:
            row[header.index(column)] = value
        write(out / f"{table}.csv", header, rows[:index] + [row] + rows[index + 1:])
        with pytest.raises(DataError) as info:
            load_data_dir(out)
    file_row = index + 2  # header is row 1
    found = [(d.file, d.row, d.column) for d in info.value.defects]
    assert (f"{table}.csv", file_row, column) in found, found
