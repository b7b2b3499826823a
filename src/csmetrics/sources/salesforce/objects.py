"""Salesforce Account records, the file ``import salesforce`` reads, and the shape every record must have.

A raw object is an Account record as the REST query resource returns it
(canonical JSON text: keys sorted): ``{"attributes": {"type": "Account",
"url": ...}, "Id": "001...", "Name": ..., "CreatedDate":
"2025-01-06T15:04:05.000+0000", "Owner": {"attributes": {...}, "Name": ...},
...}`` (developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/
dome_query.htm). Only the fields the mapping reads are checked.

File (docs/crm.md#salesforce-import): ``accounts.json``, holding a query
response ``{"totalSize", "done", "nextRecordsUrl", "records": [...]}``, or
several responses as JSON lines, or JSON lines of single records.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from csmetrics.schema.errors import DataError, Defect
from csmetrics.sources.hubspot.objects import parse_time
from csmetrics.sources.jsonfiles import MAX_DEFECTS, ObjectDefect, canonical, dotted, is_scalar, page_records, shown
from csmetrics.sources.workspace import RawObject

_SHAPE = ("expected a query response {\"totalSize\": ..., \"done\": ..., \"records\": [...]}, several responses "
          "as JSON lines, or one record per line")


def record_problems(obj: Any, wanted: tuple[str, ...] = ()) -> Iterator[tuple[str, Any, str]]:
    """Every shape problem of one Account record as (field, value, what is wrong).

    ``wanted`` are the fields the mapping reads (dotted for relationships,
    ``Owner.Name``); each must be a text, a number, true/false or null.
    """
    if not isinstance(obj, dict):
        yield "", type(obj).__name__, "is not a JSON object"
        return
    attrs = obj.get("attributes")
    if isinstance(attrs, dict) and attrs.get("type") not in (None, "Account"):
        yield "attributes.type", shown(attrs.get("type")), "is not an Account record (expected \"Account\")"
        return
    rid = obj.get("Id")
    if "Id" not in obj:
        yield "Id", None, "is missing (required)"
    elif not (isinstance(rid, str) and rid.strip()):
        yield "Id", shown(rid), "is not an id (expected a non-empty string, e.g. 001...)"
    deleted = obj.get("IsDeleted")
    if deleted is not None and not isinstance(deleted, bool):
        yield "IsDeleted", shown(deleted), "is not true, false or null"
    owner = obj.get("Owner")
    if owner is not None and not isinstance(owner, dict):
        yield "Owner", shown(owner), "is not an object or null (expected {\"Name\": ...})"
    for path in wanted:
        found, value = dotted(obj, path)
        if found and not is_scalar(value):
            yield path, shown(value), "is not a text, a number, true/false or null"
    for key in ("CreatedDate", "SystemModstamp"):
        if obj.get(key) is not None and parse_time(obj[key]) is None:
            yield key, shown(obj[key]), "is not a date-time (expected e.g. 2025-01-06T15:04:05.000+0000)"


def to_raw(obj: dict[str, Any]) -> RawObject:
    when = parse_time(obj.get("CreatedDate"))
    return RawObject("accounts", str(obj["Id"]), "", int(when.timestamp()) if when else 0, canonical(obj))


def records(path: Path) -> Iterator[tuple[int, str, Any]]:
    """(position, unit, record) of a query-response file or a JSON-lines file; DataError on bad JSON."""
    return page_records(path, "records", "record", "is not a query response", _SHAPE)


def read_dir(directory: Path, wanted: tuple[str, ...] = ()) -> list[RawObject]:
    """Every Account record of ``directory/accounts.json``; DataError naming file, line/record and field."""
    if not directory.is_dir():
        raise DataError([Defect(str(directory), None, None, None, "is not a directory")])
    path = directory / "accounts.json"
    if not path.exists():
        raise DataError([Defect(str(path), None, None, None,
                                "is missing (expected the Account records of a SOQL query response)")])
    out: list[RawObject] = []
    defects: list[Defect] = []
    seen: dict[str, str] = {}
    for pos, unit, obj in records(path):
        problems = list(record_problems(obj, wanted))
        for field, value, msg in problems:
            if len(defects) < MAX_DEFECTS:
                defects.append(ObjectDefect(path.name, pos, field or None, None if value is None else str(value),
                                            msg, unit=unit))
        if problems:
            continue
        raw = to_raw(obj)
        if raw.id in seen:
            defects.append(ObjectDefect(path.name, pos, "Id", raw.id,
                                        f"is a duplicate (first at {seen[raw.id]}; expected unique ids)", unit=unit))
            continue
        seen[raw.id] = f"{unit} {pos}"
        out.append(raw)
    if defects:
        raise DataError(defects, truncated=len(defects) >= MAX_DEFECTS)
    return out


__all__ = ["read_dir", "record_problems", "records", "to_raw"]
