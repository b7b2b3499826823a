"""Validation of raw input files against the table contracts.

Files are read as text (every cell a string) into DuckDB with their 1-based
row number (the header is row 1), checked with set-based SQL, and only then
cast into typed tables. Every defect found, up to ``MAX_DEFECTS``, is
reported together so a user fixes a file in one go.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from csmetrics.config import Config
from csmetrics.schema.errors import DataError, Defect
from csmetrics.schema.tables import SURVEY_RANGES, TABLE_ORDER, TABLES, Column, TableSpec

MAX_DEFECTS = 50
ROW = "__row"


def q(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    """Quote an SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


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
        elif paths:
            found[name] = SourceFile(name, paths[0])
    if "accounts" not in found:
        defects.append(Defect(str(data_dir / "accounts.csv"), None, None, None,
                              "is missing: accounts.csv or accounts.parquet is required"))
    if defects:
        raise DataError(defects)
    return found


class Validator:
    """Reads and validates the files of one data directory on a DuckDB connection.

    Raw text tables are named ``raw_<table>``; typed ones ``<table>``.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, config: Config) -> None:
        self.con = con
        self.config = config
        self.defects: list[Defect] = []
        self.extra_columns: dict[str, list[str]] = {}

    # -- defects -------------------------------------------------------------
    @property
    def full(self) -> bool:
        return len(self.defects) >= MAX_DEFECTS

    def add(self, defect: Defect) -> None:
        if not self.full:
            self.defects.append(defect)
        else:
            self.truncated = True

    truncated = False

    def raise_if_any(self) -> None:
        if self.defects:
            order = {t: i for i, t in enumerate(TABLE_ORDER)}
            self.defects.sort(key=lambda d: (order.get(d.file.rsplit(".", 1)[0], -1), d.file, d.row or 0))
            raise DataError(self.defects, self.truncated)

    # -- reading -------------------------------------------------------------
    def read_raw(self, src: SourceFile) -> bool:
        """Load a file as text cells plus row numbers. False if unreadable."""
        spec = TABLES[src.table]
        path = lit(str(src.path))
        try:
            if src.path.suffix == ".csv":
                self.con.execute(
                    f"CREATE OR REPLACE TEMP TABLE {q('raw_' + src.table)} AS "
                    f"SELECT (row_number() OVER () + 1)::BIGINT AS {ROW}, * FROM read_csv({path}, "
                    "header=true, all_varchar=true, delim=',', quote='\"', escape='\"', "
                    "sample_size=-1, encoding='utf-8')"
                )
            else:
                cols = self.con.execute(f"DESCRIBE SELECT * FROM read_parquet({path})").fetchall()
                casts = ", ".join(f"CAST({q(c[0])} AS VARCHAR) AS {q(c[0])}" for c in cols)
                self.con.execute(
                    f"CREATE OR REPLACE TEMP TABLE {q('raw_' + src.table)} AS "
                    f"SELECT (file_row_number + 2)::BIGINT AS {ROW}, {casts} "
                    f"FROM read_parquet({path}, file_row_number=true)"
                )
        except duckdb.Error as exc:
            msg = str(exc).splitlines()[0]
            self.add(Defect(src.label, None, None, None, f"could not be read: {msg}"))
            return False
        header = [r[0] for r in self.con.execute(f"DESCRIBE {q('raw_' + src.table)}").fetchall()][1:]
        ok = True
        for col in spec.required:
            if col not in header:
                self.add(Defect(src.label, 1, col, None,
                                "is missing: required column (header has " + ", ".join(header) + ")"))
                ok = False
        self.extra_columns[src.table] = [h for h in header if h not in spec.column_names]
        return ok

    # -- cell checks ---------------------------------------------------------
    def _cell_problem(self, col: Column, x: str) -> list[tuple[str, str]]:
        """(sql condition that is true when a non-empty cell is bad, expectation) pairs."""
        checks: list[tuple[str, str]] = []
        t = f"trim({x})"
        if col.type in ("date", "timestamp"):
            checks.append((f"TRY_CAST({t} AS TIMESTAMPTZ) IS NULL", "is not " + col.expected))
        elif col.type in ("double", "integer"):
            num = f"TRY_CAST({t} AS DOUBLE)"
            checks.append((f"{num} IS NULL OR NOT isfinite({num})", "is not " + col.expected))
            if col.type == "integer":
                checks.append((f"{num} <> floor({num})", "is not " + col.expected))
            if col.min is not None:
                op = "<=" if col.min_exclusive else "<"
                checks.append((f"{num} {op} {col.min}", "is out of range (expected " + col.expected + ")"))
            if col.max is not None:
                checks.append((f"{num} > {col.max}", "is out of range (expected " + col.expected + ")"))
        if col.choices:
            choices = ", ".join(lit(c) for c in col.choices)
            checks.append((f"lower({t}) NOT IN ({choices})", "is not " + col.expected))
        return checks

    def check_cells(self, src: SourceFile) -> None:
        spec = TABLES[src.table]
        raw = q("raw_" + src.table)
        present = {r[0] for r in self.con.execute(f"DESCRIBE {raw}").fetchall()}
        conds: list[tuple[str, str, str]] = []  # column, condition, message
        for col in spec.columns:
            if col.name not in present:
                continue
            x = q(col.name)
            empty = f"({x} IS NULL OR trim({x}) = '')"
            if col.required:
                conds.append((col.name, empty, "is empty (expected " + col.expected + ")"))
            for cond, msg in self._cell_problem(col, x):
                conds.append((col.name, f"(NOT {empty} AND ({cond}))", msg))
        if not conds:
            return
        flags = ", ".join(f"coalesce({c}, false) AS f{i}" for i, (_, c, _) in enumerate(conds))
        any_bad = " OR ".join(f"f{i}" for i in range(len(conds)))
        cols = ", ".join(sorted({q(c) for c, _, _ in conds}))
        rows = self.con.execute(
            f"SELECT {ROW}, {cols}, * EXCLUDE ({ROW}, {cols}) FROM (SELECT {ROW}, {cols}, {flags} FROM {raw}) "
            f"WHERE {any_bad} ORDER BY {ROW} LIMIT {MAX_DEFECTS}"
        ).fetchall()
        names = sorted({c for c, _, _ in conds}, key=lambda n: q(n))
        for row in rows:
            values = dict(zip(names, row[1 : 1 + len(names)], strict=True))
            hits = row[1 + len(names) :]
            seen: set[str] = set()
            for (col_name, _, msg), hit in zip(conds, hits, strict=True):
                if hit and col_name not in seen:
                    seen.add(col_name)
                    value = values[col_name]
                    self.add(Defect(src.label, row[0], col_name, value if value is not None else "", msg))

    # -- typing --------------------------------------------------------------
    def cast_expr(self, col: Column, present: set[str]) -> str:
        if col.name not in present:
            if col.name == "currency":
                return f"{lit(self.config.base_currency)} AS currency"
            default = "NULL" if col.default is None else (
                lit(col.default) if isinstance(col.default, str) else str(col.default))
            sqltype = {"string": "VARCHAR", "date": "DATE", "timestamp": "TIMESTAMP",
                       "double": "DOUBLE", "integer": "BIGINT"}[col.type]
            return f"CAST({default} AS {sqltype}) AS {q(col.name)}"
        x = f"NULLIF(trim({q(col.name)}), '')"
        if col.type == "date":
            e = f"CAST(CAST({x} AS TIMESTAMPTZ) AS DATE)"
        elif col.type == "timestamp":
            e = f"CAST(timezone('UTC', CAST({x} AS TIMESTAMPTZ)) AS TIMESTAMP)"
        elif col.type == "double":
            e = f"CAST({x} AS DOUBLE)"
        elif col.type == "integer":
            e = f"CAST(CAST({x} AS DOUBLE) AS BIGINT)"
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
        spec = TABLES[table]
        raw = q("raw_" + table)
        present = {r[0] for r in self.con.execute(f"DESCRIBE {raw}").fetchall()}
        exprs = [self.cast_expr(c, present) for c in spec.columns]
        exprs += [q(e) for e in self.extra_columns.get(table, [])]
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE {q('typed_' + table)} AS SELECT {ROW}, {', '.join(exprs)} FROM {raw}"
        )

    # -- table-level checks --------------------------------------------------
    def check_keys(self, src: SourceFile) -> None:
        spec = TABLES[src.table]
        if not spec.primary_key:
            return
        typed = q("typed_" + src.table)
        key = ", ".join(q(k) for k in spec.primary_key)
        rows = self.con.execute(
            f"SELECT {ROW}, {key}, first_row FROM (SELECT {ROW}, {key}, "
            f"min({ROW}) OVER (PARTITION BY {key}) AS first_row FROM {typed}) "
            f"WHERE {ROW} <> first_row ORDER BY {ROW} LIMIT {MAX_DEFECTS}"
        ).fetchall()
        for r in rows:
            value = "/".join(str(v) for v in r[1:-1])
            self.add(Defect(src.label, r[0], ",".join(spec.primary_key), value,
                            f"is a duplicate key (first seen on row {r[-1]}; expected unique)"))

    def check_order(self, src: SourceFile) -> None:
        typed = q("typed_" + src.table)
        for start, end in TABLES[src.table].ordered:
            rows = self.con.execute(
                f"SELECT {ROW}, CAST({q(end)} AS VARCHAR), CAST({q(start)} AS VARCHAR) FROM {typed} "
                f"WHERE {q(end)} < {q(start)} ORDER BY {ROW} LIMIT {MAX_DEFECTS}"
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
                f"ON c.{q(fk.column)} = p.{q(fk.ref_column)} ORDER BY c.{ROW} LIMIT {MAX_DEFECTS}"
            ).fetchall()
            for r in rows:
                self.add(Defect(src.label, r[0], fk.column, r[1], f"is not a known {fk.table}.{fk.ref_column}"))

    def check_scores(self, src: SourceFile) -> None:
        ranges = dict(SURVEY_RANGES)
        ranges["csat"] = (1, self.config.csat_scale_max)
        cases = " ".join(f"WHEN {lit(s)} THEN score < {lo} OR score > {hi}" for s, (lo, hi) in ranges.items())
        rows = self.con.execute(
            f"SELECT {ROW}, survey, score FROM {q('typed_' + src.table)} "
            f"WHERE CASE survey {cases} END ORDER BY {ROW} LIMIT {MAX_DEFECTS}"
        ).fetchall()
        for r in rows:
            lo, hi = ranges[r[1]]
            self.add(Defect(src.label, r[0], "score", f"{r[2]:g}",
                            f"is out of range for a {r[1]} survey (expected {lo:g} to {hi:g})"))

    def check_currencies(self, src: SourceFile, date_col: str, fx_relation: str | None) -> None:
        typed = q("typed_" + src.table)
        base = lit(self.config.base_currency)
        if fx_relation is None:
            sql = (f"SELECT {ROW}, currency, CAST({q(date_col)} AS VARCHAR) FROM {typed} "
                   f"WHERE currency <> {base} ORDER BY {ROW} LIMIT {MAX_DEFECTS}")
        else:
            sql = (f"SELECT {ROW}, currency, CAST({q(date_col)} AS VARCHAR) FROM {typed} t "
                   f"WHERE currency <> {base} AND NOT EXISTS (SELECT 1 FROM {fx_relation} f "
                   f"WHERE f.currency = t.currency AND f.date <= t.{q(date_col)}) "
                   f"ORDER BY {ROW} LIMIT {MAX_DEFECTS}")
        for r in self.con.execute(sql).fetchall():
            self.add(Defect(src.label, r[0], "currency", r[1],
                            f"has no fx rate on or before {r[2]} (expected a row in fx_rates, "
                            f"or the base currency {self.config.base_currency})"))


def validate(
    con: duckdb.DuckDBPyConnection,
    files: dict[str, SourceFile],
    config: Config,
    existing: dict[str, str] | None = None,
) -> dict[str, list[str]]:
    """Validate ``files`` and leave typed tables ``typed_<name>`` on ``con``.

    ``existing`` maps table names to relations already in a workspace, so
    children may refer to parents ingested earlier. Raises DataError listing
    every defect. Returns the extra (non-contract) columns per table.
    """
    v = Validator(con, config)
    readable = {name: src for name, src in files.items() if v.read_raw(src)}
    for src in readable.values():
        v.check_cells(src)
    v.raise_if_any()
    for name in readable:
        v.make_typed(name)
    parents: dict[str, str] = {}
    for name in ("accounts",):
        rels = []
        if name in readable:
            rels.append(f"SELECT account_id FROM {q('typed_' + name)}")
        if existing and name in existing:
            rels.append(f"SELECT account_id FROM {existing[name]}")
        if rels:
            parents[name] = "(" + " UNION ALL ".join(rels) + ")"
    fx_rels = []
    if "fx_rates" in readable:
        fx_rels.append(f"SELECT currency, date FROM {q('typed_fx_rates')}")
    if existing and "fx_rates" in existing:
        fx_rels.append(f"SELECT currency, date FROM {existing['fx_rates']}")
    fx = "(" + " UNION ALL ".join(fx_rels) + ")" if fx_rels else None
    for name, src in readable.items():
        v.check_keys(src)
        v.check_order(src)
        v.check_foreign_keys(src, parents)
        if name == "survey_responses":
            v.check_scores(src)
        if name == "subscriptions":
            v.check_currencies(src, "started_at", fx)
        if name == "charges":
            v.check_currencies(src, "charged_at", fx)
    v.raise_if_any()
    return v.extra_columns


def spec_of(name: str) -> TableSpec:
    return TABLES[name]
