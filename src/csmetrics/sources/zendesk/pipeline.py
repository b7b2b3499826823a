"""``csmetrics sync zendesk`` / ``import zendesk`` / ``sources``: extract or read, map, land (docs/zendesk.md)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from csmetrics.config import Config
from csmetrics.io.validate import lit, q
from csmetrics.schema.errors import DataError, UsageError
from csmetrics.sources import FunctionConnector
from csmetrics.sources.settings import DEFAULT_MAX_AGE_DAYS, read_section
from csmetrics.sources.workspace import (
    Landing,
    RawObject,
    Result,
    land_objects,
    landed,
    objects_to_data_dir,
    stored_cursors,
)
from csmetrics.sources.zendesk.extract import SyncOptions, extract
from csmetrics.sources.zendesk.map import MapSettings, left_out, map_tables
from csmetrics.sources.zendesk.objects import read_dir

SOURCE = "zendesk"
EMAIL_ENV = "ZENDESK_EMAIL"
TOKEN_ENV = "ZENDESK_API_TOKEN"
SUBDOMAIN_ENV = "ZENDESK_SUBDOMAIN"
SETTINGS: dict[str, type | tuple[type, ...]] = {
    "subdomain": str, "account_id": str, "start_time": int, "timeout": (int, float), "max_retries": int,
    "max_wait": (int, float)}
"""Keys of ``[sources.zendesk]`` in csmetrics.toml, and their types."""

EXAMPLES = 5
"""Unmatched organizations named in the note after a sync or import."""

NOTES = {
    "deleted_tickets": "deleted ticket(s) are not in the tickets table",
    "tickets_without_organization": "ticket(s) without an organization are not in the tickets table (no account "
                                    "to give them)",
    "ratings_without_account": "satisfaction rating(s) of a ticket without an organization (or deleted, or not "
                               "landed) are not in survey_responses",
}
"""Records kept as raw objects but left out of the contract tables: a note each (counted in ``csmetrics sources``)."""


@dataclass(frozen=True)
class ZendeskSettings:
    """``[sources.zendesk]`` of csmetrics.toml (all optional)."""

    subdomain: str | None = None
    account_id: str = "external_id"
    start_time: int = 0
    """Unix time the first ticket export starts from (0: every ticket)."""
    timeout: float = 30.0
    max_retries: int = 5
    max_wait: float = 120.0
    base: Config = field(default_factory=Config)
    """The company settings of the same file, for a workspace created by the source."""
    max_age_days: float = DEFAULT_MAX_AGE_DAYS

    @classmethod
    def load(cls, path: Path | None) -> ZendeskSettings:
        """Read ``[sources.zendesk]`` of ``path`` (default ./csmetrics.toml when it exists)."""
        section = read_section(path, SOURCE, SETTINGS)
        v = section.values
        key = v.get("account_id", "external_id")
        fields_key = key.startswith("organization_fields.") and len(key) > len("organization_fields.")
        if key not in ("external_id", "id") and not fields_key:
            raise DataError([section.defect(SOURCE, "account_id", key,
                                            "is not external_id, id or organization_fields.<key>")])
        sub = v.get("subdomain")
        if sub is not None and (not sub or not all(c.isalnum() or c == "-" for c in sub)):
            raise DataError([section.defect(SOURCE, "subdomain", sub,
                                            "is not a Zendesk subdomain (expected the NAME of NAME.zendesk.com)")])
        for k in ("max_retries", "start_time"):
            if k in v and v[k] < 0:
                raise DataError([section.defect(SOURCE, k, v[k], "is negative (expected 0 or more)")])
        return cls(**v, base=section.base)

    def map(self, config: Config) -> MapSettings:
        return MapSettings(self.account_id, float(config.csat_scale_max))


def unmatched_examples(land: Landing, accounts: str) -> list[str]:
    """``account_id (name)`` of mapped accounts that no other source stored (read before the commit)."""
    other = "FALSE"
    if "accounts" in land.tables:
        have = {r[0] for r in land.con.execute("DESCRIBE ws.accounts").fetchall()}
        mine = f" AND t.source IS DISTINCT FROM {lit(SOURCE)}" if "source" in have else ""
        other = f"EXISTS (SELECT 1 FROM ws.accounts t WHERE t.account_id = z.account_id{mine})"
    rows = land.con.execute(f"SELECT account_id || coalesce(' (' || name || ')', '') FROM {q(accounts)} z "
                            f"WHERE NOT {other} ORDER BY account_id").fetchall()
    return [r[0] for r in rows]


def _land(land: Landing, objects: Iterable[RawObject], settings: ZendeskSettings, replace: Iterable[str],
          cursors: dict[str, str] | None, requests: int = 0) -> Result:
    unmatched: list[str] = []

    def extra(land: Landing, mapped: dict[str, str]) -> dict[str, str]:
        unmatched[:] = unmatched_examples(land, mapped["accounts"])
        return {f"count:{k}": str(n) for k, n in left_out(land.con).items()}

    mapper = settings.map(land.config)
    result = land_objects(land, objects, lambda con, raw: map_tables(con, raw, mapper), replace=replace,
                          cursors=cursors, requests=requests, extra=extra)
    if unmatched:
        shown = ", ".join(unmatched[:EXAMPLES]) + (", ..." if len(unmatched) > EXAMPLES else "")
        result.notes.append(f"{len(unmatched):,} organization(s) match no account of the CRM and are accounts of "
                            f"their own (no CSM: group (none)): {shown}")
    counts = left_out(land.con)
    for key, text in NOTES.items():
        if counts[key]:
            result.notes.append(f"{counts[key]:,} {text} (counted in `csmetrics sources`)")
    return result


def import_dir(directory: str | Path, workspace: str | Path, settings: ZendeskSettings | None = None,
               progress: Any = None) -> Result:
    """Read a directory of Zendesk JSON files (docs/zendesk.md#import), map it and land it in ``workspace``.

    Objects are added to (or replace, by id) those already landed; all-or-nothing.
    """
    settings = settings or ZendeskSettings()
    return landed(workspace, SOURCE, settings.base,
                  lambda land: _land(land, read_dir(Path(directory), progress), settings, (), None))


def import_to_data_dir(directory: str | Path, out: str | Path,
                       settings: ZendeskSettings | None = None) -> dict[str, int]:
    """Map a directory of Zendesk JSON files to contract CSV files in ``out`` (for ``csmetrics ingest``)."""
    settings = settings or ZendeskSettings()
    objects = read_dir(Path(directory))
    return objects_to_data_dir(objects, Path(out), SOURCE, settings.base,
                               lambda con, raw: map_tables(con, raw, settings.map(settings.base)), authority=False)


def credentials() -> tuple[str, str]:
    """The email and API token from the environment (never from a file)."""
    email = os.environ.get(EMAIL_ENV, "").strip()
    token = os.environ.get(TOKEN_ENV, "").strip()
    missing = [name for name, v in ((EMAIL_ENV, email), (TOKEN_ENV, token)) if not v]
    if missing:
        raise UsageError(f"no Zendesk credentials: set the environment variable(s) {' and '.join(missing)} "
                         "(an agent's email and an API token from Admin Center > Apps and integrations > "
                         "Zendesk API)")
    return email, token


def base_url(settings: ZendeskSettings, api_base: str | None) -> str:
    """``--api-base`` as given, else ``https://SUBDOMAIN.zendesk.com`` (settings, then $ZENDESK_SUBDOMAIN)."""
    if api_base:
        return api_base.rstrip("/")
    sub = settings.subdomain or os.environ.get(SUBDOMAIN_ENV, "").strip()
    if not sub:
        raise UsageError(f"no Zendesk subdomain: set [sources.zendesk] subdomain in csmetrics.toml or the "
                         f"environment variable {SUBDOMAIN_ENV} (the NAME of NAME.zendesk.com), or give --api-base")
    return f"https://{sub}.zendesk.com"


def sync(workspace: str | Path, settings: ZendeskSettings | None = None, api_base: str | None = None,
         full: bool = False, **options: Any) -> Result:
    """Pull what is new or changed from the Zendesk API into ``workspace`` (module docs of ``extract``).

    ``options`` go to :class:`SyncOptions` (``sleep``, ``progress``, ``page_size``...).
    """
    settings = settings or ZendeskSettings()
    base = base_url(settings, api_base)
    email, token = credentials()
    opts = SyncOptions(email=email, token=token, api_base=base, full=full, start_time=settings.start_time,
                       timeout=settings.timeout, max_retries=settings.max_retries, max_wait=settings.max_wait,
                       **options)

    def run(land: Landing) -> Result:
        got = extract(opts, stored_cursors(land))
        return _land(land, got.objects, settings, got.replace_types, got.cursors, got.requests)

    return landed(workspace, SOURCE, settings.base, run)


CONNECTOR = FunctionConnector(
    SOURCE, "Zendesk: organizations, tickets, ticket metrics, CSAT ratings", False, ZendeskSettings.load,
    import_dir, lambda p, out, s: import_to_data_dir(p, out, s), sync)
"""``csmetrics sync|import zendesk``."""

__all__ = ["CONNECTOR", "EMAIL_ENV", "SUBDOMAIN_ENV", "TOKEN_ENV", "ZendeskSettings",
           "base_url", "credentials", "import_dir", "import_to_data_dir", "sync", "unmatched_examples"]
