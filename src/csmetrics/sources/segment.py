"""``csmetrics import segment PATH``: product usage from Segment-spec ``track`` events (docs/usage-and-surveys.md).

Reads JSON lines in the Segment spec (one message per line: Segment's S3 and
warehouse exports, RudderStack's and PostHog's batch exports of the same
shape), plain or gzipped (``.json``, ``.jsonl``, ``.ndjson``, each optionally
``.gz``); a directory is read recursively, in path order. The files go
straight from DuckDB's ``read_json`` into a temp table and are mapped with SQL
(no per-object Python staging), so millions of events import in a minute or
two. Imports are **additive**: events are immutable, so importing file A then
file B keeps both, and re-importing A changes nothing (not a byte).

Rules, each with its worked example (tests/sources/segment/ test every one):

**U1 one usage event per track message.** A line whose ``type`` is ``track``
becomes one row of usage_events: ``feature`` = ``event``, ``occurred_at`` =
``timestamp`` in UTC (``2025-01-15T11:00:00+01:00`` -> 2025-01-15 10:00:00),
``user_id`` = ``userId``, or ``anonymousId`` when ``userId`` is absent (a
visitor not yet identified still uses the feature), ``source`` = ``segment``
and ``segment_message_id`` = ``messageId``.

**U2 the account.** ``account_id`` = the value at the configured path of the
message, ``[sources.segment] account = "context.groupId"`` by default (the
group the user acted for, as Segment's ``group`` call sets it); e.g.
``"properties.account_id"`` or ``"context.traits.company_id"``. Numbers are
read as their text (``{"account_id": 5}`` -> ``5``); empty text counts as
absent.

**U3 other message types are skipped and counted.** ``identify``, ``page``,
``screen``, ``group``, ``alias``... are not product usage: they are left out
and counted (``count:skipped_non_track`` in ``csmetrics sources``, and per
type in the summary: ``skipped 3 non-track message(s) (identify 1, page 2)``).

**U4 a track message with no account** (nothing at the configured path) is
left out and counted (``count:without_account``), named in the summary. It
has no account to count against; set ``account`` to where your events carry it.

**U5 an account no other source knows is kept.** SPEC section 8: records that
match no account are kept and counted. Such an account is created with
``source = 'segment'`` and no name, so ``csmetrics sources`` lists it as
unmatched (with examples) and ``--by csm`` puts its usage in ``(none)``. When
the CRM later lands the same id, its name and CSM take over.

**U6 de-duplicated by messageId, additive.** The events stored from earlier
imports and the new ones are united and de-duplicated by ``messageId`` (the
first stored wins): Segment retries deliver a message more than once, and
re-importing a file adds nothing. A message without a ``messageId`` gets the
MD5 of its type, event, userId, anonymousId, timestamp and account, so the
same line is still recognised. The ids of skipped messages (U3, U4) are kept
too (``_segment_objects``), so counts do not grow when a file is re-imported.

**U7 bad lines stop the import.** A line that is not a JSON object, a
message with no ``type``, or a track message with no ``event`` or with a
``timestamp`` that is not ISO 8601 is a defect naming the file, the line and
the field (``events.jsonl line 7, field timestamp: 'yesterday' is not an ISO
8601 timestamp``); exit code 2, nothing written.
"""

from __future__ import annotations

import gzip
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from csmetrics.config import Config
from csmetrics.io.validate import lit, q
from csmetrics.schema.errors import DataError, Defect
from csmetrics.sources import FunctionConnector
from csmetrics.sources.settings import DEFAULT_MAX_AGE_DAYS, read_section
from csmetrics.sources.workspace import RAW_COLUMNS, Landing, Result, count_rows, finish, open_landing

SOURCE = "segment"
DEFAULT_ACCOUNT = "context.groupId"
SETTINGS: dict[str, type | tuple[type, ...]] = {"account": str}
"""Keys of ``[sources.segment]`` in csmetrics.toml, and their types."""

SUFFIXES = (".json", ".jsonl", ".ndjson")
"""File names read from a directory (each also with ``.gz``)."""

FIXED = {"type": "VARCHAR", "messageId": "VARCHAR", "event": "VARCHAR", "userId": "VARCHAR",
         "anonymousId": "VARCHAR", "timestamp": "VARCHAR"}
"""Top-level fields of a Segment message read as text (the account path adds its own)."""

_PATH = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$-]*(\.[A-Za-z0-9_$ -]+)*$")
MAX_DEFECTS = 20

Progress = Callable[[str, int, bool], None]


