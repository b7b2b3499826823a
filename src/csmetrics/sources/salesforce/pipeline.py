"""``csmetrics sync salesforce`` / ``import salesforce``: extract or read, map, land (docs/crm.md#salesforce)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from csmetrics.config import Config
from csmetrics.schema.errors import DataError, UsageError
from csmetrics.sources import FunctionConnector
from csmetrics.sources.salesforce.extract import API_VERSION, Credentials, SyncOptions, extract
from csmetrics.sources.salesforce.map import MAPPED, MapSettings, column_name, deleted_accounts, map_tables
from csmetrics.sources.salesforce.objects import read_dir
from csmetrics.sources.settings import DEFAULT_MAX_AGE_DAYS, read_section
from csmetrics.sources.workspace import (
    Landing,
    RawObject,
    Result,
    land_objects,
    landed,
    objects_to_data_dir,
)

SOURCE = "salesforce"
ENV_KEYS = {"instance_url_env": "SALESFORCE_INSTANCE_URL", "access_token_env": "SALESFORCE_ACCESS_TOKEN",
            "username_env": "SALESFORCE_USERNAME", "password_env": "SALESFORCE_PASSWORD",
            "security_token_env": "SALESFORCE_SECURITY_TOKEN"}
"""Settings naming the environment variables that hold the credentials -> their default names."""

SETTINGS: dict[str, type | tuple[type, ...]] = {
    **dict.fromkeys(ENV_KEYS, str), "domain": str, "api_base": str, "api_version": str, "segment_field": str,
    "fields": list, "timeout": (int, float), "max_retries": int, "max_wait": (int, float)}
"""Keys of ``[sources.salesforce]`` in csmetrics.toml, and their types."""

_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$")


@dataclass(frozen=True)
class SalesforceSettings:
    """``[sources.salesforce]`` of csmetrics.toml (all optional)."""

    instance_url_env: str = ENV_KEYS["instance_url_env"]
    access_token_env: str = ENV_KEYS["access_token_env"]
    username_env: str = ENV_KEYS["username_env"]
    password_env: str = ENV_KEYS["password_env"]
    security_token_env: str = ENV_KEYS["security_token_env"]
    domain: str = "login"
    api_base: str | None = None
    api_version: str = API_VERSION
    segment_field: str = "Type"
    fields: tuple[str, ...] = ()
    timeout: float = 30.0
    max_retries: int = 5
    max_wait: float = 60.0
    base: Config = field(default_factory=Config)
    max_age_days: float = DEFAULT_MAX_AGE_DAYS

    @classmethod
    def load(cls, path: Path | None) -> SalesforceSettings:
        """Read ``[sources.salesforce]`` of ``path`` (default ./csmetrics.toml when it exists)."""
        section = read_section(path, SOURCE, SETTINGS)
        values = dict(section.values)
        fields = values.pop("fields", [])
        segment = values.get("segment_field", "Type")
        if not _FIELD.match(segment):
            raise DataError([section.defect(SOURCE, "segment_field", segment, "is not a field name (expected an "
                                            "Account field such as Type or Segment__c)")])
        for f in fields:
            if not isinstance(f, str) or not _FIELD.match(f):
                raise DataError([section.defect(SOURCE, "fields", f, "is not a field name (expected Account "
                                                "fields such as Tier__c, Rating or Parent.Name)")])
            if column_name(f) in MAPPED or f == segment:
                raise DataError([section.defect(SOURCE, "fields", f, "is a column the mapping already fills (name, "
                                                "created_at, segment, csm, industry...); list only other fields")])
        return cls(**values, fields=tuple(dict.fromkeys(fields)), base=section.base)

    @property
    def map(self) -> MapSettings:
        return MapSettings(self.segment_field, self.fields)


def _land(land: Landing, objects: Iterable[RawObject], settings: SalesforceSettings, replace: Iterable[str],
          cursors: dict[str, str] | None, requests: int = 0) -> Result:
    def extra(land: Landing, mapped: dict[str, str]) -> dict[str, str]:
        return {"count:deleted_accounts": str(deleted_accounts(land.con))}

    result = land_objects(land, objects, lambda con, raw: map_tables(con, raw, settings.map), replace=replace,
                          cursors=cursors, requests=requests, extra=extra, unmatched=lambda land, mapped: 0)
    n = deleted_accounts(land.con)
    if n:
        result.notes.append(f"{n:,} deleted Account(s) are not in the accounts table (counted in "
                            "`csmetrics sources`)")
    return result


def import_dir(directory: str | Path, workspace: str | Path, settings: SalesforceSettings | None = None) -> Result:
    """Read ``directory/accounts.json`` (docs/crm.md#salesforce-import), map and land it; all-or-nothing."""
    settings = settings or SalesforceSettings()
    return landed(workspace, SOURCE, settings.base,
                  lambda land: _land(land, read_dir(Path(directory), settings.map.wanted), settings, (), None),
                  authority=True)


def import_to_data_dir(directory: str | Path, out: str | Path,
                       settings: SalesforceSettings | None = None) -> dict[str, int]:
    """Map ``directory/accounts.json`` to ``out/accounts.csv`` (for ``csmetrics ingest``)."""
    settings = settings or SalesforceSettings()
    objects = read_dir(Path(directory), settings.map.wanted)
    return objects_to_data_dir(objects, Path(out), SOURCE, settings.base,
                               lambda con, raw: map_tables(con, raw, settings.map), authority=True)


def credentials(settings: SalesforceSettings, api_base: str | None = None) -> Credentials:
    """The credentials from the environment variables named in the settings (never from a file).

    A session (instance URL + access token) when the token variable is set, else a username login.
    """

    def env(key: str) -> str | None:
        return os.environ.get(getattr(settings, key), "").strip() or None

    token = env("access_token_env")
    if token:
        instance = api_base or settings.api_base or env("instance_url_env")
        if not instance:
            raise UsageError(f"no Salesforce instance URL: set {settings.instance_url_env} (or --api-base) with "
                             f"{settings.access_token_env}")
        return Credentials(instance_url=instance, access_token=token, domain=settings.domain)
    user, password = env("username_env"), env("password_env")
    if user and password:
        return Credentials(username=user, password=password, security_token=env("security_token_env") or "",
                           domain=settings.domain)
    raise UsageError(f"no Salesforce credentials: set {settings.instance_url_env} and {settings.access_token_env} "
                     f"(a session), or {settings.username_env}, {settings.password_env} and "
                     f"{settings.security_token_env} (a login); the names are [sources.salesforce] settings")


def sync(workspace: str | Path, settings: SalesforceSettings | None = None, api_base: str | None = None,
         full: bool = False, **options: Any) -> Result:
    """Pull the Accounts modified since the last sync (all with ``full``) into ``workspace``.

    ``options`` go to :class:`SyncOptions` (``sleep``, ``progress``, ``session``...).
    """
    settings = settings or SalesforceSettings()
    creds = credentials(settings, api_base)

    def run(land: Landing) -> Result:
        cursor = None if full else land.state.get("cursor:SystemModstamp")
        opts = SyncOptions(credentials=creds, wanted=settings.map.wanted, cursor=cursor,
                           api_version=settings.api_version, timeout=settings.timeout,
                           max_retries=settings.max_retries, max_wait=settings.max_wait, **options)
        got = extract(opts)
        cursors = {"SystemModstamp": got.cursor} if got.cursor else {}
        return _land(land, got.objects, settings, ("accounts",) if got.full else (), cursors, got.requests)

    return landed(workspace, SOURCE, settings.base, run, authority=True)


def _import(path: Path, workspace: Path, settings: Any, progress: Any = None) -> Result:
    return import_dir(path, workspace, settings)


CONNECTOR = FunctionConnector(
    SOURCE, "Salesforce: Accounts with their owners (account names, CSMs, segments)", True, SalesforceSettings.load,
    _import, lambda p, out, s: import_to_data_dir(p, out, s), sync)
"""``csmetrics sync|import salesforce``."""

__all__ = ["CONNECTOR", "Result", "SalesforceSettings", "credentials", "import_dir", "import_to_data_dir", "sync"]
