"""Zendesk object types, the files ``import zendesk DIR`` reads, and the shape every object must have.

A raw object is kept as Zendesk sent it (canonical JSON text: keys sorted),
with its type (the file / endpoint name), its id and its ``created_at`` as a
Unix time. Only the fields the mapping reads are checked; others are kept
untouched.

A file holds one of (docs/zendesk.md#import):

- one page as the API returns it: ``{"tickets": [...], "after_cursor": ...,
  "end_of_stream": ...}`` (the cursor export), ``{"organizations": [...],
  "next_page": ...}`` (offset paging) or ``{"ticket_metrics": [...], "meta":
  {...}, "links": {...}}`` (cursor paging), pretty-printed or on one line;
- several such pages, one per line (JSON lines of pages);
- JSON lines of objects.

A later copy of an id replaces an earlier one, as in a sync: the ticket
export lists a ticket again when it changed while the export ran.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from csmetrics.schema.errors import DataError, Defect
from csmetrics.sources.jsonfiles import MAX_DEFECTS, canonical, dotted, shown
from csmetrics.sources.workspace import RawObject

KINDS = ("organizations", "tickets", "ticket_metrics", "satisfaction_ratings")
"""File / raw type names, each also the key of the list in the API's page (``tickets.json`` -> ``tickets``)."""

SCORES = ("good", "bad", "offered", "unoffered")
"""``score`` of a satisfaction rating (developer.zendesk.com, Satisfaction Ratings, JSON format)."""


Check = Callable[[Any], bool]
_DESC: dict[Check, str] = {}


def _named(check: Check, desc: str) -> Check:
    _DESC[check] = desc
    return check


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def parse_time(v: Any) -> dt.datetime | None:
    """Zendesk's ISO 8601 UTC text (``2026-01-05T10:00:00Z``) as an aware datetime, else None."""
    if not isinstance(v, str) or len(v) < 10:
        return None
    try:
        t = dt.datetime.fromisoformat(v)
    except ValueError:
        return None
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)


INT = _named(_is_int, "is not an integer (expected a Zendesk id or count)")
OPT_INT = _named(lambda v: v is None or _is_int(v), "is not an integer or null")
STR = _named(lambda v: isinstance(v, str) and v != "", "is not a non-empty string")
OPT_STR = _named(lambda v: v is None or isinstance(v, str), "is not a string or null")
TIME = _named(lambda v: parse_time(v) is not None, "is not a time (expected ISO 8601 such as 2026-01-05T10:00:00Z)")
OPT_TIME = _named(lambda v: v is None or parse_time(v) is not None,
                  "is not a time or null (expected ISO 8601 such as 2026-01-05T10:00:00Z)")
OPT_DICT = _named(lambda v: v is None or isinstance(v, dict), "is not an object or null")
SCORE = _named(lambda v: v in SCORES, "is not a satisfaction score (expected good, bad, offered or unoffered)")
REQUIRED = {INT, STR, TIME, SCORE}

FIELDS: dict[str, dict[str, Check]] = {
    "organizations": {"id": INT, "name": OPT_STR, "external_id": OPT_STR, "created_at": OPT_TIME,
                      "organization_fields": OPT_DICT},
    "tickets": {"id": INT, "created_at": TIME, "updated_at": OPT_TIME, "status": STR, "organization_id": OPT_INT,
                "assignee_id": OPT_INT, "requester_id": OPT_INT, "via": OPT_DICT, "via.channel": OPT_STR},
    "ticket_metrics": {"id": INT, "ticket_id": INT, "solved_at": OPT_TIME, "replies": OPT_INT, "reopens": OPT_INT,
                       "created_at": OPT_TIME, "updated_at": OPT_TIME},
    "satisfaction_ratings": {"id": INT, "score": SCORE, "ticket_id": OPT_INT, "requester_id": OPT_INT,
                             "comment": OPT_STR, "created_at": TIME, "updated_at": TIME},
}
"""Per type, the fields the mapping reads and what each must hold (dotted: a field of an object)."""


def object_problems(kind: str, obj: Any) -> Iterator[tuple[str, Any, str]]:
    """Every shape problem of one object of type ``kind`` as (field, value, what is wrong)."""
    if not isinstance(obj, dict):
        yield "", type(obj).__name__, "is not a JSON object"
        return
    for path, check in FIELDS[kind].items():
        if "." in path:
            found, parent = dotted(obj, path.rsplit(".", 1)[0])
            if not found or parent is None:
                continue
        found, value = dotted(obj, path)
        if not found:
            if check in REQUIRED:
                yield path, None, "is missing (required)"
            continue
        if not check(value):
            yield path, shown(value), _DESC[check]