@dataclass(frozen=True)
class SegmentSettings:
    """``[sources.segment]`` of csmetrics.toml (all optional)."""

    account: str = DEFAULT_ACCOUNT
    """Dotted path of the account id in a message (rule U2)."""
    base: Config = field(default_factory=Config)
    max_age_days: float = DEFAULT_MAX_AGE_DAYS

    @classmethod
    def load(cls, path: Path | None) -> SegmentSettings:
        """Read ``[sources.segment]`` of ``path`` (default ./csmetrics.toml when it exists)."""
        section = read_section(path, SOURCE, SETTINGS)
        account = section.values.get("account", DEFAULT_ACCOUNT)
        parts = account.split(".")
        if not _PATH.match(account) or (len(parts) > 1 and parts[0] in FIXED):
            raise DataError([section.defect(SOURCE, "account", account,
                                            "is not a dotted path into a message (e.g. context.groupId, "
                                            "properties.account_id)")])
        return cls(account=account, base=section.base, max_age_days=section.max_age_days)

    @property
    def top(self) -> str:
        return self.account.split(".")[0]

    def columns(self) -> dict[str, str]:
        """The ``columns`` of ``read_json``: the fixed fields plus the account path's top field."""
        cols = dict(FIXED)
        if self.top not in cols:
            cols[self.top] = "JSON" if "." in self.account else "VARCHAR"
        return cols

    def account_sql(self) -> str:
        """SQL of the account id (rule U2) over a row read with :meth:`columns`."""
        parts = self.account.split(".")
        if len(parts) == 1:
            return f"NULLIF(trim({q(self.top)}), '')"
        path = "$." + ".".join('"' + p.replace('"', '\\"') + '"' for p in parts[1:])
        return f"NULLIF(trim(json_extract_string({q(self.top)}, {lit(path)})), '')"


