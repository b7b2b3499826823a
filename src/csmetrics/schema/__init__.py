"""Input table contracts and validation errors."""

from csmetrics.schema.errors import CsmetricsError, DataError, Defect, UsageError, WorkspaceInUse
from csmetrics.schema.tables import TABLE_ORDER, TABLES, Column, TableSpec

__all__ = [
    "TABLES",
    "TABLE_ORDER",
    "Column",
    "CsmetricsError",
    "DataError",
    "Defect",
    "TableSpec",
    "UsageError",
    "WorkspaceInUse",
]
