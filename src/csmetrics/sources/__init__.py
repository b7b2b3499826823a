"""Sources: data straight from the systems teams already use (SPEC section 8).

One package per external system. Each is an *extract* (the vendor's SDK ->
raw JSON objects with their sync cursors, landed in the workspace as they are)
and a *map* (a pure function from those raw objects to the contract tables of
SPEC section 4). :mod:`csmetrics.sources.workspace` writes both into a
workspace in one transaction, through the same validation as ``csmetrics
ingest``. Docs: docs/stripe.md.
"""

from __future__ import annotations

from csmetrics.schema.errors import CsmetricsError

SOURCES: tuple[str, ...] = ("stripe",)
"""The sources ``csmetrics sync`` / ``import`` know."""



class SourceError(CsmetricsError):
    """A source could not be read (network, authentication, vendor error); nothing was written."""

    exit_code = 1


__all__ = ["SOURCES", "SourceError"]