def files_of(path: Path) -> list[Path]:
    """The files ``import`` reads: ``path`` itself, or the JSON-lines files under a directory."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DataError([Defect(str(path), None, None, None, "does not exist (expected a file or a directory)")])
    found = sorted(p for p in path.rglob("*") if p.is_file() and p.name.removesuffix(".gz").endswith(SUFFIXES))
    if not found:
        raise DataError([Defect(str(path), None, None, None,
                                "holds no .json, .jsonl or .ndjson file (gzipped or not)")])
    return found


def _read(con: duckdb.DuckDBPyConnection, files: list[Path], settings: SegmentSettings,
          progress: Progress | None) -> None:
    """Temp table ``seg_in``: one row per message of ``files`` (file index, fields of rules U1, U2)."""
    cols = settings.columns()
    spec = "{" + ", ".join(f"{lit(k)}: {lit(v)}" for k, v in cols.items()) + "}"
    con.execute("""CREATE OR REPLACE TEMP TABLE seg_in (file INTEGER, type VARCHAR, message_id VARCHAR,
                   event VARCHAR, user_id VARCHAR, ts_text VARCHAR, occurred_at TIMESTAMP, account_id VARCHAR)""")
    n = 0
    for i, path in enumerate(files):
        try:
            con.execute(f"""
                INSERT INTO seg_in
                SELECT {i}, type, messageId, event, coalesce(NULLIF(userId, ''), NULLIF(anonymousId, '')),
                       timestamp, CAST(TRY_CAST(timestamp AS TIMESTAMPTZ) AS TIMESTAMP), {settings.account_sql()}
                FROM read_json({lit(str(path))}, format = 'newline_delimited', compression = 'auto_detect',
                               columns = {spec})
            """)
        except duckdb.Error as exc:
            defects = locate(path, settings)
            if not defects:
                msg = str(exc).splitlines()[0]
                defects = [Defect(str(path), None, None, None, f"could not be read as JSON lines: {msg}")]
            raise DataError(defects[:MAX_DEFECTS], len(defects) > MAX_DEFECTS) from None
        row = con.execute("SELECT count(*) FROM seg_in").fetchone()
        n = int(row[0]) if row else 0
        if progress:
            progress("events", n, i == len(files) - 1)
    bad = con.execute("""
        SELECT DISTINCT file FROM seg_in
        WHERE type IS NULL OR (type = 'track' AND (NULLIF(trim(event), '') IS NULL OR occurred_at IS NULL))
        ORDER BY file LIMIT 5
    """).fetchall()
    if bad:
        defects = [d for (i,) in bad for d in locate(files[i], settings)]
        raise DataError(defects[:MAX_DEFECTS] or [Defect(str(files[bad[0][0]]), None, None, None,
                                                         "has a message with no type, event or timestamp")],
                        len(defects) > MAX_DEFECTS)


def _open(path: Path) -> Any:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def _ts_ok(value: Any, con: duckdb.DuckDBPyConnection) -> bool:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return False
    row = con.execute("SELECT TRY_CAST(? AS TIMESTAMPTZ) IS NOT NULL", [str(value)]).fetchone()
    return bool(row and row[0])


def locate(path: Path, settings: SegmentSettings) -> list[Defect]:
    """The defects of one file, by line and field (rule U7): the slow path, run only when a read failed."""
    out: list[Defect] = []
    name = str(path)
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        with _open(path) as fh:
            for number, line in enumerate(fh, start=1):
                if len(out) > MAX_DEFECTS:
                    break
                if not line.strip():
                    continue
                try:
                    doc = json.loads(line)
                except json.JSONDecodeError as exc:
                    out.append(Defect(name, number, None, None, f"is not valid JSON ({exc.msg})", row_kind="line"))
                    continue
                if not isinstance(doc, dict):
                    out.append(Defect(name, number, None, None, "is not a JSON object (expected one message)",
                                      row_kind="line"))
                    continue
                kind = doc.get("type")
                if not isinstance(kind, str) or not kind:
                    out.append(Defect(name, number, "type", None if kind is None else str(kind),
                                      "is missing or not a text (expected track, identify, page...)",
                                      "field", "line"))
                    continue
                if kind != "track":
                    continue
                event = doc.get("event")
                if not isinstance(event, str) or not event.strip():
                    out.append(Defect(name, number, "event", None if event is None else str(event),
                                      "is missing or empty (expected the feature's name)", "field", "line"))
                if not _ts_ok(doc.get("timestamp"), con):
                    ts = doc.get("timestamp")
                    out.append(Defect(name, number, "timestamp", None if ts is None else str(ts),
                                      "is not an ISO 8601 timestamp (expected e.g. 2025-01-15T10:00:00.000Z)",
                                      "field", "line"))
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        out.append(Defect(name, None, None, None, f"could not be read: {exc}"))
    finally:
        con.close()
    return out


def _message_id() -> str:
    """Rule U6: ``messageId``, else the MD5 of the fields that make the message."""
    return ("coalesce(NULLIF(message_id, ''), md5(concat_ws('|', type, event, user_id, ts_text, "
            "account_id)))")


def _map(land: Landing, has_stored: bool) -> dict[str, int]:
    """Temp tables of the new rows: ``seg_new`` (events), ``seg_skip`` (raw rows of skipped messages)."""
    con = land.con
    stored_events = ("SELECT segment_message_id AS mid FROM ws.usage_events WHERE source = 'segment'"
                     if has_stored else "SELECT NULL::VARCHAR AS mid WHERE FALSE")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE seg_msgs AS
        SELECT *, {_message_id()} AS mid,
               CASE WHEN type <> 'track' THEN 'non_track' WHEN account_id IS NULL THEN 'without_account' END AS skip
        FROM seg_in
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE seg_seen AS
        {stored_events} UNION SELECT id FROM stored
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE seg_first AS
        SELECT * EXCLUDE (rk) FROM (
            SELECT *, row_number() OVER (PARTITION BY mid ORDER BY file, occurred_at) AS rk FROM seg_msgs)
        WHERE rk = 1 AND mid NOT IN (SELECT mid FROM seg_seen WHERE mid IS NOT NULL)
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE seg_new AS
        SELECT account_id, occurred_at, event AS feature, user_id, 'segment' AS source, mid AS segment_message_id
        FROM seg_first WHERE skip IS NULL
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE seg_skip AS
        SELECT skip AS type, mid AS id, '' AS parent, CAST(coalesce(epoch(occurred_at), 0) AS BIGINT) AS created,
               CASE skip WHEN 'non_track' THEN type ELSE event END AS body
        FROM seg_first WHERE skip IS NOT NULL
    """)
    return {"events": count_rows(land, "seg_new"), "skipped": count_rows(land, "seg_skip")}


def _stored_has_events(land: Landing) -> bool:
    if "usage_events" not in land.tables:
        return False
    have = {r[0] for r in land.con.execute("DESCRIBE ws.usage_events").fetchall()}
    return {"source", "segment_message_id"} <= have


def _notes(land: Landing) -> list[str]:
    notes = []
    by_type = land.con.execute("SELECT body, count(*) FROM seg_skip WHERE type = 'non_track' "
                               "GROUP BY body ORDER BY body").fetchall()
    if by_type:
        total = sum(int(n) for _, n in by_type)
        notes.append(f"skipped {total:,} non-track message(s) ("
                     + ", ".join(f"{t} {int(n):,}" for t, n in by_type) + ")")
    n = count_rows(land, "seg_skip", "type = 'without_account'")
    if n:
        notes.append(f"{n:,} track event(s) with no account left out (counted as without_account "
                     "in `csmetrics sources`)")
    return notes


