"""Survey tools' CSV exports -> survey_responses, declared as one small table per tool (docs/usage-and-surveys.md).

A :class:`CsvFormat` names, for each field the mapping needs, the headers a
tool's export may give it (the first one present is read). Adding another
tool (Typeform, SurveyMonkey, Qualtrics NPS exports) is a few lines: a
``CsvFormat`` and a connector module holding ``CONNECTOR =
SurveyCsvConnector(FORMAT)`` (docs/usage-and-surveys.md#another-survey-tool).

Rules, each with its worked example (tests/sources/delighted/ test every one):

**S1 one answer per row.** ``response_id`` = ``<tool>:<the tool's id>``
(``delighted:1001``: survey_responses' key is shared with the help desk's
CSAT ratings, whose ids are numbers too); the tool's own id is kept in
``<tool>_response_id``. ``survey`` = the format's survey (``nps`` for
Delighted), ``score`` = the score (0-10 for NPS), ``responded_at`` = the
creation time in UTC (``2025-01-15 09:30:00 -0800`` -> 2025-01-15 17:30:00;
ISO 8601 and Unix seconds are read too), ``respondent`` = the e-mail,
``comment`` = the comment (empty -> null).

**S2 the account from a property column.** With ``[sources.delighted]
account_property = "Company ID"``, ``account_id`` is that column's value
(``Company ID`` = ``18200000001`` -> account 18200000001, HubSpot's company id).

**S3 else from the e-mail domain.** Without it, the respondent's e-mail
domain (lower case, a leading ``www.`` dropped: ``Ana@Acme.COM`` ->
``acme.com``) is looked up in the workspace's accounts column
``domain_column`` (default ``domain``, the column HubSpot's connector fills;
``https://www.acme.com/`` is read as ``acme.com``). One account with that
domain: that account; none (or several), the answer is unmatched (S4).

**S4 unmatched answers are kept and counted.** An answer whose property
value or domain names no account of another source keeps that value (or the
domain) as its ``account_id``, and the account is created with ``source =
<tool>`` and no name: ``csmetrics sources`` lists it as unmatched, ``--by
csm`` shows it in ``(none)``. An answer with neither a property value nor an
e-mail goes to the account ``<tool>:unknown`` and is counted
(``count:without_account``). The mapping is recomputed from every stored
answer at each import, so an answer unmatched before the CRM was synced
joins its account at the next import.

**S5 additive, by id.** Rows are landed as raw objects by the tool's id:
importing export A then export B keeps both; a row of B with an id of A
replaces it (an edited comment); re-importing A writes nothing.

**S6 bad rows stop the import.** A missing id, score or creation column in
the header, or a row with an empty id, a score that is not a number in the
survey's range or a time that is not readable, is a defect naming the file,
the row (header = row 1) and the column; exit code 2, nothing written.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from csmetrics.config import Config
from csmetrics.io.validate import lit, q
from csmetrics.schema.errors import DataError, Defect
from csmetrics.schema.tables import SURVEYS
from csmetrics.sources.settings import DEFAULT_MAX_AGE_DAYS, read_section
from csmetrics.sources.workspace import (
    Landing,
    RawObject,
    Result,
    count_rows,
    land_objects,
    objects_to_data_dir,
    open_landing,
)

SCORE_RANGES = {"nps": (0.0, 10.0), "ces": (1.0, 7.0), "csat": (1.0, 10.0)}
MAX_DEFECTS = 50
FIELDS = ("response_id", "score", "responded_at", "comment", "respondent")
REQUIRED = ("response_id", "score", "responded_at")


@dataclass(frozen=True)
class CsvFormat:
    """One survey tool's CSV export: for each field, the headers that may hold it (first present wins)."""

    source: str
    """The source name (``csmetrics import <source> FILE``; ``source`` column; response id prefix)."""
    title: str
    survey: str
    """nps, csat or ces."""
    response_id: tuple[str, ...]
    score: tuple[str, ...]
    responded_at: tuple[str, ...]
    comment: tuple[str, ...] = ()
    respondent: tuple[str, ...] = ()
    """The respondent's e-mail (also the domain of rule S3)."""

    def headers(self, name: str) -> tuple[str, ...]:
        value: tuple[str, ...] = getattr(self, name)
        return value


