"""``csmetrics sync stripe`` / ``import stripe`` / ``sources``: extract or read, map, land (docs/stripe.md)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from csmetrics.config import Config
from csmetrics.schema.errors import DataError, UsageError
from csmetrics.sources import FunctionConnector
from csmetrics.sources.settings import DEFAULT_MAX_AGE_DAYS, read_section
from csmetrics.sources.stripe.extract import SyncOptions, extract
from csmetrics.sources.stripe.map import MapSettings, map_tables, unmatched_charges
from csmetrics.sources.stripe.objects import read_dir
from csmetrics.sources.workspace import (
    Landing,
    RawObject,
    Result,
    count_rows,
    land_objects,
    landed,
    matched_accounts,
    objects_to_data_dir,
    stored_cursors,
)

SOURCE = "stripe"
DEFAULT_KEY_ENV = "STRIPE_API_KEY"
SETTINGS: dict[str, type | tuple[type, ...]] = {
    "api_key_env": str, "account_id": str, "api_base": str, "timeout": (int, float),
    "max_retries": int, "max_wait": (int, float)}
"""Keys of ``[sources.stripe]`` in csmetrics.toml, and their types."""


@dataclass(frozen=True)
class StripeSettings:
    """``[sources.stripe]`` of csmetrics.toml (all optional)."""

    api_key_env: str = DEFAULT_KEY_ENV
    account_id: str = "id"
    api_base: str | None = None
    timeout: float = 30.0
    max_retries: int = 5
    max_wait: float = 60.0
    base: Config = field(default_factory=Config)
    """The company settings of the same file (base currency...) for a workspace created by the source."""

    max_age_days: float = DEFAULT_MAX_AGE_DAYS

    @classmethod
    def load(cls, path: Path | None) -> StripeSettings:
        """Read ``[sources.stripe]`` of ``path`` (default ./csmetrics.toml when it exists)."""
        section = read_section(path, SOURCE, SETTINGS)
        account_id = section.values.get("account_id", "id")
        if account_id != "id" and not (account_id.startswith("metadata.") and len(account_id) > len("metadata.")):
            raise DataError([section.defect(SOURCE, "account_id", account_id, "is not id or metadata.<key>")])
        return cls(**section.values, base=section.base)

    @property
    def map(self) -> MapSettings:
        return MapSettings(self.account_id)


def _land(land: Landing, objects: Iterable[RawObject], settings: StripeSettings, replace: Iterable[str],
          cursors: dict[str, str] | None, requests: int = 0) -> Result:
    def extra(land: Landing, mapped: dict[str, str]) -> dict[str, str]:
        return {"count:unmatched_charges": str(unmatched_charges(land.con))}

    def unmatched(land: Landing, mapped: dict[str, str]) -> int:
        if settings.map.metadata_key:
            return count_rows(land, "s_customers", "NOT keyed")
        return count_rows(land, mapped["accounts"]) - matched_accounts(land, mapped["accounts"])

    result = land_objects(land, objects, lambda con, raw: map_tables(con, raw, settings.map), replace=replace,
                          cursors=cursors, requests=requests, extra=extra, unmatched=unmatched)
    n = unmatched_charges(land.con)
    if n:
        result.notes.append(f"{n:,} charge(s) without a customer are not in the charges table "
                            "(counted in `csmetrics sources`)")
    return result


def import_dir(directory: str | Path, workspace: str | Path, settings: StripeSettings | None = None) -> Result:
    """Read a directory of Stripe JSON files (docs/stripe.md#import), map it and land it in ``workspace``.

    Objects are added to (or replace, by id) those already landed; all-or-nothing.
    """
    settings = settings or StripeSettings()
    return landed(workspace, SOURCE, settings.base,
                  lambda land: _land(land, read_dir(Path(directory)), settings, (), None))


def import_to_data_dir(directory: str | Path, out: str | Path,
                       settings: StripeSettings | None = None) -> dict[str, int]:
    """Map a directory of Stripe JSON files to contract CSV files in ``out`` (for ``csmetrics ingest``)."""
    settings = settings or StripeSettings()
    objects = read_dir(Path(directory))
    return objects_to_data_dir(objects, Path(out), SOURCE, settings.base,
                               lambda con, raw: map_tables(con, raw, settings.map), authority=False)


def api_key(settings: StripeSettings) -> str:
    """The secret key from the environment variable named in the settings (never from a file)."""
    key = os.environ.get(settings.api_key_env, "").strip()
    if not key:
        raise UsageError(f"no Stripe API key: set the environment variable {settings.api_key_env} "
                         "(its name is [sources.stripe] api_key_env in csmetrics.toml)")
    return key


def sync(workspace: str | Path, settings: StripeSettings | None = None, api_base: str | None = None,
         full: bool = False, **options: Any) -> Result:
    """Pull what is new or changed from the Stripe API into ``workspace`` (module docs of ``extract``).

    ``options`` go to :class:`SyncOptions` (``sleep``, ``progress``, ``page_size``...).
    """
    settings = settings or StripeSettings()
    opts = SyncOptions(api_key=api_key(settings), api_base=api_base or settings.api_base, full=full,
                       timeout=settings.timeout, max_retries=settings.max_retries, max_wait=settings.max_wait,
                       **options)

    def run(land: Landing) -> Result:
        got = extract(opts, {} if full else stored_cursors(land))
        return _land(land, got.objects, settings, got.replace_types, got.cursors, got.requests)

    return landed(workspace, SOURCE, settings.base, run)


def _import(path: Path, workspace: Path, settings: Any, progress: Any = None) -> Result:
    return import_dir(path, workspace, settings)


CONNECTOR = FunctionConnector(
    SOURCE, "Stripe: customers, subscriptions, invoices, charges (MRR)", False, StripeSettings.load,
    _import, lambda p, out, s: import_to_data_dir(p, out, s), sync)
"""``csmetrics sync|import stripe``."""

__all__ = ["CONNECTOR", "Result", "StripeSettings", "api_key", "import_dir", "import_to_data_dir", "sync"]
