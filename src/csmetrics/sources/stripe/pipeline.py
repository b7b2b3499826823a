"""``csmetrics sync stripe`` / ``import stripe`` / ``sources``: extract or read, map, land (docs/stripe.md)."""

from __future__ import annotations

import datetime as dt
import os
import time
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from csmetrics import clock
from csmetrics.config import Config
from csmetrics.io.validate import lit, q
from csmetrics.schema.errors import DataError, Defect, UsageError
from csmetrics.sources import SourceError
from csmetrics.sources.stripe.extract import SyncOptions, extract
from csmetrics.sources.stripe.map import MapSettings, map_tables, unmatched_charges
from csmetrics.sources.stripe.objects import read_dir
from csmetrics.sources.workspace import (
    Landing,
    RawObject,
    build_raw_all,
    commit,
    contract_changes,
    matched_accounts,
    now_iso,
    open_landing,
    raw_changes,
    read_state,
    stage,
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

    @classmethod
    def load(cls, path: Path | None) -> StripeSettings:
        """Read ``path`` (default ./csmetrics.toml when it exists)."""
        if path is None:
            path = Path("csmetrics.toml")
            if not path.exists():
                return cls()
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise DataError([Defect(str(path), None, None, None, f"is not a readable TOML file: {exc}")]) from exc
        section = raw.get("sources", {}).get(SOURCE, {})
        defects = []
        for k, v in section.items():
            want = SETTINGS.get(k)
            if want is None:
                defects.append(Defect(path.name, None, f"sources.stripe.{k}", None,
                                      "is not a known setting (known: " + ", ".join(sorted(SETTINGS)) + ")",
                                      column_kind="setting"))
            elif not isinstance(v, want) or isinstance(v, bool):
                defects.append(Defect(path.name, None, f"sources.stripe.{k}", str(v), "has the wrong type",
                                      column_kind="setting"))
        account_id = section.get("account_id", "id")
        if isinstance(account_id, str) and account_id != "id" and not (
                account_id.startswith("metadata.") and len(account_id) > len("metadata.")):
            defects.append(Defect(path.name, None, "sources.stripe.account_id", account_id,
                                  "is not id or metadata.<key>", column_kind="setting"))
        if defects:
            raise DataError(defects)
        base = Config.from_dict({k: v for k, v in raw.items() if k != "sources"}, path.name)
        return cls(**{k: v for k, v in section.items()}, base=base)

    @property
    def map(self) -> MapSettings:
        return MapSettings(self.account_id)


@dataclass
class Result:
    """What a sync or import did."""

    changed: bool
    objects: int
    raw_changed: int
    rows: dict[str, int]
    matched: int
    unmatched: int
    unmatched_charges: int
    requests: int = 0
    seconds: float = 0.0


def _land(land: Landing, objects: Iterable[RawObject], settings: StripeSettings, replace: Iterable[str],
          cursors: dict[str, str], requests: int = 0) -> Result:
    t0 = time.perf_counter()
    stage(land, objects)
    build_raw_all(land, replace)
    changed_raw = raw_changes(land)
    mapped = map_tables(land.con, "raw_all", settings.map)
    counts = {t: _count(land, temp) for t, temp in mapped.items()}
    matched = matched_accounts(land, mapped["accounts"])
    keyless = _count(land, "s_customers", "NOT keyed") if settings.map.metadata_key else None
    unmatched = keyless if keyless is not None else counts["accounts"] - matched
    n_objects = _count(land, "raw_all")
    newest = land.con.execute("SELECT max(created) FROM raw_all").fetchone()
    state = {k: v for k, v in land.state.items() if not k.startswith("cursor:")}
    state.update({f"cursor:{k}": v for k, v in cursors.items()})
    state.update({"objects": str(n_objects), "matched": str(matched), "unmatched": str(unmatched),
                  "unmatched_charges": str(unmatched_charges(land.con)),
                  "newest_object": str(newest[0] if newest and newest[0] else 0)})
    state.update({f"rows:{t}": str(n) for t, n in counts.items()})
    same_state = all(land.state.get(k) == v for k, v in state.items() if k != "last_sync")
    if changed_raw == 0 and same_state and not contract_changes(land, mapped):
        return Result(False, n_objects, 0, counts, matched, unmatched, int(state["unmatched_charges"]), requests,
                      time.perf_counter() - t0)
    state["last_sync"] = now_iso()
    commit(land, mapped, state)
    return Result(True, n_objects, changed_raw, counts, matched, unmatched, int(state["unmatched_charges"]),
                  requests, time.perf_counter() - t0)


def _count(land: Landing, table: str, where: str = "TRUE") -> int:
    row = land.con.execute(f"SELECT count(*) FROM {q(table)} WHERE {where}").fetchone()
    return int(row[0]) if row else 0


def import_dir(directory: str | Path, workspace: str | Path, settings: StripeSettings | None = None) -> Result:
    """Read a directory of Stripe JSON files (docs/stripe.md#import), map it and land it in ``workspace``.

    Objects are added to (or replace, by id) those already landed; all-or-nothing.
    """
    settings = settings or StripeSettings()
    objects = read_dir(Path(directory))
    land = open_landing(Path(workspace), SOURCE, settings.base)
    try:
        cursors = {k.removeprefix("cursor:"): v for k, v in land.state.items() if k.startswith("cursor:")}
        return _land(land, objects, settings, (), cursors)
    finally:
        land.close()


def import_to_data_dir(directory: str | Path, out: str | Path,
                       settings: StripeSettings | None = None) -> dict[str, int]:
    """Map a directory of Stripe JSON files to contract CSV files in ``out`` (for ``csmetrics ingest``)."""
    settings = settings or StripeSettings()
    objects = read_dir(Path(directory))
    out = Path(out)
    land = open_landing(out / ".no-workspace.duckdb", SOURCE, settings.base)
    try:
        stage(land, objects)
        build_raw_all(land)
        mapped = map_tables(land.con, "raw_all", settings.map)
        out.mkdir(parents=True, exist_ok=True)
        counts = {}
        for table, temp in mapped.items():
            land.con.execute(f"COPY {q(temp)} TO {lit(str(out / (table + '.csv')))} (HEADER, DELIMITER ',')")
            counts[table] = _count(land, temp)
        return counts
    finally:
        land.close()


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
    t0 = time.perf_counter()
    opts = SyncOptions(api_key=api_key(settings), api_base=api_base or settings.api_base, full=full,
                       timeout=settings.timeout, max_retries=settings.max_retries, max_wait=settings.max_wait,
                       **options)
    land = open_landing(Path(workspace), SOURCE, settings.base)
    try:
        cursors = {k.removeprefix("cursor:"): v for k, v in land.state.items() if k.startswith("cursor:")}
        got = extract(opts, {} if full else cursors)
        result = _land(land, got.objects, settings, got.replace_types, got.cursors, got.requests)
    except SourceError:
        raise
    finally:
        land.close()
    result.seconds = time.perf_counter() - t0
    return result


def status(workspace: str | Path) -> list[dict[str, Any]]:
    """Per source: last sync, objects, rows, matched / unmatched accounts, staleness (``csmetrics sources``)."""
    workspace = Path(workspace)
    if not workspace.exists():
        raise UsageError(f"workspace {workspace} does not exist")
    out = []
    now = clock.now()
    for source, st in read_state(workspace).items():
        last = st.get("last_sync")
        newest = int(st.get("newest_object", "0") or 0)
        stale = (now - dt.datetime.fromisoformat(last)).total_seconds() / 86400 if last else None
        out.append({
            "source": source,
            "last_sync": last,
            "staleness_days": None if stale is None else round(stale, 2),
            "newest_object": dt.datetime.fromtimestamp(newest, dt.UTC).isoformat(timespec="seconds")
            if newest else None,
            "objects": int(st.get("objects", "0")),
            "accounts": int(st.get("rows:accounts", "0")),
            "subscriptions": int(st.get("rows:subscriptions", "0")),
            "charges": int(st.get("rows:charges", "0")),
            "matched": int(st.get("matched", "0")),
            "unmatched": int(st.get("unmatched", "0")),
            "unmatched_charges": int(st.get("unmatched_charges", "0")),
        })
    return out


__all__ = ["Result", "StripeSettings", "api_key", "import_dir", "import_to_data_dir", "status", "sync"]
