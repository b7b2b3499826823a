"""The cell tests the validator generates agree with their plain definitions on any text.

Two shortcuts keep validation near one scan (issue 13): the empty test trims a cell only when its
first character is one trim removes (``CASE``, lazy), and the clean-column test reads the first and
last characters (``ascii``, ``suffix``) instead of comparing the cell with its trimmed self. Both
must give the plain definition's verdict on every cell, whatever its characters (the clean test may
only err on the careful side, for a cell that starts with NUL): the definitions
are ``x IS NULL OR trim(x) = ''`` and ``x = trim(x) AND x <> ''`` (trim of csmetrics.io.validate's
TRIMMED characters), checked by DuckDB on generated cells made of those characters, other spaces,
multi-byte letters and NUL.
"""

from __future__ import annotations

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from csmetrics.config import Config
from csmetrics.io.validate import TRIMMED, Validator, trim
from csmetrics.schema.tables import TABLES

CHARS = st.sampled_from([*TRIMMED, "a", "Z", "0", "é", "\u2003", "\u3000", "\x00", "\u00a0a", "-"])
CELLS = st.lists(st.one_of(st.none(), st.lists(CHARS, max_size=5).map("".join)), min_size=1, max_size=40)
ACCOUNT_ID = next(c for c in TABLES["accounts"].columns if c.name == "account_id")


def _verdicts(cells: list[str | None], fast: str, plain: str) -> list[tuple[str | None, bool, bool]]:
    con = duckdb.connect()
    try:
        con.execute('CREATE TABLE t ("account_id" VARCHAR, i INTEGER)')
        con.executemany("INSERT INTO t VALUES (?, ?)", [(c, i) for i, c in enumerate(cells)])
        rows = con.execute(f"SELECT account_id, coalesce({fast}, false), coalesce({plain}, false) "
                           "FROM t ORDER BY i").fetchall()
        return [(r[0], bool(r[1]), bool(r[2])) for r in rows]
    finally:
        con.close()


@settings(max_examples=60, deadline=None)
@given(CELLS)
def test_the_empty_test_is_trim_equals_empty(cells: list[str | None]) -> None:
    v = Validator(duckdb.connect(), Config())
    checks = v._column_checks(ACCOUNT_ID, "VARCHAR")
    empty = next(c for c, msg in checks if msg.startswith("is empty"))
    x = '"account_id"'
    for cell, fast, plain in _verdicts(cells, empty, f"({x} IS NULL OR {trim(x)} = '')"):
        assert fast == plain, repr(cell)


@settings(max_examples=60, deadline=None)
@given(CELLS)
def test_the_clean_test_is_cell_equals_its_trim(cells: list[str | None]) -> None:
    v = Validator(duckdb.connect(), Config())
    clean = v._clean_test("accounts", ACCOUNT_ID, "VARCHAR")
    assert clean is not None
    x = '"account_id"'
    for cell, fast, plain in _verdicts(cells, clean, f"({x} IS NULL OR ({x} = {trim(x)} AND {x} <> ''))"):
        assert plain or not fast, repr(cell)  # never "clean" for a cell the typed view would change
        if cell is None or not cell.startswith("\x00"):
            # (ascii() of '' and of a leading NUL are both 0: such a column is read the careful way,
            # trimmed, which gives the same typed values; only the shortcut is not taken)
            assert fast == plain, repr(cell)
