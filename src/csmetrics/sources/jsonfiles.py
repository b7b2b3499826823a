"""What every source's reader of saved API objects shares: the canonical JSON text of a raw object, and
the defect that names a JSON file's line (JSON lines) or object index (a page's list) and field."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from csmetrics.schema.errors import Defect

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


__all__ = ["MAX_DEFECTS", "ObjectDefect", "canonical"]
