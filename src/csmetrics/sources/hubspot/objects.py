"""HubSpot object types, the files ``import hubspot`` reads, and the shape every object must have.

A raw object is kept as HubSpot sent it (canonical JSON text: keys sorted):
a company of ``GET /crm/v3/objects/companies`` (``{"id", "properties": {...},
"createdAt", "updatedAt", "archived"}``) or an owner of ``GET /crm/v3/owners``
(``{"id", "email", "firstName", "lastName", "userId", "archived", ...}``).
Shapes: developers.hubspot.com/docs/api-reference/latest/crm/objects/companies
and .../crm/owners/guide. Only the fields the mapping reads are checked.

Files (docs/crm.md#import): ``companies.json`` (required) and ``owners.json``
(optional: without it no company has a CSM), each holding HubSpot's own page
shape ``{"results": [...], "paging": {...}}``, or several such pages as JSON
lines, or JSON lines of single objects.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from csmetrics.schema.errors import DataError, Defect
from csmetrics.sources.jsonfiles import MAX_DEFECTS, ObjectDefect, canonical, is_scalar, page_records, shown
from csmetrics.sources.workspace import RawObject

OBJECT_TYPES = ("companies", "owners")
"""File / raw type names, in the order they are read and fetched."""

REQUIRED_FILES = ("companies",)


def parse_time(value: Any) -> dt.datetime | None:
    """An ISO 8601 timestamp (``2025-01-15T09:30:00.000Z``) or epoch milliseconds as UTC; None when neither."""
    if isinstance(value, int) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value / 1000, dt.UTC)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return dt.datetime.fromtimestamp(int(text) / 1000, dt.UTC)
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)


def object_problems(kind: str, obj: Any, wanted: tuple[str, ...] = ()) -> Iterator[tuple[str, Any, str]]:
    """Every shape problem of one object of file ``kind`` as (field, value, what is wrong).

    ``wanted`` are the company properties the mapping reads (each must be a
    text, a number, true/false or null).
    """
    if not isinstance(obj, dict):
        yield "", type(obj).__name__, "is not a JSON object"
        return
    oid = obj.get("id")
    if "id" not in obj:
        yield "id", None, "is missing (required)"
    elif not (isinstance(oid, str) and oid.strip()) and not (isinstance(oid, int) and not isinstance(oid, bool)):
        yield "id", shown(oid), "is not an id (expected a non-empty string)"
    archived = obj.get("archived")
    if archived is not None and not isinstance(archived, bool):
        yield "archived", shown(archived), "is not true, false or null"
    for key in ("createdAt", "updatedAt"):
        if obj.get(key) is not None and parse_time(obj[key]) is None:
            yield key, shown(obj[key]), "is not a timestamp (expected ISO 8601, e.g. 2025-01-15T09:30:00.000Z)"
    if kind == "owners":
        for key in ("firstName", "lastName", "email"):
            if obj.get(key) is not None and not isinstance(obj[key], str):
                yield key, shown(obj[key]), "is not a string or null"
        return
    props = obj.get("properties")
    if "properties" not in obj:
        yield "properties", None, "is missing (required: the company's properties object)"
        return
    if not isinstance(props, dict):
        yield "properties", shown(props), "is not an object (expected {\"name\": ..., ...})"
        return
    for key in wanted:
        if key in props and not is_scalar(props[key]):
            yield f"properties.{key}", shown(props[key]), "is not a text, a number, true/false or null"
    created = props.get("createdate")
    if created is not None and created != "" and parse_time(created) is None:
        yield "properties.createdate", shown(created), ("is not a timestamp (expected ISO 8601, e.g. "
                                                        "2025-01-15T09:30:00.000Z, or epoch milliseconds)")


def to_raw(kind: str, obj: dict[str, Any]) -> RawObject:
    """The raw object of a checked company or owner; ``created`` is its creation time (Unix seconds)."""
    when = parse_time(obj.get("createdAt"))
    if when is None and isinstance(obj.get("properties"), dict):
        when = parse_time(obj["properties"].get("createdate"))
    return RawObject(kind, str(obj["id"]), "", int(when.timestamp()) if when else 0, canonical(obj))


# -- import: reading a directory ---------------------------------------------
_SHAPE = ("expected HubSpot's page {\"results\": [...], \"paging\": ...}, several pages as JSON lines, "
          "or one object per line")


def records(path: Path) -> Iterator[tuple[int, str, Any]]:
    """(position, unit, object) of a page file or a JSON-lines file; raises DataError on bad JSON.

    A file holding one JSON document (a page, pretty-printed or not) yields its
    ``results`` by index (``object 0``...); JSON lines yield each line's object
    (``line 3``), or, for a line holding a page, its results by index.
    """
    return page_records(path, "results", "object", "is not a HubSpot page", _SHAPE)


def read_dir(directory: Path, wanted: tuple[str, ...] = ()) -> list[RawObject]:
    """Every company and owner of ``directory`` (companies.json required, owners.json optional).

    Raises DataError naming the file, line or object index and field of every
    defect (bad JSON, a missing or mistyped field, a repeated id).
    """
    if not directory.is_dir():
        raise DataError([Defect(str(directory), None, None, None, "is not a directory")])
    out: list[RawObject] = []
    defects: list[Defect] = []
    for kind in OBJECT_TYPES:
        path = directory / f"{kind}.json"
        if not path.exists():
            if kind in REQUIRED_FILES:
                defects.append(Defect(str(path), None, None, None,
                                      "is missing (expected the companies of GET /crm/v3/objects/companies)"))
            continue
        seen: dict[str, str] = {}
        for pos, unit, obj in records(path):
            problems = list(object_problems(kind, obj, wanted))
            for field, value, msg in problems:
                if len(defects) < MAX_DEFECTS:
                    defects.append(ObjectDefect(path.name, pos, field or None,
                                                None if value is None else str(value), msg, unit=unit))
            if problems:
                continue
            raw = to_raw(kind, obj)
            if raw.id in seen:
                defects.append(ObjectDefect(path.name, pos, "id", raw.id,
                                            f"is a duplicate (first at {seen[raw.id]}; expected unique ids)",
                                            unit=unit))
                continue
            seen[raw.id] = f"{unit} {pos}"
            out.append(raw)
    if defects:
        raise DataError(defects, truncated=len(defects) >= MAX_DEFECTS)
    return out


__all__ = ["OBJECT_TYPES", "ObjectDefect", "canonical", "object_problems", "parse_time", "read_dir", "records",
           "to_raw"]
