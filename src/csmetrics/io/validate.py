"""Validation of raw input files against the table contracts.

Files are read into DuckDB with their 1-based row number (the header is row
1), checked with set-based SQL, and exposed as typed views. Every defect
found, up to ``MAX_DEFECTS``, is reported together so a user fixes a file in
one go.

The rules are those of a text cell (docs/data-contract.md), and the exact
text path is the reference. What is read typed is checked by its type, in
the same one pass per table, with results identical to the text path's:

- A Parquet file is a view over the file (no copy). A ``DATE``, ``TIMESTAMP``
  or integer / ``DOUBLE`` column is checked and typed from its values: such a
  value's text form is always valid ISO 8601 / a number, except outside years
  1000-9999, sub-microsecond timestamps and non-finite numbers, which go
  through the text path (CASE evaluates it only for those rows). Other types
  (``DECIMAL``, ``FLOAT``, ``HUGEINT``, booleans...) are checked as their text.
- A CSV file is read once, numeric columns as ``DOUBLE`` (DuckDB accepts the
  numbers ``TRY_CAST`` does). If DuckDB cannot read it so, or a numeric cell
  is bad (its message shows the text as written), the file is read again as
  text, exactly as before.
- Text dates and timestamps in the usual forms (``YYYY-MM-DD``,
  ``YYYY-MM-DDTHH:MM:SS[.ffffff][Z]``) are parsed as plain timestamps, the
  others as ISO 8601 with an offset: the same instants, without the time-zone
  machinery for every cell.

``raw_<table>`` holds the cells as read, ``typed_<table>`` is a view of the
contract's types (bad cells NULL) over it; ingest streams from that view.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from csmetrics.config import Config, unsettled
from csmetrics.schema.errors import DataError, Defect
from csmetrics.schema.tables import SURVEY_RANGES, TABLE_ORDER, TABLES, Column

MAX_DEFECTS = 50
ROW = "__row"
# Undecodable bytes (read with errors="surrogateescape") and NUL: not UTF-8 text.
_BAD_TEXT = re.compile("[\udc80-\udcff\x00]")


def _count_lines(path: Path) -> int:
    """Lines in a file, the last one counted even without a final newline."""
    lines, last = 0, b"\n"
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last != b"\n")


def q(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    """Quote an SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


# What is trimmed around every cell (DuckDB's one-argument trim() takes spaces and
# some Unicode spaces, but not tabs or line breaks: say exactly which).
TRIMMED = " \t\r\n\u00a0"


TRIMMED_CODES = ", ".join(str(ord(c)) for c in TRIMMED)
"""The code points of ``TRIMMED``, as an SQL list (what ``ascii()`` of a cell is compared with)."""


def trim(sql: str) -> str:
    """SQL trimming an expression's surrounding whitespace (``TRIMMED``)."""
    return f"trim({sql}, {lit(TRIMMED)})"


# Text the plain TIMESTAMP cast reads as the same UTC instant as iso_instant(): no offset (or Z), and
# years 1000-9999 (ICU, behind TIMESTAMPTZ, counts the years before 1 AD differently).
_PLAIN_INSTANT = r"[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z?)?"


def utc_instant(sql: str) -> str:
    """SQL for the UTC TIMESTAMP of a trimmed text, NULL unless it is a finite ISO 8601 date or timestamp.

    The same value as ``timezone('UTC', iso_instant(sql))``; the common forms skip the time-zone parser.
    """
    return (f"CASE WHEN regexp_full_match({sql}, {lit(_PLAIN_INSTANT)}) THEN TRY_CAST({sql} AS TIMESTAMP) "
            f"ELSE timezone('UTC', {iso_instant(sql)}) END")


def iso_instant(sql: str) -> str:
    """SQL for the TIMESTAMPTZ a trimmed text holds, NULL unless it is a finite ISO 8601 date or timestamp.

    DuckDB alone would also take 'epoch', 'infinity' or 2025/03/01. Invalid cells
    become NULL (not some instant) so the checks across rows skip them.
    """
    ts = f"TRY_CAST({sql} AS TIMESTAMPTZ)"
    return (f"CASE WHEN regexp_matches({sql}, '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}([T ]|$)') "
            f"AND isfinite({ts}) THEN {ts} END")


