"""The floor: DuckDB reading every column of every input table once.

    .venv/bin/python bench/floor.py SOURCE

SOURCE is a workspace file (``*.duckdb``) or a data directory of Parquet files.
Each column is hashed and summed, so every value is read and touched once and
nothing can be answered from file statistics. Prints one JSON line: rows read
and seconds.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import duckdb

from csmetrics.schema.tables import TABLE_ORDER


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def relations(con: duckdb.DuckDBPyConnection, source: Path) -> dict[str, str]:
    """Input table name -> SQL relation reading it."""
    if source.suffix == ".duckdb":
        con.execute(f"ATTACH '{source}' AS ws (READ_ONLY)")
        names = {r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'ws'").fetchall()}
        return {n: f"ws.{_q(n)}" for n in TABLE_ORDER if n in names}
    return {n: f"read_parquet('{source / (n + '.parquet')}')" for n in TABLE_ORDER
            if (source / f"{n}.parquet").exists()}


def read_everything(source: Path) -> int:
    con = duckdb.connect()
    rows = 0
    for rel in relations(con, source).values():
        cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()]
        sums = ", ".join(f"sum(hash({_q(c)}))" for c in cols)
        row = con.execute(f"SELECT count(*), {sums} FROM {rel}").fetchone()
        rows += int(row[0]) if row else 0
    con.close()
    return rows


def main() -> int:
    source = Path(sys.argv[1])
    t0 = time.perf_counter()
    rows = read_everything(source)
    print(json.dumps({"rows": rows, "seconds": round(time.perf_counter() - t0, 3)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
