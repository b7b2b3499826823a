"""A valid data directory to break one cell at a time, and ways to look at the result."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from csmetrics.io import load_data_dir
from csmetrics.schema.errors import DataError, Defect

VALID = Path(__file__).parent.parent / "fixtures" / "io" / "valid"


def copy_valid(dest: Path, *drop: str) -> Path:
    """A copy of the valid fixture directory, without the tables named in ``drop``."""
    shutil.copytree(VALID, dest, ignore=shutil.ignore_patterns("README.md"))
    for name in drop:
        (dest / f"{name}.csv").unlink()
    return dest


def read_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def rfc4180(value: str) -> str:
    """A CSV field quoted as RFC 4180 says.

    (Python's csv writer leaves a lone CR unquoted when the line end is LF, which
    every reader then takes for a line break.)
    """
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\r\n') else value


def write_rows(path: Path, rows: list[list[str]], end: str = "\n") -> None:
    path.write_bytes("".join(",".join(rfc4180(v) for v in r) + end for r in rows).encode("utf-8"))


def set_cell(data_dir: Path, file: str, row: int, column: str, value: str) -> None:
    """Set one cell; ``row`` counts as in error messages (header = row 1)."""
    path = data_dir / file
    rows = read_rows(path)
    rows[row - 1][rows[0].index(column)] = value
    write_rows(path, rows)


def append_row(data_dir: Path, file: str, **cells: str) -> int:
    """Add a row (missing cells empty); returns its row number."""
    path = data_dir / file
    rows = read_rows(path)
    rows.append([cells.get(h, "") for h in rows[0]])
    write_rows(path, rows)
    return len(rows)


def defects(data_dir: Path) -> list[Defect]:
    """The defects ``load_data_dir`` reports; fails the test if it loads."""
    with pytest.raises(DataError) as info:
        load_data_dir(data_dir)
    return info.value.defects


def messages(data_dir: Path) -> list[str]:
    return [str(d) for d in defects(data_dir)]


def workspace_contents(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of a workspace file, rows sorted, for before/after comparisons."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
        return {n: sorted(con.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr) for n in names}
    finally:
        con.close()


def csv_to_parquet(path: Path, **types: pa.DataType) -> Path:
    """Rewrite NAME.csv as NAME.parquet, with some columns typed (others stay text)."""
    table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
        column_types={c: pa.string() for c in read_rows(path)[0]} | types))
    out = path.with_suffix(".parquet")
    pq.write_table(table, out)
    path.unlink()
    return out
