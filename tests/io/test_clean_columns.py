"""Text columns that need no trimming are read as they are (csmetrics.io.validate).

When every cell of a text column already is its typed value (no surrounding
whitespace, not empty, in its case for ``interval`` and ``currency``), the
typed view reads the column as it is instead of trimming every cell again in
each later pass. The typed values, the defects and their order must be those
of the exact text path, whatever mix of clean and dirty cells a file holds.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given
from hypothesis import strategies as st

from csmetrics.config import Config
from csmetrics.io.validate import find_files, validate
from csmetrics.schema.errors import DataError
from tests.io.helpers import write_rows
from tests.io.test_fast_path import ACCOUNTS, SETTINGS, outcome

HEADER = ["subscription_id", "account_id", "started_at", "amount", "interval", "currency", "plan"]
PAD = st.sampled_from(["", "", "", " ", "\t", "\u00a0", "\n", "\r\n"])


def padded(values: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(lambda a, v, b: a + v + b, PAD, values, PAD)


# Per column: its clean cells, and cells in the wrong case (only where the typed value changes case).
CLEAN = {"subscription_id": ["S0", "S1", "S2"], "account_id": ["A1", "A2", "A9"], "interval": ["month", "year"],
         "currency": ["USD"], "plan": ["basic", "Pro plan"]}
WRONG_CASE = {"interval": ["Month", "YEAR"], "currency": ["usd", "Usd"]}


@st.composite
def subscriptions(draw: st.DrawFn) -> list[list[str | None]]:
    """Rows of subscriptions; each text column is clean in every row, or has cells padded,
    empty, in the wrong case, or a mix of those (and of clean cells)."""
    n = draw(st.integers(1, 6))
    cells: dict[str, list[str]] = {}
    for column, clean in CLEAN.items():
        kinds = ["clean", "padded", "empty", "mixed"] + (["case"] if column in WRONG_CASE else [])
        kind = draw(st.sampled_from(kinds))
        values = st.sampled_from(clean)
        if kind == "padded":
            values = padded(values)
        elif kind == "empty":
            values = st.sampled_from([*clean, ""])
        elif kind == "case":
            values = st.sampled_from(WRONG_CASE[column])
        elif kind == "mixed":
            values = padded(st.sampled_from([*clean, *WRONG_CASE.get(column, []), "", "fortnight"]))
        cells[column] = [draw(values) for _ in range(n)]
    return [[cells["subscription_id"][i], cells["account_id"][i], "2025-01-01", "10", cells["interval"][i],
             cells["currency"][i], cells["plan"][i]] for i in range(n)]


def clean_outcome(data: Path, clean: str) -> tuple[list[str], dict[str, list[tuple[object, ...]]]]:
    """(defect messages, typed rows) of the fast path with the cleanliness test over ``clean`` columns."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        files = find_files(data)
        messages: list[str] = []
        try:
            validate(con, files, Config(), clean=clean)
        except DataError as exc:
            messages = [str(d) for d in exc.defects]
        # The typed rows too when there are defects (bad cells NULL): later checks read them.
        return messages, {name: con.execute(f'SELECT * EXCLUDE (__row) FROM "typed_{name}" ORDER BY __row')
                          .fetchall() for name in files}
    finally:
        con.close()


def exact_outcome(data: Path) -> tuple[list[str], dict[str, list[tuple[object, ...]]]]:
    messages, typed = outcome(data, exact=True)
    return messages, {k: [r[1:] for r in v] for k, v in typed.items()}


@SETTINGS
@given(subscriptions(), st.booleans())
def test_clean_and_dirty_text_columns_type_as_the_text_path(rows: list[list[str | None]], parquet: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="csm-clean-") as tmp:
        data = Path(tmp)
        write_rows(data / "accounts.csv", ACCOUNTS)
        if parquet:
            pq.write_table(pa.table({h: [r[i] for r in rows] for i, h in enumerate(HEADER)}),
                           data / "subscriptions.parquet")
        else:
            write_rows(data / "subscriptions.csv", [HEADER, *rows])
        want = exact_outcome(data)
        assert clean_outcome(data, "all") == want
        assert clean_outcome(data, "keys") == want


def view_sql(con: duckdb.DuckDBPyConnection) -> str:
    """The SQL of typed_subscriptions, without DuckDB's quotes and schema prefixes."""
    row = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'typed_subscriptions'").fetchone()
    assert row is not None
    return str(row[0]).replace('"', "").replace("main.", "")


def test_a_clean_column_is_read_as_is_and_a_padded_one_is_trimmed(tmp_path: Path) -> None:
    write_rows(tmp_path / "accounts.csv", ACCOUNTS)
    pq.write_table(pa.table({
        "subscription_id": ["S1", "S2", "S3"],
        "account_id": ["A1", "A2", "A1"],
        "started_at": ["2025-01-01", "2025-02-01", "2025-03-01"],
        "amount": [10.0, 20.0, 30.0],
        "interval": ["month", " Year", None],  # padded and capitalised: typed as 'year'
        "currency": ["USD", "USD", None],  # clean: read as is, the missing one is the base currency
        "plan": ["Pro", "basic", " "],  # blank: NULL
    }), tmp_path / "subscriptions.parquet")
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        validate(con, find_files(tmp_path), Config(base_currency="USD"))
        sql = view_sql(con)
        # Clean: the column itself (no trim); not clean: trimmed.
        assert 'subscription_id AS subscription_id' in sql and 'trim(subscription_id' not in sql
        assert 'trim(account_id' not in sql and 'trim(currency' not in sql
        assert 'trim(interval' in sql and 'trim(plan' in sql
        got = con.execute('SELECT subscription_id, account_id, "interval", currency, plan '
                          'FROM typed_subscriptions ORDER BY subscription_id').fetchall()
    finally:
        con.close()
    assert got == [("S1", "A1", "month", "USD", "Pro"), ("S2", "A2", "year", "USD", "basic"),
                   ("S3", "A1", "month", "USD", None)]


def test_keys_scope_tests_only_key_columns(tmp_path: Path) -> None:
    """With clean="keys" (metrics --data) only the key columns are read as they are."""
    write_rows(tmp_path / "accounts.csv", ACCOUNTS)
    write_rows(tmp_path / "subscriptions.csv", [HEADER, ["S1", "A1", "2025-01-01", "10", "month", "USD", "Pro"]])
    con = duckdb.connect()
    try:
        validate(con, find_files(tmp_path), Config(base_currency="USD"), clean="keys")
        sql = view_sql(con)
        assert 'trim(subscription_id' not in sql and 'trim(account_id' not in sql
        assert 'trim(plan' in sql and 'trim(currency' in sql
        assert con.execute("SELECT plan, currency FROM typed_subscriptions").fetchall() == [("Pro", "USD")]
    finally:
        con.close()