DELIGHTED = CsvFormat(
    source="delighted", title="Delighted NPS export (CSV): survey responses", survey="nps",
    response_id=("Response ID", "ID", "id"),
    score=("Score", "score"),
    responded_at=("Created At", "Created", "Response Timestamp", "Date", "created_at"),
    comment=("Comment", "comment"),
    respondent=("Email", "Person Email", "E-mail", "email"),
)
"""Delighted's "Download CSV" of responses: one row per response, person properties as their own columns."""

SETTINGS: dict[str, type | tuple[type, ...]] = {"account_property": str, "domain_column": str, "columns": dict}
"""Keys of ``[sources.<tool>]``: ``columns`` overrides headers (``columns = {score = "NPS"}``)."""


@dataclass(frozen=True)
class SurveyCsvSettings:
    """``[sources.<tool>]`` of csmetrics.toml (all optional)."""

    account_property: str | None = None
    domain_column: str = "domain"
    columns: dict[str, str] = field(default_factory=dict)
    base: Config = field(default_factory=Config)
    max_age_days: float = DEFAULT_MAX_AGE_DAYS

    @classmethod
    def load(cls, path: Path | None, source: str) -> SurveyCsvSettings:
        section = read_section(path, source, SETTINGS)
        columns = section.values.get("columns", {})
        defects = [section.defect(source, "columns", k, f"is not a field (known: {', '.join(FIELDS)})")
                   for k in columns if k not in FIELDS]
        defects += [section.defect(source, "columns", v, "is not a header name (expected a text)")
                    for v in columns.values() if not isinstance(v, str) or not v.strip()]
        dom = section.values.get("domain_column", "domain")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", dom):
            defects.append(section.defect(source, "domain_column", dom, "is not a column name"))
        if defects:
            raise DataError(defects)
        return cls(account_property=section.values.get("account_property"), domain_column=dom,
                   columns=dict(columns), base=section.base, max_age_days=section.max_age_days)


def parse_time(text: str) -> dt.datetime | None:
    """Rule S1's times, as naive UTC: ISO 8601, ``YYYY-MM-DD HH:MM:SS -0800`` or Unix seconds."""
    s = text.strip()
    if not s:
        return None
    if re.fullmatch(r"\d{9,11}", s):
        return dt.datetime.fromtimestamp(int(s), dt.UTC).replace(tzinfo=None)
    for candidate in (s.replace("Z", "+00:00"), re.sub(r" ([+-]\d{2}):?(\d{2})$", r"\1:\2", s),
                      re.sub(r" UTC$", "+00:00", s)):
        try:
            t = dt.datetime.fromisoformat(candidate)
        except ValueError:
            continue
        if t.tzinfo is not None:
            t = t.astimezone(dt.UTC).replace(tzinfo=None)
        return t
    return None


