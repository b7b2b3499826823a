"""``csmetrics sync hubspot`` / ``import hubspot``: extract or read, map, land (docs/crm.md#hubspot)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from csmetrics.config import Config
from csmetrics.schema.errors import DataError, UsageError
from csmetrics.sources import FunctionConnector
from csmetrics.sources.hubspot.extract import SyncOptions, extract
from csmetrics.sources.hubspot.map import MAPPED, MapSettings, archived_companies, map_tables, unknown_owners
from csmetrics.sources.hubspot.objects import read_dir
from csmetrics.sources.settings import DEFAULT_MAX_AGE_DAYS, read_section
from csmetrics.sources.workspace import (
    Landing,
    RawObject,
    Result,
    land_objects,
    landed,
    objects_to_data_dir,
)

SOURCE = "hubspot"
DEFAULT_TOKEN_ENV = "HUBSPOT_TOKEN"
SETTINGS: dict[str, type | tuple[type, ...]] = {
    "token_env": str, "api_base": str, "segment_property": str, "properties": list, "timeout": (int, float),
    "max_retries": int, "max_wait": (int, float)}
"""Keys of ``[sources.hubspot]`` in csmetrics.toml, and their types."""


@dataclass(frozen=True)
class HubSpotSettings:
    """``[sources.hubspot]`` of csmetrics.toml (all optional)."""

    token_env: str = DEFAULT_TOKEN_ENV
    api_base: str | None = None
    segment_property: str = "segment"
    properties: tuple[str, ...] = ()
    timeout: float = 30.0
    max_retries: int = 5
    max_wait: float = 60.0
    base: Config = field(default_factory=Config)
    """The company settings of the same file (base currency...) for a workspace created by the source."""

    max_age_days: float = DEFAULT_MAX_AGE_DAYS

    @classmethod
    def load(cls, path: Path | None) -> HubSpotSettings:
        """Read ``[sources.hubspot]`` of ``path`` (default ./csmetrics.toml when it exists)."""
        section = read_section(path, SOURCE, SETTINGS)
        values = dict(section.values)
        props = values.pop("properties", [])
        bad = [p for p in props if not isinstance(p, str) or not p.strip()]
        if bad:
            raise DataError([section.defect(SOURCE, "properties", bad[0], "is not a property name (expected a "
                                            "list of HubSpot property names, e.g. [\"tier\"])")])
        taken = [p for p in props if p in MAPPED or p == values.get("segment_property", "segment")]
        if taken:
            raise DataError([section.defect(SOURCE, "properties", taken[0], "is a column the mapping already "
                                            "fills (name, domain, created_at, segment, csm, industry...); "
                                            "list only other properties")])
        seg = values.get("segment_property", "segment")
        if not seg.strip():
            raise DataError([section.defect(SOURCE, "segment_property", seg, "is not a property name")])
        return cls(**values, properties=tuple(dict.fromkeys(props)), base=section.base)

    @property
    def map(self) -> MapSettings:
        return MapSettings(self.segment_property, self.properties)


def _land(land: Landing, objects: Iterable[RawObject], settings: HubSpotSettings, replace: Iterable[str],
          cursors: dict[str, str] | None, requests: int = 0) -> Result:
    def extra(land: Landing, mapped: dict[str, str]) -> dict[str, str]:
        return {"count:archived_companies": str(archived_companies(land.con)),
                "count:unknown_owners": str(unknown_owners(land.con))}

    result = land_objects(land, objects, lambda con, raw: map_tables(con, raw, settings.map), replace=replace,
                          cursors=cursors, requests=requests, extra=extra, unmatched=lambda land, mapped: 0)
    n = archived_companies(land.con)
    if n:
        result.notes.append(f"{n:,} archived compan{'y is' if n == 1 else 'ies are'} not in the accounts table "
                            "(counted in `csmetrics sources`)")
    n = unknown_owners(land.con)
    if n:
        result.notes.append(f"{n:,} compan{'y has' if n == 1 else 'ies have'} an owner id that is not among the "
                            "owners: no CSM")
    return result


def import_dir(directory: str | Path, workspace: str | Path, settings: HubSpotSettings | None = None) -> Result:
    """Read ``companies.json`` and ``owners.json`` of ``directory`` (docs/crm.md#import), map and land them.

    Objects are added to (or replace, by id) those already landed; all-or-nothing.
    """
    settings = settings or HubSpotSettings()
    return landed(workspace, SOURCE, settings.base,
                  lambda land: _land(land, read_dir(Path(directory), settings.map.wanted), settings, (), None),
                  authority=True)


def import_to_data_dir(directory: str | Path, out: str | Path,
                       settings: HubSpotSettings | None = None) -> dict[str, int]:
    """Map ``directory``'s companies and owners to ``out/accounts.csv`` (for ``csmetrics ingest``)."""
    settings = settings or HubSpotSettings()
    objects = read_dir(Path(directory), settings.map.wanted)
    return objects_to_data_dir(objects, Path(out), SOURCE, settings.base,
                               lambda con, raw: map_tables(con, raw, settings.map), authority=True)


def token(settings: HubSpotSettings) -> str:
    """The private-app token from the environment variable named in the settings (never from a file)."""
    value = os.environ.get(settings.token_env, "").strip()
    if not value:
        raise UsageError(f"no HubSpot token: set the environment variable {settings.token_env} to a private "
                         "app's access token (its name is [sources.hubspot] token_env in csmetrics.toml)")
    return value


def sync(workspace: str | Path, settings: HubSpotSettings | None = None, api_base: str | None = None,
         full: bool = False, **options: Any) -> Result:
    """List every HubSpot company and owner into ``workspace`` (module docs of ``extract``).

    ``full`` changes nothing: every sync re-lists (docs/crm.md). ``options`` go
    to :class:`SyncOptions` (``sleep``, ``progress``, ``page_size``...).
    """
    settings = settings or HubSpotSettings()
    opts = SyncOptions(token=token(settings), api_base=api_base or settings.api_base, wanted=settings.map.wanted,
                       timeout=settings.timeout, max_retries=settings.max_retries, max_wait=settings.max_wait,
                       **options)

    def run(land: Landing) -> Result:
        got = extract(opts)
        return _land(land, got.objects, settings, ("companies", "owners"), {}, got.requests)

    return landed(workspace, SOURCE, settings.base, run, authority=True)


def _import(path: Path, workspace: Path, settings: Any, progress: Any = None) -> Result:
    return import_dir(path, workspace, settings)


CONNECTOR = FunctionConnector(
    SOURCE, "HubSpot: companies and owners (account names, CSMs, segments)", True, HubSpotSettings.load,
    _import, lambda p, out, s: import_to_data_dir(p, out, s), sync)
"""``csmetrics sync|import hubspot``."""

__all__ = ["CONNECTOR", "HubSpotSettings", "Result", "import_dir", "import_to_data_dir", "sync", "token"]