def drop_relation(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Drop the temporary table or view ``name``, if there is one."""
    row = con.execute("SELECT table_type FROM information_schema.tables WHERE table_name = ? "
                      "AND table_catalog = 'temp'", [name]).fetchone()
    if row is not None:
        con.execute(f"DROP {'VIEW' if row[0] == 'VIEW' else 'TABLE'} {q(name)}")


def drop_staged(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Drop what :func:`validate` left for ``table``: the view ``typed_<table>`` and ``raw_<table>``."""
    drop_relation(con, "typed_" + table)
    drop_relation(con, "raw_" + table)


@dataclass
class SourceFile:
    table: str
    path: Path

    @property
    def label(self) -> str:
        return self.path.name


def find_files(data_dir: Path) -> dict[str, SourceFile]:
    """The table files of a data directory, by table name."""
    if not data_dir.is_dir():
        raise DataError([Defect(str(data_dir), None, None, None, "is not a directory")])
    found: dict[str, SourceFile] = {}
    defects = []
    for name in TABLE_ORDER:
        paths = [p for ext in ("csv", "parquet") if (p := data_dir / f"{name}.{ext}").exists()]
        if len(paths) > 1:
            defects.append(Defect(paths[1].name, None, None, None,
                                  f"conflicts with {paths[0].name}: give each table once"))
        if paths:
            found[name] = SourceFile(name, paths[0])
    if "accounts" not in found:
        defects.append(Defect(str(data_dir / "accounts.csv"), None, None, None,
                              "is missing: accounts.csv or accounts.parquet is required"))
    if defects:
        raise DataError(defects)
    return found


# How a column read from a file is checked: by its DuckDB type.
_INTEGERS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}
_TIMESTAMPS = {"TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "TIMESTAMP WITH TIME ZONE"}
# Values whose text form (CAST AS VARCHAR) is ISO 8601 with a four-digit year, so the text
# rules accept them: outside, the text path decides.
_SAFE_DATES = "BETWEEN DATE '1000-01-01' AND DATE '9999-12-30'"


def _typed_kind(col: Column, sqltype: str) -> str:
    """``text`` (checked as its text form), ``number`` or ``instant`` (checked by value)."""
    if col.type in ("date", "timestamp") and (sqltype == "DATE" or sqltype in _TIMESTAMPS):
        return "instant"
    if col.type in ("double", "integer") and (sqltype == "DOUBLE" or sqltype in _INTEGERS):
        return "number"
    return "text"


def _instant_fast(x: str, sqltype: str) -> str:
    """SQL: true when the typed value ``x`` is one whose text form the text rules accept as is.

    Compared with constants of the column's own type: a cast of every value (to DATE, say)
    would go through ICU's calendar for TIMESTAMPTZ, the slowest part of a scan.
    """
    if sqltype == "DATE":
        return f"{x} {_SAFE_DATES}"
    if sqltype == "TIMESTAMP WITH TIME ZONE":
        return f"{x} BETWEEN TIMESTAMPTZ '1000-01-01 00:00:00+00' AND TIMESTAMPTZ '9999-12-30 00:00:00+00'"
    if sqltype == "TIMESTAMP_NS":  # below a microsecond the text is parsed with rounding: leave it to the text path
        return f"epoch_ns({x}) % 1000 = 0"  # (and every TIMESTAMP_NS lies within 1677-2262)
    return f"{x} BETWEEN TIMESTAMP '1000-01-01' AND TIMESTAMP '9999-12-30'"


def _instant_value(x: str, sqltype: str) -> str:
    """SQL: the UTC TIMESTAMP of a typed value (for values that pass :func:`_instant_fast`).

    A TIMESTAMPTZ's microseconds since the epoch are its UTC wall time: no ICU on the way.
    """
    if sqltype == "TIMESTAMP WITH TIME ZONE":
        return f"make_timestamp(epoch_us({x}))"
    return f"CAST({x} AS TIMESTAMP)"


class Validator:
    """Reads and validates the files of one data directory on a DuckDB connection.

    Cells as read are in ``raw_<table>`` (a view over a Parquet file, a table for
    CSV); the typed view over them is ``typed_<table>``. With ``exact``, every
    cell is read and checked as text with the ISO 8601 parser (the reference
    the fast paths are tested against, tests/io/test_fast_path.py).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, config: Config, exact: bool = False,
                 clean: str = "all") -> None:
        self.con = con
        self.exact = exact
        # Which text columns check_cells tests for cleanliness (_clean_test): "all", or "keys"
        # (primary and foreign keys, which the table-level checks read again).
        self.clean_scope = clean
        self.config = config
        self.defects: list[Defect] = []
        self.extra_columns: dict[str, list[str]] = {}
        # (table, column) pairs with a cell defect, so checks that rely on them can stand down.
        self.bad_columns: set[tuple[str, str]] = set()
        # Tables read without some of their rows (wrong number of values, not UTF-8, broken
        # quoting): their other rows are checked, but they cannot vouch for keys others refer to.
        self.partial: set[str] = set()
        # Settings of csmetrics.toml that are wrong: the checks that depend on them stand down.
        self.unsettled: set[str] = set()
        self.truncated = False
        # DuckDB type of every column of raw_<table>.
        self.types: dict[str, dict[str, str]] = {}
        # CSV files read with typed numbers, and their headers (to read them again as text).
        self.typed_csv: dict[str, list[str]] = {}
        # Text columns whose every cell already is its typed value (check_cells), per table.
        self.clean: dict[str, set[str]] = {}

    # -- defects -------------------------------------------------------------
    @property
    def full(self) -> bool:
        return len(self.defects) >= MAX_DEFECTS

    def add(self, defect: Defect) -> None:
        if not self.full:
            self.defects.append(defect)
        else:
            self.truncated = True

    def raise_if_any(self) -> None:
        if self.defects:
            order = {t: i for i, t in enumerate(TABLE_ORDER)}
            self.defects.sort(key=lambda d: (order.get(d.file.rsplit(".", 1)[0], -1), d.file, d.row or 0))
            raise DataError(self.defects, self.truncated)

    # -- reading -------------------------------------------------------------
    def read_raw(self, src: SourceFile) -> bool:
        """Load a file's cells plus row numbers. False if unreadable."""
        header = self._read_csv(src) if src.path.suffix == ".csv" else self._read_parquet(src)
        if header is None:
            return False
        spec = TABLES[src.table]
        ok = ROW not in header
        if not ok:
            self.add(Defect(src.label, 1, ROW, None, "is a reserved column name (expected another name)"))
        for col in spec.required:
            if col not in header:
                self.add(Defect(src.label, 1, col, None,
                                "is missing: required column (header has " + ", ".join(header) + ")"))
                ok = False
        self.extra_columns[src.table] = [h for h in header if h not in spec.column_names]
        if ok:
            self._describe(src.table)
        return ok

    def _describe(self, table: str) -> None:
        rows = self.con.execute(f"DESCRIBE {q('raw_' + table)}").fetchall()
        self.types[table] = {r[0]: r[1] for r in rows}

    def _read_parquet(self, src: SourceFile) -> list[str] | None:
        path = lit(str(src.path))
        try:
            cols = [c[0] for c in self.con.execute(f"DESCRIBE SELECT * FROM read_parquet({path})").fetchall()]
            # Parquet has no header line; its first record is row 2 as in a CSV file. A view: the
            # file is read by each check (only the columns it needs), never copied.
            select = ", ".join(q(c) for c in cols if c != ROW)
            drop_staged(self.con, src.table)
            self.con.execute(
                f"CREATE OR REPLACE TEMP VIEW {q('raw_' + src.table)} AS "
                f"SELECT (file_row_number + 2)::BIGINT AS {ROW}{', ' if select else ''}{select} "
                f"FROM read_parquet({path}, file_row_number=true)"
            )
        except duckdb.Error as exc:
            msg = str(exc).splitlines()[0]
            self.add(Defect(src.label, None, None, None, f"could not be read as Parquet: {msg}"))
            return None
        return cols

    def _read_csv(self, src: SourceFile) -> list[str] | None:
        """Read a CSV file. Returns its header, or None when unreadable.

        The fast path is DuckDB's reader with the dialect fixed (RFC 4180, no
        sniffing: a sniffer may take ``#`` lines for comments or skip leading
        rows), the contract's numeric columns read as DOUBLE, and rows numbered
        by ``row_number() OVER ()``, which DuckDB runs as an order-preserving
        streaming window. DuckDB skips blank lines and a quoted field may span
        lines, so the numbering is only trusted when the file has exactly one
        line per row. When a number does not parse, the file is read again
        with every column as text; when the numbering cannot be trusted or
        DuckDB cannot parse the file, the exact (slower) Python reader numbers
        the rows and pinpoints what is wrong.
        """
        header = self._csv_header(src)
        if header is None:
            return None
        spec = TABLES[src.table]
        numeric = {c.name for c in spec.columns if c.type in ("double", "integer")}
        lines = _count_lines(src.path)
        typed = not self.exact and bool(numeric & set(header)) and ROW not in header
        if typed and self._read_csv_duckdb(src, header, numeric, lines):
            self.typed_csv[src.table] = header
            return header
        return self._read_csv_text(src, header, lines)

    def _read_csv_text(self, src: SourceFile, header: list[str], lines: int | None = None) -> list[str] | None:
        """Read a CSV file with every column as text (the exact reader when DuckDB's cannot be trusted)."""
        self.typed_csv.pop(src.table, None)
        if self._read_csv_duckdb(src, header, set(), _count_lines(src.path) if lines is None else lines):
            return header
        return header if self._read_csv_exact(src, header) else None

    def _read_csv_duckdb(self, src: SourceFile, header: list[str], numeric: set[str], lines: int) -> bool:
        table = q("raw_" + src.table)
        columns = "{" + ", ".join(f"{lit(h)}: {lit('DOUBLE' if h in numeric else 'VARCHAR')}" for h in header) + "}"
        drop_staged(self.con, src.table)
        try:
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE {table} AS "
                f"SELECT (row_number() OVER () + 1)::BIGINT AS {ROW}, * FROM read_csv({lit(str(src.path))}, "
                f"auto_detect=false, header=true, columns={columns}, delim=',', quote='\"', escape='\"', "
                "comment='', skip=0, strict_mode=true, null_padding=false, encoding='utf-8')"
            )
            result = self.con.execute(f"SELECT count(*) FROM {table}").fetchone()
            return result is not None and int(result[0]) + 1 == lines
        except duckdb.Error:
            return False

    def _csv_header(self, src: SourceFile) -> list[str] | None:
        try:
            with src.path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as f:
                header = next(csv.reader(f, strict=True), None)
        except (OSError, csv.Error) as exc:
            self.add(Defect(src.label, 1, None, None, f"could not be read: {exc}"))
            return None
        if header is None or header == []:
            self.add(Defect(src.label, 1, None, None, "is empty (expected a header row naming the columns)"))
            return None
        if any(_BAD_TEXT.search(h) for h in header):
            self.add(Defect(src.label, 1, None, None,
                            "is not a UTF-8 text file (expected a UTF-8 CSV file with a header row)"))
            return None
        bad = False
        seen: set[str] = set()
        # Names are trimmed: "account_id " from a spreadsheet export is account_id.
        header = [h.strip() for h in header]
        for i, h in enumerate(header, start=1):
            if not h:
                self.add(Defect(src.label, 1, f"#{i}", None, "has an empty name in the header (expected a name)"))
                bad = True
            elif h in seen:
                self.add(Defect(src.label, 1, h, None, "appears twice in the header (expected unique names)"))
                bad = True
            seen.add(h)
        return None if bad else header

    def _read_csv_exact(self, src: SourceFile, header: list[str]) -> bool:
        """Number rows with Python's csv module: one row per record, blank lines counted.

        Reports rows with the wrong number of values, bytes that are not
        UTF-8 and broken quoting, each on its row, and keeps the other rows
        (in the same single pass) so their defects are reported too; such a
        file is ``partial``. True if the file is usable.
        """
        width = len(header)
        cells: list[list[str | None]] = [[] for _ in header]
        rows: list[int] = []
        bad = False
        row = 1
        with src.path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as f:
            reader = csv.reader(f, strict=True)
            next(reader, None)
            while True:
                try:
                    record = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    # The reader starts afresh on the next line: later rows are still read.
                    row += 1
                    bad = True
                    end = "end of data" in str(exc)
                    hint = " (a quote opened on this row is never closed)" if end else ""
                    self.add(Defect(src.label, row, None, None, f"could not be parsed as CSV: {exc}{hint}"))
                    if end:
                        break
                    continue
                row += 1
                if not record:
                    continue
                if len(record) != width:
                    n = len(record)
                    self.add(Defect(src.label, row, None, None,
                                    f"has {n} value{'s' * (n != 1)} (expected {width}, as in the header)"))
                    bad = True
                    continue
                text_ok = True
                for name, value in zip(header, record, strict=True):
                    if _BAD_TEXT.search(value):
                        shown = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                        self.add(Defect(src.label, row, name, shown, "is not UTF-8 text (expected a UTF-8 file)"))
                        text_ok = False
                if not text_ok:
                    bad = True
                    continue
                rows.append(row)
                for i, value in enumerate(record):
                    cells[i].append(value if value != "" else None)
        if bad:
            self.partial.add(src.table)
        arrow = pa.table([pa.array(rows, pa.int64()), *(pa.array(c, pa.string()) for c in cells)],
                         names=[ROW, *header])
        view = "__csv_" + src.table
        drop_staged(self.con, src.table)
        self.con.register(view, arrow)
        try:
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {q('raw_' + src.table)} AS SELECT * FROM {q(view)}")
        finally:
            self.con.unregister(view)
        return True

    # -- cell checks ---------------------------------------------------------
    def _instant(self, sql: str) -> str:
        return f"timezone('UTC', {iso_instant(sql)})" if self.exact else utc_instant(sql)

    def _kind(self, col: Column, sqltype: str) -> str:
        return "text" if self.exact else _typed_kind(col, sqltype)

    def _cell_problem(self, col: Column, x: str) -> list[tuple[str, str]]:
        """(sql condition that is true when a non-empty text cell is bad, expectation) pairs."""
        checks: list[tuple[str, str]] = []
        t = trim(x)
        if col.type in ("date", "timestamp"):
            checks.append((f"{self._instant(t)} IS NULL", "is not " + col.expected))
        elif col.type in ("double", "integer"):
            checks += self._number_problem(col, f"TRY_CAST({t} AS DOUBLE)")
        if col.choices:
            choices = ", ".join(lit(c) for c in col.choices)
            checks.append((f"lower({t}) NOT IN ({choices})", "is not " + col.expected))
        return checks

    @staticmethod
    def _number_problem(col: Column, num: str) -> list[tuple[str, str]]:
        checks = [(f"{num} IS NULL OR NOT isfinite({num})", "is not " + col.expected)]
        if col.type == "integer":
            checks.append((f"{num} <> floor({num})", "is not " + col.expected))
        if col.min is not None:
            op = "<=" if col.min_exclusive else "<"
            checks.append((f"{num} {op} {col.min}", "is out of range (expected " + col.expected + ")"))
        if col.max is not None:
            checks.append((f"{num} > {col.max}", "is out of range (expected " + col.expected + ")"))
        return checks

    def _column_checks(self, col: Column, sqltype: str) -> list[tuple[str, str]]:
        """(sql condition true when the cell is bad, expectation) pairs, in the text path's order.

        A typed value gives the same verdicts as its text form (``CAST(x AS VARCHAR)``) would.
        """
        x = q(col.name)
        kind = self._kind(col, sqltype)
        if kind == "text":
            text = x if sqltype == "VARCHAR" else f"CAST({x} AS VARCHAR)"
            # Only a cell that starts with a trimmed character (or is '') can trim to '': the others skip
            # the trim, which makes a new string per cell (CASE is lazy). The same verdict as
            # trim(text) = '' on every cell.
            empty = (f"({text} IS NULL OR CASE WHEN ascii({text}) IN (0, {TRIMMED_CODES}) "
                     f"THEN {trim(text)} = '' ELSE false END)")
            problems = self._cell_problem(col, text)
        else:
            empty = f"({x} IS NULL)"  # a typed value's text is never blank
            if kind == "number":
                problems = self._number_problem(col, f"CAST({x} AS DOUBLE)")
            else:
                # Only the rare values outside the safe range are looked at as text (CASE is lazy).
                text = trim(f"CAST({x} AS VARCHAR)")
                problems = [(f"CASE WHEN {_instant_fast(x, sqltype)} THEN false "
                             f"ELSE {utc_instant(text)} IS NULL END", "is not " + col.expected)]
        checks = []
        if col.required:
            checks.append((empty, "is empty (required: " + col.short + ")"))
        checks += [(f"(NOT {empty} AND ({cond}))", msg) for cond, msg in problems]
        return checks

    @staticmethod
    def key_columns(table: str) -> set[str]:
        """The primary key and foreign key columns of a table."""
        spec = TABLES[table]
        return set(spec.primary_key) | {fk.column for fk in spec.foreign_keys}

    def _clean_test(self, table: str, col: Column, sqltype: str) -> str | None:
        """SQL: true when a cell of a text column already is its typed value.

        A string column's typed value is the cell trimmed, NULL if empty, lower-cased
        (``lower_case`` columns) or upper-cased (``currency``). When no cell changes
        on the way (exports usually hold clean identifiers), the typed view reads the
        column as it is: trimming a string allocates a new one, and the typed view is
        read by every later check and by the write (on 20M usage events, 2 s a pass).
        None for other columns, and always on the exact path (the reference).

        The test looks at the first and last character of every cell, about half
        as costly as one trimmed read of the column (0.1 s per million cells of a
        column Parquet could not dictionary-encode, such as 1M distinct user ids;
        next to nothing for a dictionary-encoded one). Ingest reads every column of the typed view
        several times and tests them all; ``metrics --data`` only its keys.
        """
        if self.exact or col.type != "string" or sqltype != "VARCHAR":
            return None
        if self.clean_scope == "keys" and col.name not in self.key_columns(table):
            return None
        x = q(col.name)
        # Neither the first nor the last character (code point) is one trim() removes, and not
        # empty (ascii('') is 0): the same verdict as trim(x) = x AND x <> '', at half the cost
        # (no new string per cell).
        last = " OR ".join(f"suffix({x}, chr({ord(c)}))" for c in TRIMMED)  # (no substring per cell)
        same = f"ascii({x}) NOT IN (0, {TRIMMED_CODES}) AND NOT ({last})"
        if col.lower_case:
            same += f" AND lower({x}) = {x}"
        elif col.name == "currency":
            same += f" AND upper({x}) = {x}"
        return f"{x} IS NULL OR ({same})"

    def check_cells(self, src: SourceFile) -> None:
        """Every cell rule of every column, in one pass over the table.

        The same pass finds the text columns that need no trimming nor case
        change (:meth:`_clean_test`, used by :meth:`make_typed`). Only when a
        cell is bad is the table read again, to list the bad rows in order.
        """
        spec = TABLES[src.table]
        raw = q("raw_" + src.table)
        types = self.types[src.table]
        self.clean[src.table] = set()
        conds: list[tuple[str, str, str]] = []  # column, condition, message
        tests: list[tuple[str, str]] = []  # column, clean test
        for col in spec.columns:
            if col.name in types:
                conds += [(col.name, c, m) for c, m in self._column_checks(col, types[col.name])]
                test = self._clean_test(src.table, col, types[col.name])
                if test is not None:
                    tests.append((col.name, test))
        if not conds and not tests:
            return
        flags = ", ".join(f"coalesce({c}, false) AS f{i}" for i, (_, c, _) in enumerate(conds))
        any_bad = " OR ".join(f"f{i}" for i in range(len(conds))) or "false"
        names = sorted({c for c, _, _ in conds}, key=lambda n: q(n))
        if tests:
            # (In one projection with the flags, which trim the same cells: DuckDB computes each trim once.)
            inner = ", ".join([*(f"{t} AS c{i}" for i, (_, t) in enumerate(tests)), *([flags] if flags else [])])
            every = ", ".join(f"coalesce(bool_and(c{i}), false)" for i in range(len(tests)))
            summary = self.con.execute(
                f"SELECT count_if({any_bad}), {every} FROM (SELECT {inner} FROM {raw})"
            ).fetchone()
            assert summary is not None
            self.clean[src.table] = {c for (c, _), ok in zip(tests, summary[1:], strict=True) if ok}
            if not summary[0]:
                return
        if not conds:
            return
        # Cells are shown as text, as written (a typed value: its text form).
        shown = ", ".join(f"CAST({q(c)} AS VARCHAR)" for c in names)
        hit_cols = ", ".join(f"f{i}" for i in range(len(conds)))
        rows = self.con.execute(
            f"SELECT {ROW}, {shown}, {hit_cols} FROM (SELECT {ROW}, {', '.join(q(c) for c in names)}, {flags} "
            f"FROM {raw}) WHERE {any_bad} ORDER BY {ROW} LIMIT {MAX_DEFECTS + 1}"
        ).fetchall()
        if src.table in self.typed_csv and any(
                hit and types[col_name] == "DOUBLE" for row in rows
                for (col_name, _, _), hit in zip(conds, row[1 + len(names):], strict=True)):
            # A bad number read as DOUBLE: read the file as text, so the message shows it as written.
            self._read_csv_text(src, self.typed_csv[src.table])
            self._describe(src.table)
            self.check_cells(src)
            return
        for row in rows:
            values = dict(zip(names, row[1 : 1 + len(names)], strict=True))
            hits = row[1 + len(names) :]
            seen: set[str] = set()
            for (col_name, _, msg), hit in zip(conds, hits, strict=True):
                if hit and col_name not in seen:
                    seen.add(col_name)
                    value = values[col_name]
                    self.bad_columns.add((src.table, col_name))
                    self.add(Defect(src.label, row[0], col_name, None if msg.startswith("is empty") else value, msg))

    # -- typing --------------------------------------------------------------
    def cast_expr(self, col: Column, types: dict[str, str], clean: frozenset[str] = frozenset()) -> str:
        """SQL for the typed value of ``col`` (``AS`` its name); ``clean`` columns are read as they are."""
        if col.name not in types:
            if col.name == "currency":
                return f"{lit(self.config.base_currency)} AS currency"
            default = "NULL" if col.default is None else (
                lit(col.default) if isinstance(col.default, str) else str(col.default))
            sqltype = {"string": "VARCHAR", "date": "DATE", "timestamp": "TIMESTAMP",
                       "double": "DOUBLE", "integer": "BIGINT"}[col.type]
            return f"CAST({default} AS {sqltype}) AS {q(col.name)}"
        sqltype = types[col.name]
        if col.name in clean:
            # Every cell is already trimmed, non-empty (or NULL) and in its case: the column as read.
            e = q(col.name)
            if col.name == "currency":
                e = f"coalesce({e}, {lit(self.config.base_currency)})"
            elif col.default is not None:
                e = f"coalesce({e}, {lit(col.default) if isinstance(col.default, str) else col.default})"
            return f"{e} AS {q(col.name)}"
        kind = self._kind(col, sqltype)
        raw = q(col.name) if sqltype == "VARCHAR" else f"CAST({q(col.name)} AS VARCHAR)"
        x = f"NULLIF({trim(raw)}, '')"
        if kind == "instant":
            value = (f"CASE WHEN {_instant_fast(q(col.name), sqltype)} THEN {_instant_value(q(col.name), sqltype)} "
                     f"ELSE {utc_instant(x)} END")
            e = f"CAST({value} AS DATE)" if col.type == "date" else value
        elif kind == "number":
            num = f"CAST({q(col.name)} AS DOUBLE)"
            e = (f"CASE WHEN isfinite({num}) THEN {num} END" if col.type == "double"
                 else f"CASE WHEN isfinite({num}) THEN TRY_CAST({num} AS BIGINT) END")
        elif col.type == "date":
            e = f"CAST({self._instant(x)} AS DATE)"
        elif col.type == "timestamp":
            e = self._instant(x)
        elif col.type == "double":
            e = f"CASE WHEN isfinite(TRY_CAST({x} AS DOUBLE)) THEN TRY_CAST({x} AS DOUBLE) END"
        elif col.type == "integer":
            e = f"CASE WHEN isfinite(TRY_CAST({x} AS DOUBLE)) THEN TRY_CAST(TRY_CAST({x} AS DOUBLE) AS BIGINT) END"
        elif col.lower_case:
            e = f"lower({x})"
        elif col.name == "currency":
            e = f"upper({x})"
        else:
            e = x
        if col.name == "currency":
            e = f"coalesce({e}, {lit(self.config.base_currency)})"
        elif col.default is not None:
            d = lit(col.default) if isinstance(col.default, str) else str(col.default)
            e = f"coalesce({e}, {d})"
        return f"{e} AS {q(col.name)}"

    def make_typed(self, table: str) -> None:
        """The view ``typed_<table>``: the contract's columns typed (bad cells NULL), then the extras as text."""
        spec = TABLES[table]
        types = self.types[table]
        clean = frozenset(self.clean.get(table, ()))
        exprs = [self.cast_expr(c, types, clean) for c in spec.columns]
        exprs += [q(e) if types[e] == "VARCHAR" else f"CAST({q(e)} AS VARCHAR) AS {q(e)}"
                  for e in self.extra_columns.get(table, [])]
        self.con.execute(
            f"CREATE OR REPLACE TEMP VIEW {q('typed_' + table)} AS SELECT {ROW}, {', '.join(exprs)} "
            f"FROM {q('raw_' + table)}"
        )


    # -- table-level checks --------------------------------------------------
    def check_keys(self, src: SourceFile) -> None:
        spec = TABLES[src.table]
        if not spec.primary_key:
            return
        typed = q("typed_" + src.table)
        key = ", ".join(q(k) for k in spec.primary_key)
        not_null = " AND ".join(f"{q(k)} IS NOT NULL" for k in spec.primary_key)
        # A grouped count finds whether any key repeats (a hash aggregate, cheap); only then
        # the window query below, which sorts the table, says where.
        if self.con.execute(f"SELECT 1 FROM {typed} WHERE {not_null} GROUP BY {key} HAVING count(*) > 1 "
                            "LIMIT 1").fetchone() is None:
            return
        rows = self.con.execute(
            f"SELECT {ROW}, {key}, first_row FROM (SELECT {ROW}, {key}, "
            f"min({ROW}) OVER (PARTITION BY {key}) AS first_row FROM {typed} WHERE {not_null}) "
            f"WHERE {ROW} <> first_row ORDER BY {ROW} LIMIT {MAX_DEFECTS + 1}"
        ).fetchall()
        for r in rows:
            value = "/".join(str(v) for v in r[1:-1])
            self.add(Defect(src.label, r[0], ",".join(spec.primary_key), value,
                            f"is a duplicate key (first seen on row {r[-1]}; expected unique)"))

    def check_order(self, src: SourceFile) -> None:
        typed, raw = q("typed_" + src.table), q("raw_" + src.table)
        present = {r[0] for r in self.con.execute(f"DESCRIBE {raw}").fetchall()}
        for start, end in TABLES[src.table].ordered:
            if start not in present or end not in present:
                continue
            # Compared as typed (UTC) values, shown as written in the file.
            rows = self.con.execute(
                f"SELECT t.{ROW}, {trim(f'CAST(r.{q(end)} AS VARCHAR)')}, {trim(f'CAST(r.{q(start)} AS VARCHAR)')} "
                f"FROM {typed} t JOIN {raw} r USING ({ROW}) "
                f"WHERE t.{q(end)} < t.{q(start)} ORDER BY t.{ROW} LIMIT {MAX_DEFECTS + 1}"
            ).fetchall()
            for r in rows:
                self.add(Defect(src.label, r[0], end, r[1], f"is before {start} {r[2]} (expected on or after it)"))

    def check_foreign_keys(self, src: SourceFile, known_tables: dict[str, str]) -> None:
        """``known_tables`` maps a parent table to the SQL relation holding its keys."""
        typed = q("typed_" + src.table)
        for fk in TABLES[src.table].foreign_keys:
            parent = known_tables.get(fk.table)
            if parent is None:
                continue
            rows = self.con.execute(
                f"SELECT c.{ROW}, c.{q(fk.column)} FROM {typed} c ANTI JOIN {parent} p "
                f"ON c.{q(fk.column)} = p.{q(fk.ref_column)} WHERE c.{q(fk.column)} IS NOT NULL "
                f"ORDER BY c.{ROW} LIMIT {MAX_DEFECTS + 1}"
            ).fetchall()
            for r in rows:
                self.add(Defect(src.label, r[0], fk.column, r[1], f"is not a known {fk.table}.{fk.ref_column}"))

    def check_scores(self, src: SourceFile) -> None:
        ranges = dict(SURVEY_RANGES)
        ranges["csat"] = (1, self.config.csat_scale_max)
        if "csat_scale_max" in self.unsettled:
            del ranges["csat"]  # the scale is itself a defect: its default would misjudge the scores
        cases = " ".join(f"WHEN {lit(s)} THEN score < {lo} OR score > {hi}" for s, (lo, hi) in ranges.items())
        rows = self.con.execute(
            f"SELECT {ROW}, survey, score FROM {q('typed_' + src.table)} "
            f"WHERE CASE survey {cases} END ORDER BY {ROW} LIMIT {MAX_DEFECTS + 1}"
        ).fetchall()
        for r in rows:
            lo, hi = ranges[r[1]]
            self.add(Defect(src.label, r[0], "score", f"{r[2]:g}",
                            f"is out of range for survey {r[1]} (expected {lo:g} to {hi:g})"))

    def check_currencies(self, src: SourceFile, date_col: str, fx_relation: str | None) -> None:
        typed = q("typed_" + src.table)
        base = lit(self.config.base_currency)
        if fx_relation is None:
            sql = (f"SELECT {ROW}, currency, CAST({q(date_col)} AS VARCHAR) FROM {typed} "
                   f"WHERE currency <> {base} AND {q(date_col)} IS NOT NULL ORDER BY {ROW} LIMIT {MAX_DEFECTS + 1}")
        else:
            sql = (f"SELECT {ROW}, currency, CAST({q(date_col)} AS VARCHAR) FROM {typed} t "
                   f"WHERE currency <> {base} AND t.{q(date_col)} IS NOT NULL "
                   f"AND NOT EXISTS (SELECT 1 FROM {fx_relation} f "
                   f"WHERE f.currency = t.currency AND f.date <= t.{q(date_col)}) "
                   f"ORDER BY {ROW} LIMIT {MAX_DEFECTS + 1}")
        for r in self.con.execute(sql).fetchall():
            self.add(Defect(src.label, r[0], "currency", r[1],
                            f"has no fx rate on or before {r[2]} (expected a row in fx_rates, "
                            f"or the base currency {self.config.base_currency})"))