def to_raw(kind: str, obj: dict[str, Any]) -> RawObject:
    created = parse_time(obj.get("created_at"))
    return RawObject(kind, str(obj["id"]), "", int(created.timestamp()) if created else 0, canonical(obj))


def is_page(kind: str, doc: Any) -> bool:
    """Whether ``doc`` is an API page of ``kind`` (an object holding the list under ``kind``)."""
    return isinstance(doc, dict) and isinstance(doc.get(kind), list)


# -- import: reading a directory ---------------------------------------------
def _defect(file: str, where: tuple[str, int] | None, field: str | None, value: Any, expected: str) -> Defect:
    unit, row = where if where is not None else ("line", None)
    return Defect(file, row, field or None, None if value is None else str(value), expected,
                  column_kind="field", row_kind=unit)


def _not_json(path: Path, lineno: int, exc: json.JSONDecodeError, kind: str) -> DataError:
    return DataError([_defect(path.name, ("line", lineno), None, None,
                              f"is not valid JSON: {exc.msg} at column {exc.colno} (expected a Zendesk page "
                              f"{{\"{kind}\": [...]}}, pages one per line, or one object per line)")])


def records(path: Path, kind: str) -> Iterator[tuple[tuple[str, int], Any]]:
    """((unit, position), object) of every object in ``path``; DataError on bad JSON or a page of another kind.

    Lines are streamed; a file whose first line is not a JSON value (a
    pretty-printed page) is read whole.
    """
    with path.open(encoding="utf-8") as f:
        first, first_no = "", 0
        for line in f:
            first_no += 1
            first = line
            if first.strip():
                break
        line_error: json.JSONDecodeError | None = None
        try:
            if first.strip():
                json.loads(first)
            whole = False
        except json.JSONDecodeError as exc:
            whole, line_error = True, exc
    if whole:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            if first.strip() not in ("{", "[") and line_error is not None:
                raise _not_json(path, first_no, line_error, kind) from None  # a bad JSON line
            raise _not_json(path, exc.lineno, exc, kind) from None
        if not is_page(kind, doc):
            raise DataError([_defect(path.name, None, None, None,
                                     f"is not a Zendesk page of {kind}: it has no {kind!r} list (expected "
                                     f"{{\"{kind}\": [...], ...}}, pages one per line, or one object per line)")])
        for i, obj in enumerate(doc[kind]):
            yield ("object", i), obj
        return
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise _not_json(path, lineno, exc, kind) from None
            if is_page(kind, obj):
                for i, inner in enumerate(obj[kind]):
                    yield (f"line {lineno}, object", i), inner
                continue
            yield ("line", lineno), obj


def read_dir(directory: Path, progress: Callable[[str, int, bool], None] | None = None) -> list[RawObject]:
    """Every object of the Zendesk JSON files in ``directory`` (a missing file: none of that type).

    Raises DataError naming the file, the line or object index and the field
    of every defect (bad JSON, a missing or mistyped field).
    """
    if not directory.is_dir():
        raise DataError([Defect(str(directory), None, None, None, "is not a directory")])
    out: dict[tuple[str, str], RawObject] = {}
    defects: list[Defect] = []
    for kind in KINDS:
        path = directory / f"{kind}.json"
        if not path.exists():
            continue
        n = 0
        for where, obj in records(path, kind):
            problems = list(object_problems(kind, obj))
            for field, value, msg in problems:
                if len(defects) < MAX_DEFECTS:
                    defects.append(_defect(path.name, where, field, value, msg))
            if problems:
                continue
            raw = to_raw(kind, obj)
            out.pop((kind, raw.id), None)  # a later copy replaces an earlier one (and comes last)
            out[(kind, raw.id)] = raw
            n += 1
            if progress is not None and n % 1000 == 0:
                progress(kind, n, False)
        if progress is not None:
            progress(kind, n, True)
    if defects:
        raise DataError(defects, truncated=len(defects) >= MAX_DEFECTS)
    return list(out.values())


__all__ = ["FIELDS", "KINDS", "MAX_DEFECTS", "SCORES", "canonical", "is_page", "object_problems", "parse_time",
           "read_dir", "records", "to_raw"]
