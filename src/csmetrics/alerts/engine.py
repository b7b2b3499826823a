"""Evaluate rules as of a day, record new alerts with their outbox rows, deliver the outbox.

The functions take a workspace path, an open DuckDB connection to a workspace
(``csmetrics serve`` passes its single writer, web/store.py) or a
:class:`~csmetrics.io.dataset.Dataset`. With a path the workspace is opened for
writing, so while ``csmetrics serve`` holds it they raise
:class:`~csmetrics.schema.errors.WorkspaceInUse` (exit 3 on the CLI).

Delivery guarantee (docs/alerts.md): an alert and its outbox rows are committed
in one transaction, so a crash loses neither. A delivery claims its row
(``status = 'sending'``, ``lease_until = now + lease_seconds``, attempts + 1) in
a committed transaction before sending, and marks it ``sent`` after. A process
killed between the send and the mark leaves the row ``sending``; once the lease
has passed the next run sends it again with the same idempotency key (the
outbox id: ``Idempotency-Key`` header of the webhook, ``Message-ID`` and
``X-Csmetrics-Idempotency-Key`` of the email). So delivery is at least once,
and exactly once at a receiver that ignores a key it has seen. Failures are
retried after ``backoff_seconds x 2^(attempts - 1)``; after ``max_attempts``
the row is ``failed`` with its ``last_error``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import ibis

from csmetrics import clock
from csmetrics.alerts import store
from csmetrics.alerts.channels import SENDERS, SendError
from csmetrics.alerts.kinds import KIND_FUNCTIONS, Context, Finding
from csmetrics.alerts.settings import SEVERITIES, AlertSettings, Rule, find_rules_file, load_settings
from csmetrics.alerts.store import Alert
from csmetrics.config import Config
from csmetrics.io.dataset import META, Dataset, open_workspace
from csmetrics.metrics import state
from csmetrics.models.health.config import HealthConfig, config_for
from csmetrics.schema.errors import UsageError
from csmetrics.schema.tables import TABLE_ORDER

__all__ = ["DeliveryReport", "Target", "after_write", "deliver", "evaluate", "probe", "session", "settings_for"]

Target = str | Path | duckdb.DuckDBPyConnection | Dataset
"""A workspace path, an open DuckDB connection to a workspace, or a Dataset."""

Sender = Callable[[dict[str, Any], str, Sequence[Alert], str], None]


def dataset_on(con: duckdb.DuckDBPyConnection, source: str = "workspace") -> Dataset:
    """A :class:`Dataset` over the tables of the workspace ``con`` is connected to (no second connection)."""
    backend = ibis.duckdb.from_connection(con)
    names = set(backend.list_tables())
    if "accounts" not in names:
        raise UsageError(f"{source} has no accounts table: run `csmetrics ingest --data DIR` first")
    config = Config()
    extras: dict[str, list[str]] = {}
    if META in names:
        stored = dict(con.execute(f"SELECT key, value FROM {META}").fetchall())
        config = Config(**json.loads(stored.get("config", "{}")))
        extras = json.loads(stored.get("extra_columns", "{}"))
    return Dataset(backend, {n: backend.table(n) for n in TABLE_ORDER if n in names}, config, source, extras)


@contextmanager
def session(target: Target) -> Iterator[tuple[Dataset, duckdb.DuckDBPyConnection]]:
    """(dataset, writing connection) of ``target``; a path is opened for writing and closed afterwards."""
    if isinstance(target, Dataset):
        yield target, target.backend.con
    elif isinstance(target, duckdb.DuckDBPyConnection):
        yield dataset_on(target), target
    else:
        ds = open_workspace(Path(target), read_only=False)
        try:
            yield ds, ds.backend.con
        finally:
            ds.backend.disconnect()


def _workspace_of(target: Target) -> Path | None:
    if isinstance(target, Dataset):
        return target.workspace
    if isinstance(target, str | Path):
        return Path(target)
    return None


def settings_for(target: Target, rules: str | Path | AlertSettings | None = None) -> AlertSettings:
    """``rules`` when settings, else the file ``rules`` or the lookup of :mod:`csmetrics.alerts.settings`."""
    if isinstance(rules, AlertSettings):
        return rules
    data_dir = None
    if isinstance(target, Dataset) and Path(target.source).is_dir():
        data_dir = Path(target.source)
    return load_settings(find_rules_file(rules, _workspace_of(target), data_dir))


def _accounts(ds: Dataset, ids: list[str], day: dt.date) -> dict[str, tuple[str, str | None, float]]:
    """account_id -> (name, csm, MRR on ``day``) for ``ids``, in one query."""
    acc = ds.table("accounts")
    acc = acc.filter(acc.account_id.isin(ids))
    cols = {"name": acc["name"] if "name" in acc.columns else acc.account_id,
            "csm": acc["csm"] if "csm" in acc.columns else ibis.null("string")}
    base = acc.select("account_id", **cols)
    if ds.has("subscriptions"):
        m = state.account_mrr_on(ds, [day])
        j = base.left_join(m, base.account_id == m.account_id)
        base = j.select(base.account_id, base.name, base.csm, mrr=j.mrr.fill_null(0).cast("float64"))
    else:
        base = base.mutate(mrr=ibis.literal(0.0, "float64"))
    df = ds.backend.execute(base)
    out = {}
    for r in df.itertuples(index=False):
        name = r.name if isinstance(r.name, str) and r.name else str(r.account_id)
        csm = r.csm if isinstance(r.csm, str) and r.csm.strip() else None
        out[str(r.account_id)] = (name, csm, round(float(r.mrr), 2))
    return out


def _as_of(ds: Dataset, as_of: dt.date | None) -> dt.date:
    from csmetrics.models.health.score import last_data_day

    return as_of or last_data_day(ds, clock.today())


def findings(ds: Dataset, as_of: dt.date, rules: Sequence[Rule],
             health: HealthConfig | None = None) -> list[tuple[Rule, Finding]]:
    """What each rule finds as of ``as_of`` (nothing recorded, no dedup or cool-down)."""
    ctx = Context(ds, as_of, health or config_for(ds.source))
    return [(rule, f) for rule in rules for f in KIND_FUNCTIONS[rule.kind](ctx, rule)]


def _recipients(settings: AlertSettings, a: Alert) -> list[tuple[str, str]]:
    out = []
    for name, ch in sorted(settings.channels.items()):
        if SEVERITIES.index(a.severity) < SEVERITIES.index(ch.get("min_severity", "info")):
            continue
        if name == "email":
            addr = settings.csms.get(a.csm or "") or ch.get("fallback") or f"csm:{a.csm or '(none)'}"
            out.append((name, addr))
        elif name == "slack":
            out.append((name, "slack"))
        else:
            out.append((name, ch["url"]))
    return out


def evaluate(target: Target, as_of: dt.date | None = None, rules: str | Path | AlertSettings | None = None, *,
             health: HealthConfig | None = None, record: bool = True, only: Sequence[str] | None = None) -> list[Alert]:
    """Evaluate the rules as of ``as_of`` (default: the last day with data) and record the new alerts.

    A finding becomes an alert unless its dedup key ``rule|account_id|event``
    is stored already, or the same rule alerted on the account less than
    ``cooldown_days`` before ``as_of`` (or a snooze of such an alert lasts
    past today). Alerts and their outbox rows are committed in one
    transaction. Returns the new alerts (with ``record=False``, those that
    would be raised, nothing written). ``only`` restricts to rule names.
    """
    with session(target) as (ds, con):
        settings = settings_for(target, rules)
        chosen = [r for n, r in settings.rules.items() if only is None or n in only]
        if only is not None:
            unknown = sorted(set(only) - set(settings.rules))
            if unknown:
                raise UsageError(f"rule {unknown[0]!r} is not a rule of {settings.source} "
                                 f"(rules: {', '.join(settings.rules)})")
        day = _as_of(ds, as_of)
        found = findings(ds, day, chosen, health)
        keys = [f"{r.name}|{f.account_id}|{f.event}" for r, f in found]
        seen = store.existing_keys(con, keys)
        quiet = store.quiet_until(con)
        today = clock.today()
        now = clock.now()
        info = _accounts(ds, sorted({f.account_id for _, f in found}), day) if found else {}
        new: list[Alert] = []
        for (rule, f), key in zip(found, keys, strict=True):
            if key in seen:
                continue
            last, snoozed = quiet.get((rule.name, f.account_id), (None, None))
            if last is not None and day < last + dt.timedelta(days=rule.cooldown_days):
                continue
            if snoozed is not None and today < snoozed:
                continue
            name, csm, mrr = info.get(f.account_id, (f.account_id, None, 0.0))
            mrr = float(f.details.get("mrr_at_stake", mrr))  # a rule may name another amount (a churn's lost MRR)
            a = Alert(store.alert_id(key), key, rule.name, rule.kind, f.account_id, name, csm, rule.severity,
                      f.reason, mrr, settings.link(f.account_id), f.event, day, now, f.details)
            new.append(a)
            seen.add(key)
            quiet[(rule.name, f.account_id)] = (day, snoozed)
        if record and new:
            deliveries = []
            for a in new:
                for channel, recipient in _recipients(settings, a):
                    due, digest_day = now, None
                    ch = settings.channels[channel]
                    if channel == "email" and ch.get("digest"):
                        digest_day = now.date()
                        due = dt.datetime.combine(digest_day + dt.timedelta(days=1),
                                                  dt.time(int(ch.get("digest_hour", 8))), tzinfo=dt.UTC)
                    deliveries.append((a.id, channel, recipient, due, digest_day))
            store.record(con, new, deliveries)
        return new


@dataclass
class DeliveryReport:
    """What one delivery run did: outbox ids sent, retried later, failed for good."""

    sent: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


_DUE = ("((status = 'pending' AND next_attempt_at <= ?) OR (status = 'sending' AND lease_until <= ?))")


def deliver(target: Target, rules: str | Path | AlertSettings | None = None, now: dt.datetime | None = None,
            senders: dict[str, Sender] | None = None, *,
            write: Callable[[Callable[[duckdb.DuckDBPyConnection], Any]], Any] | None = None) -> DeliveryReport:
    """Send every due outbox row once (pending and due, or claimed by a run whose lease has passed).

    ``now`` (default the clock) decides what is due and when a retry is due;
    ``senders`` replaces channel senders (tests). See the module docstring for
    the claim / send / mark protocol and the guarantee.

    ``write`` runs each database step: ``write(fn)`` must call ``fn(connection)``
    and return its result. The server passes ``Store.write``, so its write lock
    is held for each claim and mark but not while a message is being sent (a
    slow SMTP server or webhook never blocks survey answers). Default: the
    steps run directly on the connection.
    """
    senders = {**SENDERS, **(senders or {})}
    report = DeliveryReport()
    with session(target) as (_ds, con):
        run = write or (lambda fn: fn(con))
        settings = settings_for(target, rules)
        at = (now or clock.now()).astimezone(dt.UTC).replace(tzinfo=None)

        def due(c: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
            if not store.tables_exist(c):
                return []
            return c.execute(f"SELECT id, alert_id, channel, recipient, digest_day FROM {store.OUTBOX} "
                             f"WHERE {_DUE} ORDER BY created_at, id", [at, at]).fetchall()

        rows: list[tuple[Any, ...]] = run(due)
        groups: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
        for row in rows:
            oid, _aid, channel, recipient, digest_day = row
            groups.setdefault((channel, recipient, digest_day) if digest_day is not None else (oid,), []).append(row)
        lease = dt.timedelta(seconds=settings.delivery["lease_seconds"])
        for members in groups.values():
            ids = [m[0] for m in members]
            channel, recipient = members[0][2], members[0][3]

            def claim(c: duckdb.DuckDBPyConnection, ids: list[str] = ids,
                      alert_ids: list[str] = [m[1] for m in members]) -> list[Alert] | None:  # noqa: B006
                n = c.execute(f"UPDATE {store.OUTBOX} SET status = 'sending', lease_until = ?, "
                              f"attempts = attempts + 1 WHERE id IN (SELECT unnest(?)) AND {_DUE}",
                              [at + lease, ids, at, at]).fetchone()
                if not n or n[0] != len(ids):  # another run took some: leave them to it
                    return None
                return store.get(c, alert_ids)

            alerts = run(claim)
            if alerts is None:
                continue
            digest = hashlib.sha256("|".join(sorted(ids)).encode()).hexdigest()[:20]
            key = ids[0] if len(ids) == 1 else "digest-" + digest
            try:
                if channel not in settings.channels:
                    raise SendError(f"channel {channel} is not configured in {settings.source}")
                if recipient.startswith("csm:"):
                    raise SendError(f"no email address for CSM {recipient[4:]!r} ([csms] of {settings.source}) "
                                    "and no fallback ([channels.email] fallback)")
                senders[channel](settings.channels[channel], recipient, alerts, key)
            except SendError as exc:
                def failed(c: duckdb.DuckDBPyConnection, ids: list[str] = ids, error: str = str(exc)) -> None:
                    _failed(c, ids, error, at, settings, report)

                run(failed)
                continue

            def sent(c: duckdb.DuckDBPyConnection, ids: list[str] = ids) -> None:
                c.execute(f"UPDATE {store.OUTBOX} SET status = 'sent', sent_at = ?, lease_until = NULL, "
                          "last_error = NULL WHERE id IN (SELECT unnest(?))", [at, ids])

            run(sent)
            report.sent += ids
    return report


def _failed(con: duckdb.DuckDBPyConnection, ids: list[str], error: str, at: dt.datetime,
            settings: AlertSettings, report: DeliveryReport) -> None:
    attempts = con.execute(f"SELECT max(attempts) FROM {store.OUTBOX} WHERE id IN (SELECT unnest(?))",
                           [ids]).fetchone()[0]  # type: ignore[index]
    error = error[:500]
    if attempts >= settings.delivery["max_attempts"]:
        con.execute(f"UPDATE {store.OUTBOX} SET status = 'failed', lease_until = NULL, last_error = ? "
                    "WHERE id IN (SELECT unnest(?))", [error, ids])
        report.failed += ids
    else:
        wait = dt.timedelta(seconds=settings.delivery["backoff_seconds"] * 2 ** (attempts - 1))
        con.execute(f"UPDATE {store.OUTBOX} SET status = 'pending', lease_until = NULL, last_error = ?, "
                    "next_attempt_at = ? WHERE id IN (SELECT unnest(?))", [error, at + wait, ids])
        report.retrying += ids
    for i in ids:
        report.errors[i] = error


def after_write(workspace: Target, as_of: dt.date | None = None) -> tuple[list[Alert], DeliveryReport] | None:
    """Evaluate and deliver after ``ingest`` or ``sync`` wrote ``workspace``.

    Does nothing (returns None) unless an ``alerts.toml`` is next to the
    workspace file: a workspace whose team has not set alerts up is not sent
    anything. Otherwise evaluates as of the last data day, records, delivers,
    and returns (new alerts, delivery report); delivery failures are recorded
    in the outbox, not raised.
    """
    settings = settings_for(workspace)
    if not settings.configured:
        return None
    new = evaluate(workspace, as_of, settings)
    return new, deliver(workspace, settings)


def probe(target: Target, rule_name: str, account_id: str, as_of: dt.date | None = None,
          rules: str | Path | AlertSettings | None = None,
          health: HealthConfig | None = None) -> dict[str, Any]:
    """Why rule ``rule_name`` fires or not for ``account_id`` as of the day: the numbers, nothing recorded."""
    from csmetrics.alerts.kinds import numbers

    with session(target) as (ds, _con):
        settings = settings_for(target, rules)
        if rule_name not in settings.rules:
            raise UsageError(f"rule {rule_name!r} is not a rule of {settings.source} "
                             f"(rules: {', '.join(settings.rules)})")
        acc = ds.table("accounts")
        if ds.backend.execute(acc.filter(acc.account_id == account_id).count()) == 0:
            raise UsageError(f"account {account_id!r} is not in {ds.source}")
        rule = settings.rules[rule_name]
        day = _as_of(ds, as_of)
        ctx = Context(ds, day, health or config_for(ds.source))
        hits = [f for f in KIND_FUNCTIONS[rule.kind](ctx, rule) if f.account_id == account_id]
        return {"rule": rule.name, "kind": rule.kind, "account_id": account_id, "as_of": day.isoformat(),
                "params": dict(rule.params), "fires": bool(hits), "reasons": [f.reason for f in hits],
                "events": [f.event for f in hits], "numbers": numbers(ctx, rule, account_id)}