def validate(
    con: duckdb.DuckDBPyConnection,
    files: dict[str, SourceFile],
    config: Config,
    existing: dict[str, str] | None = None,
    settings_defects: list[Defect] | None = None,
    exact: bool = False,
    clean: str = "all",
) -> dict[str, list[str]]:
    """Validate ``files`` and leave typed tables ``typed_<name>`` on ``con``.

    ``existing`` maps table names to relations already in a workspace, so
    children may refer to parents ingested earlier. ``settings_defects`` are
    those of csmetrics.toml (:meth:`Config.read`): they are reported with the
    data's, and the checks that depend on a bad setting stand down. Raises
    DataError listing every defect. Returns the extra (non-contract) columns
    per table. ``exact`` checks every cell as text (:class:`Validator`).
    ``clean`` says which text columns may be read as they are when no cell
    needs trimming: ``"all"`` (for a write, which reads every column) or
    ``"keys"`` (for a run that reads the views once).
    """
    v = Validator(con, config, exact, clean)
    for d in settings_defects or []:
        v.add(d)
    v.unsettled = unsettled(settings_defects or [])
    readable = {name: src for name, src in files.items() if v.read_raw(src)}
    # Cells are checked, then typed leniently (a bad cell becomes NULL) so that
    # the table-level checks below run too and report in the same pass; they
    # skip NULLs, which are either optional or already reported.
    for name, src in readable.items():
        v.check_cells(src)
        v.make_typed(name)
    # A parent given but unreadable, or with bad keys, would make child rows look orphaned.
    unreadable = (set(files) - set(readable)) | v.partial
    if v.bad_columns & {("accounts", "account_id")}:
        unreadable.add("accounts")
    if v.bad_columns & {("fx_rates", "currency"), ("fx_rates", "date"), ("fx_rates", "rate")}:
        unreadable.add("fx_rates")
    parents: dict[str, str] = {}
    for name in ("accounts",):
        rels = []
        if name in readable:
            rels.append(f"SELECT account_id FROM {q('typed_' + name)}")
        if existing and name in existing:
            rels.append(f"SELECT account_id FROM {existing[name]}")
        if rels and name not in unreadable:
            parents[name] = "(" + " UNION ALL ".join(rels) + ")"
    fx_rels = []
    if "fx_rates" in readable:
        fx_rels.append(f"SELECT currency, date FROM {q('typed_fx_rates')} WHERE date IS NOT NULL")
    if existing and "fx_rates" in existing:
        fx_rels.append(f"SELECT currency, date FROM {existing['fx_rates']}")
    fx = "(" + " UNION ALL ".join(fx_rels) + ")" if fx_rels else None
    for name, src in readable.items():
        v.check_keys(src)
        v.check_order(src)
        v.check_foreign_keys(src, parents)
        if name == "survey_responses":
            v.check_scores(src)
        if name in ("subscriptions", "charges") and "fx_rates" not in unreadable \
                and "base_currency" not in v.unsettled:
            v.check_currencies(src, "started_at" if name == "subscriptions" else "charged_at", fx)
    v.raise_if_any()
    return v.extra_columns