def import_path(path: str | Path, workspace: str | Path, settings: SegmentSettings | None = None,
                progress: Progress | None = None) -> Result:
    """Read Segment JSON lines at ``path`` (a file or a directory) and add their events to ``workspace``.

    Additive and idempotent (rule U6); all-or-nothing (rule U7).
    """
    settings = settings or SegmentSettings()
    t0 = time.perf_counter()
    files = files_of(Path(path))
    land = open_landing(Path(workspace), SOURCE, settings.base)
    try:
        _read(land.con, files, settings, progress)
        has_stored = _stored_has_events(land)
        new = _map(land, has_stored)
        stored_objects = count_rows(land, "stored")
        row = land.con.execute("SELECT count(*) FROM ws.usage_events WHERE source = 'segment'").fetchone() \
            if has_stored else None
        stored_events = int(row[0]) if row else 0
        if new["events"] == 0 and new["skipped"] == 0:
            result = Result(False, stored_events + stored_objects, 0,
                            {t.removeprefix("rows:"): int(v) for t, v in land.state.items()
                             if t.startswith("rows:")},
                            int(land.state.get("matched", 0)), int(land.state.get("unmatched", 0)))
            result.seconds = time.perf_counter() - t0
            return result
        con = land.con
        old = ("SELECT account_id, occurred_at, feature, user_id, source, segment_message_id "
               "FROM ws.usage_events WHERE source = 'segment'" if has_stored else "SELECT * FROM seg_new WHERE FALSE")
        con.execute(f"CREATE OR REPLACE TEMP TABLE segment_usage AS {old} UNION ALL SELECT * FROM seg_new")
        con.execute("CREATE OR REPLACE TEMP TABLE segment_accounts AS "
                    "SELECT DISTINCT account_id, 'segment' AS source FROM segment_usage ORDER BY account_id")
        con.execute(f"CREATE OR REPLACE TEMP TABLE raw_all ({RAW_COLUMNS})")
        con.execute("INSERT INTO raw_all SELECT * FROM stored UNION ALL SELECT * FROM seg_skip")
        counts = dict(con.execute("SELECT type, count(*) FROM raw_all GROUP BY type").fetchall())
        newest = con.execute("SELECT epoch(max(occurred_at)) FROM segment_usage").fetchone()
        state = {"count:skipped_non_track": str(counts.get("non_track", 0)),
                 "count:without_account": str(counts.get("without_account", 0)),
                 "newest_object": str(int(newest[0]) if newest and newest[0] is not None else 0)}
        mapped = {"accounts": "segment_accounts", "usage_events": "segment_usage"}
        n_events = count_rows(land, "segment_usage")
        result = finish(land, mapped, objects=n_events + count_rows(land, "raw_all"),
                        raw_changed=new["events"] + new["skipped"], state=state)
        result.notes.extend(_notes(land))
        created = result.unmatched
        if created:
            result.notes.append(f"{created:,} account(s) known to no other source are kept as segment accounts "
                                "(unmatched in `csmetrics sources`; `(none)` when grouped by csm)")
        result.seconds = time.perf_counter() - t0
        return result
    finally:
        land.close()


def import_to_data_dir(path: str | Path, out: str | Path, settings: SegmentSettings | None = None) -> dict[str, int]:
    """Map Segment JSON lines to ``usage_events.csv`` and ``accounts.csv`` in ``out`` (for ``csmetrics ingest``)."""
    settings = settings or SegmentSettings()
    files = files_of(Path(path))
    out = Path(out)
    land = open_landing(out / ".no-workspace.duckdb", SOURCE, settings.base)
    try:
        _read(land.con, files, settings, None)
        _map(land, False)
        land.con.execute("CREATE OR REPLACE TEMP TABLE segment_accounts AS "
                         "SELECT DISTINCT account_id, 'segment' AS source FROM seg_new ORDER BY account_id")
        out.mkdir(parents=True, exist_ok=True)
        counts = {}
        for table, temp, order in (("accounts", "segment_accounts", "account_id"),
                                   ("usage_events", "seg_new", "occurred_at, segment_message_id")):
            land.con.execute(f"COPY (SELECT * FROM {temp} ORDER BY {order}) TO {lit(str(out / (table + '.csv')))} "
                             "(HEADER, DELIMITER ',')")
            counts[table] = count_rows(land, temp)
        return counts
    finally:
        land.close()


CONNECTOR = FunctionConnector(
    SOURCE, "Segment-spec track events (JSON lines, S3/warehouse exports): product usage", False,
    SegmentSettings.load, import_path, lambda p, out, s: import_to_data_dir(p, out, s))
"""``csmetrics import segment`` (docs/usage-and-surveys.md); there is no API to sync from."""

__all__ = ["CONNECTOR", "SegmentSettings", "files_of", "import_path", "import_to_data_dir", "locate"]