def read_rows(path: Path, fmt: CsvFormat, settings: SurveyCsvSettings) -> list[RawObject]:
    """The rows of ``path`` as raw objects (type ``responses``); DataError naming file, row and column."""
    name = path.name
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            header = list(reader.fieldnames or [])
            records = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError([Defect(str(path), None, None, None, f"could not be read as CSV: {exc}")]) from None
    cols: dict[str, str | None] = {}
    defects: list[Defect] = []
    for f in FIELDS:
        wanted = (settings.columns[f],) if f in settings.columns else fmt.headers(f)
        cols[f] = next((h for h in wanted if h in header), None)
        if cols[f] is None and f in REQUIRED:
            defects.append(Defect(name, 1, " or ".join(repr(h) for h in wanted), None,
                                  f"is missing from the header (expected the {f.replace('_', ' ')} column)"))
    prop = settings.account_property
    if prop is not None and prop not in header:
        defects.append(Defect(name, 1, repr(prop), None, "is missing from the header (the account_property of "
                              f"[sources.{fmt.source}])"))
    if defects:
        raise DataError(defects)
    lo, hi = SCORE_RANGES[fmt.survey]
    objects: list[RawObject] = []
    seen: dict[str, int] = {}
    for number, rec in enumerate(records, start=2):
        if len(defects) > MAX_DEFECTS:
            break
        if None in rec:
            defects.append(Defect(name, number, None, None, f"has more cells than the header's {len(header)}"))
            continue
        get = {f: (rec.get(c) or "").strip() if c else "" for f, c in cols.items()}
        rid, score_text, when_text = get["response_id"], get["score"], get["responded_at"]
        if not rid:
            defects.append(Defect(name, number, cols["response_id"], None, "is empty (expected the response id)"))
            continue
        if rid in seen:
            defects.append(Defect(name, number, cols["response_id"], rid,
                                  f"is a duplicate response id (first seen on row {seen[rid]})"))
            continue
        seen[rid] = number
        try:
            score = float(score_text)
        except ValueError:
            score = float("nan")
        if not lo <= score <= hi:
            defects.append(Defect(name, number, cols["score"], score_text,
                                  f"is not a {fmt.survey} score (expected a number from {lo:g} to {hi:g})"))
        when = parse_time(when_text)
        if when is None:
            defects.append(Defect(name, number, cols["responded_at"], when_text,
                                  "is not a time (expected ISO 8601, YYYY-MM-DD HH:MM:SS -0800 or Unix seconds)"))
            continue
        body = {"id": rid, "score": score, "responded_at": when.isoformat(sep=" "),
                "comment": get["comment"] or None, "respondent": get["respondent"] or None,
                "account_property": (rec.get(prop) or "").strip() or None if prop else None,
                "row": {k: v for k, v in rec.items() if k is not None}}
        created = int(when.replace(tzinfo=dt.UTC).timestamp())
        objects.append(RawObject("responses", rid, "", created,
                                 json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)))
    if defects:
        raise DataError(defects[:MAX_DEFECTS], len(defects) > MAX_DEFECTS)
    return objects


def _domains(land: Landing | None, settings: SurveyCsvSettings) -> str:
    """SQL relation (domain, account_id) of other sources' accounts with exactly one account per domain
    (none without a workspace: ``land`` None)."""
    empty = "SELECT NULL::VARCHAR AS domain, NULL::VARCHAR AS account_id WHERE FALSE"
    if land is None or "accounts" not in land.tables:
        return empty
    have = {r[0] for r in land.con.execute("DESCRIBE ws.accounts").fetchall()}
    if settings.domain_column not in have:
        return empty
    other = f"source IS DISTINCT FROM {lit(land.source)}" if "source" in have else "TRUE"
    norm = (f"regexp_replace(regexp_replace(lower(trim(CAST({q(settings.domain_column)} AS VARCHAR))), "
            "'^[a-z]+://', ''), '^www\\.|/.*$', '', 'g')")
    return (f"SELECT domain, min(account_id) AS account_id FROM (SELECT {norm} AS domain, account_id "
            f"FROM ws.accounts WHERE {other}) WHERE domain <> '' GROUP BY domain HAVING count(*) = 1")


