"""Sources: data straight from the systems teams already use (SPEC section 8).

One package per external system. Each is an *extract* (the vendor's SDK ->
raw JSON objects with their sync cursors, landed in the workspace as they are)
and a *map* (a pure function from those raw objects to the contract tables of
SPEC section 4). :mod:`csmetrics.sources.workspace` writes both into a
workspace in one transaction, through the same validation as ``csmetrics
ingest``. Docs: docs/sources.md (all sources), docs/stripe.md.

Each source's module exposes ``CONNECTOR``, an object with the attributes and
methods of :class:`Connector`; ``csmetrics sync`` / ``import`` / ``sources``
find it through :data:`SOURCES`.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from csmetrics.schema.errors import CsmetricsError, UsageError

if TYPE_CHECKING:
    from csmetrics.sources.workspace import Result

SOURCES: dict[str, str] = {
    "stripe": "csmetrics.sources.stripe.pipeline",
    "hubspot": "csmetrics.sources.hubspot.pipeline",
    "salesforce": "csmetrics.sources.salesforce.pipeline",
    "zendesk": "csmetrics.sources.zendesk.pipeline",
    "segment": "csmetrics.sources.segment",
    "delighted": "csmetrics.sources.delighted",
}
"""The sources ``csmetrics sync`` / ``import`` know: name -> module holding ``CONNECTOR``."""


class SourceError(CsmetricsError):
    """A source could not be read (network, authentication, vendor error); nothing was written."""

    exit_code = 1


class Connector(Protocol):
    """What ``csmetrics sync|import NAME`` needs of a source."""

    name: str
    title: str
    """One line for ``--help`` and ``csmetrics sources``."""
    authority: bool
    """True for a system of record of account attributes (a CRM): its names and CSMs win."""
    can_sync: bool
    """False for file-only sources (``import`` only)."""

    def load_settings(self, config: Path | None) -> Any: ...

    def sync(self, workspace: Path, settings: Any, *, api_base: str | None, full: bool,
             progress: Any = None) -> Result: ...

    def import_path(self, path: Path, workspace: Path, settings: Any, *, progress: Any = None) -> Result: ...

    def import_to_data_dir(self, path: Path, out: Path, settings: Any) -> dict[str, int]: ...


@dataclass(frozen=True)
class FunctionConnector:
    """A :class:`Connector` made of a source module's functions (every source but the survey CSVs).

    ``syncer(workspace, settings, api_base=, full=, progress=)``, ``importer(path, workspace, settings,
    progress)`` and ``to_data_dir(path, out, settings)``; ``syncer`` None for a file-only source.
    """

    name: str
    title: str
    authority: bool
    settings: Callable[[Path | None], Any]
    importer: Callable[[Path, Path, Any, Any], Result]
    to_data_dir: Callable[[Path, Path, Any], dict[str, int]]
    syncer: Callable[..., Result] | None = None

    @property
    def can_sync(self) -> bool:
        return self.syncer is not None

    def load_settings(self, config: Path | None) -> Any:
        return self.settings(config)

    def sync(self, workspace: Path, settings: Any, *, api_base: str | None, full: bool,
             progress: Any = None) -> Result:
        if self.syncer is None:
            raise UsageError(f"{self.name} has no API to sync from: use `csmetrics import {self.name} PATH`")
        return self.syncer(workspace, settings, api_base=api_base, full=full, progress=progress)

    def import_path(self, path: Path, workspace: Path, settings: Any, *, progress: Any = None) -> Result:
        return self.importer(path, workspace, settings, progress)

    def import_to_data_dir(self, path: Path, out: Path, settings: Any) -> dict[str, int]:
        return self.to_data_dir(path, out, settings)


def available() -> list[str]:
    """The sources whose module is installed (all of :data:`SOURCES` in a complete build)."""
    found = []
    for name, module in SOURCES.items():
        try:
            if importlib.util.find_spec(module) is not None:
                found.append(name)
        except ModuleNotFoundError:
            continue
    return found


def connector(name: str) -> Connector:
    """The connector called ``name``; UsageError naming the known ones otherwise."""
    known = available()
    if name not in known:
        raise UsageError(f"unknown source {name!r} (known: {', '.join(known)})")
    module = importlib.import_module(SOURCES[name])
    conn: Connector = module.CONNECTOR
    return conn


__all__ = ["SOURCES", "Connector", "FunctionConnector", "SourceError", "available", "connector"]
