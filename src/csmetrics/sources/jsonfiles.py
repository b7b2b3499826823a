"""What every source's reader of saved API objects shares: the canonical JSON text of a raw object, and
the defect that names a JSON file's line (JSON lines) or object index (a page's list) and field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from csmetrics.schema.errors import DataError, Defect

MAX_DEFECTS = 50
"""Defects reported per import before the reader stops looking."""


@dataclass(frozen=True)
class ObjectDefect(Defect):
    """A defect in a JSON file: ``unit`` is ``line`` (JSON lines) or ``object`` (index in a page's list)."""

    unit: str = "line"

    def __str__(self) -> str:
        """``invoices.json line 3, field lines.data[0].period.start: 'x' is not an integer``."""
        where = self.file
        if self.row is not None:
            where += f" {self.unit} {self.row}"
        if self.column is not None:
            where += f", field {self.column}"
        if self.value is None:
            return f"{where}: {self.expected}"
        return f"{where}: {self.value!r} {self.expected}"


def canonical(obj: Any) -> str:
    """The text a raw object is landed as: keys sorted, no spaces, so one object has one text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def page_records(path: Path, list_key: str, unit: str, not_a_page: str, shape: str
                 ) -> Iterator[tuple[int, str, Any]]:
    """(position, unit, object) of a file holding one API page (its ``list_key`` list, by index) or JSON
    lines (each line's object, or a line holding a page: its list by index); DataError on bad JSON.

    ``unit`` names a list position (``object``, ``record``); ``not_a_page`` and ``shape`` (the shapes
    accepted) make the messages: ``companies.json line 3: is not valid JSON: ... (<shape>)``.
    """
    text = path.read_text(encoding="utf-8")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as whole_error:
        error = whole_error
    else:
        if isinstance(doc, dict) and isinstance(doc.get(list_key), list):
            for i, obj in enumerate(doc[list_key]):
                yield i, unit, obj
            return
        if isinstance(doc, dict):
            yield 1, "line", doc  # a file of one object
            return
        raise DataError([ObjectDefect(path.name, None, None, None, f"{not_a_page} ({shape})")])
    lines = text.splitlines()
    if lines and lines[0].strip() in ("{", "["):
        raise DataError([ObjectDefect(path.name, error.lineno, None, None,
                                      f"is not valid JSON: {error.msg} at column {error.colno} ({shape})")])
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError([ObjectDefect(path.name, lineno, None, None,
                                          f"is not valid JSON: {exc.msg} at column {exc.colno} ({shape})")]
                            ) from None
        if isinstance(obj, dict) and isinstance(obj.get(list_key), list):
            for i, inner in enumerate(obj[list_key]):
                yield i, f"line {lineno} {unit}", inner
            continue
        yield lineno, "line", obj


def dotted(obj: Any, path: str) -> tuple[bool, Any]:
    """(found, value) of the field ``path`` of ``obj``; dotted: a field of an object (``plan.interval``)."""
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return False, None
        cur = cur[part]
    return True, cur


def is_scalar(v: Any) -> bool:
    return v is None or isinstance(v, str | int | float | bool)


def shown(v: Any) -> Any:
    """A value as a defect shows it: itself when scalar, else its type's name (no whole object in a message)."""
    return v if is_scalar(v) else type(v).__name__


__all__ = ["MAX_DEFECTS", "ObjectDefect", "canonical", "dotted", "is_scalar", "page_records", "shown"]