def mapper(fmt: CsvFormat, settings: SurveyCsvSettings, land: Landing | None) -> Any:
    """Rules S1-S4 as SQL over the raw objects: temp tables ``<tool>_accounts``, ``<tool>_responses``
    (respondents matched by domain to the accounts of ``land``'s workspace, none when ``land`` is None)."""
    src = fmt.source

    def run(con: duckdb.DuckDBPyConnection, raw: str) -> dict[str, str]:
        domain = ("regexp_replace(lower(split_part(json_extract_string(body, '$.respondent'), '@', 2)), "
                  "'^www\\.', '')")
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE {src}_answers AS
            SELECT r.id, r.body, NULLIF(trim(json_extract_string(r.body, '$.account_property')), '') AS prop,
                   NULLIF({domain}, '') AS domain
            FROM {raw} r WHERE r.type = 'responses'
        """)
        keyed = "a.prop" if settings.account_property else "coalesce(d.account_id, a.domain)"
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE {src}_responses AS
            SELECT {lit(src + ':')} || a.id AS response_id,
                   coalesce({keyed}, {lit(src + ':unknown')}) AS account_id,
                   {lit(fmt.survey)} AS survey,
                   CAST(json_extract(a.body, '$.score') AS DOUBLE) AS score,
                   CAST(json_extract_string(a.body, '$.responded_at') AS TIMESTAMP) AS responded_at,
                   json_extract_string(a.body, '$.comment') AS comment,
                   CAST(NULL AS VARCHAR) AS ticket_id,
                   json_extract_string(a.body, '$.respondent') AS respondent,
                   {lit(src)} AS source, a.id AS {q(src + '_response_id')}
            FROM {src}_answers a LEFT JOIN ({_domains(land, settings)}) d ON d.domain = a.domain
            ORDER BY response_id
        """)
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE {src}_accounts AS
            SELECT DISTINCT account_id, {lit(src)} AS source FROM {src}_responses ORDER BY account_id
        """)
        return {"accounts": f"{src}_accounts", "survey_responses": f"{src}_responses"}

    return run


def _extra(fmt: CsvFormat) -> Any:
    def extra(land: Landing, mapped: dict[str, str]) -> dict[str, str]:
        n = count_rows(land, mapped["survey_responses"], f"account_id = {lit(fmt.source + ':unknown')}")
        return {"count:without_account": str(n)}

    return extra


def import_csv(path: str | Path, workspace: str | Path, fmt: CsvFormat,
               settings: SurveyCsvSettings | None = None, progress: Any = None) -> Result:
    """Read one CSV export of ``fmt`` and add its answers to ``workspace`` (rules S1-S6)."""
    settings = settings or SurveyCsvSettings()
    t0 = time.perf_counter()
    objects = read_rows(Path(path), fmt, settings)
    if progress:
        progress("responses", len(objects), True)
    land = open_landing(Path(workspace), fmt.source, settings.base)
    try:
        result = land_objects(land, objects, mapper(fmt, settings, land), extra=_extra(fmt))
        n_unknown = count_rows(land, f"{fmt.source}_responses", f"account_id = {lit(fmt.source + ':unknown')}")
        unmatched = count_rows(land, f"{fmt.source}_responses",
                               "account_id NOT IN (SELECT account_id FROM ws.accounts WHERE source IS DISTINCT FROM "
                               f"{lit(fmt.source)})") if "accounts" in land.tables and _has_source(land) \
            else count_rows(land, f"{fmt.source}_responses")
    finally:
        land.close()
    if unmatched:
        result.notes.append(f"{unmatched:,} answer(s) match no account of another source: kept under accounts "
                            f"created by {fmt.source} (unmatched in `csmetrics sources`)")
    if n_unknown:
        result.notes.append(f"{n_unknown:,} answer(s) with no account property or e-mail are under the account "
                            f"{fmt.source}:unknown (counted as without_account)")
    result.seconds = time.perf_counter() - t0
    return result


def _has_source(land: Landing) -> bool:
    return "source" in {r[0] for r in land.con.execute("DESCRIBE ws.accounts").fetchall()}


def import_to_data_dir(path: str | Path, out: str | Path, fmt: CsvFormat,
                       settings: SurveyCsvSettings | None = None) -> dict[str, int]:
    """Map one CSV export to ``survey_responses.csv`` and ``accounts.csv`` in ``out`` (no domain matching)."""
    settings = settings or SurveyCsvSettings()
    objects = read_rows(Path(path), fmt, settings)
    return objects_to_data_dir(objects, Path(out), fmt.source, settings.base, mapper(fmt, settings, None))


class SurveyCsvConnector:
    """``csmetrics import <tool> FILE`` for one :class:`CsvFormat`."""

    authority = False
    can_sync = False

    def __init__(self, fmt: CsvFormat) -> None:
        if fmt.survey not in SURVEYS:
            raise ValueError(f"survey must be one of {SURVEYS}, not {fmt.survey!r}")
        self.format = fmt
        self.name = fmt.source
        self.title = fmt.title

    def load_settings(self, config: Path | None) -> SurveyCsvSettings:
        return SurveyCsvSettings.load(config, self.name)

    def sync(self, workspace: Path, settings: Any, *, api_base: str | None, full: bool,
             progress: Any = None) -> Result:
        raise NotImplementedError  # can_sync is False: the CLI refuses before calling

    def import_path(self, path: Path, workspace: Path, settings: Any, *, progress: Any = None) -> Result:
        return import_csv(path, workspace, self.format, settings, progress)

    def import_to_data_dir(self, path: Path, out: Path, settings: Any) -> dict[str, int]:
        return import_to_data_dir(path, out, self.format, settings)


__all__ = ["DELIGHTED", "CsvFormat", "SurveyCsvConnector", "SurveyCsvSettings", "import_csv", "import_to_data_dir",
           "mapper", "parse_time", "read_rows"]
