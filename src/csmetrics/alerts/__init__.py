"""Alerts: rules evaluated as of a day, stored with an outbox, delivered by email, Slack or a signed webhook.

- :mod:`~csmetrics.alerts.settings`: rules (packaged ``rules.toml`` + ``alerts.toml``), channels, CSM addresses;
- :mod:`~csmetrics.alerts.kinds`: the rule kinds (Ibis over the workspace tables, point in time);
- :mod:`~csmetrics.alerts.store`: the alerts and outbox tables, acknowledge, snooze, list;
- :mod:`~csmetrics.alerts.channels`: SMTP, Slack incoming webhook, HMAC-signed webhook;
- :mod:`~csmetrics.alerts.engine`: evaluate, deliver (claim, send, mark; retries with backoff), after_write.

The functions accept a workspace path or an open DuckDB connection (the
server's writer). Docs: docs/alerts.md.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from csmetrics import clock
from csmetrics.alerts import store as _store
from csmetrics.alerts.engine import DeliveryReport, Target, after_write, deliver, evaluate, probe, session
from csmetrics.alerts.settings import AlertSettings, Rule, load_settings
from csmetrics.alerts.store import Alert

__all__ = ["Alert", "AlertSettings", "DeliveryReport", "Rule", "Target", "acknowledge", "after_write", "deliver",
           "evaluate", "list_alerts", "load_settings", "outbox", "probe", "snooze"]




def acknowledge(target: Target, alert_id: str, by: str) -> Alert:
    """Mark alert ``alert_id`` acknowledged by ``by``."""
    with session(target) as (_ds, con):
        return _store.acknowledge(con, alert_id, by)


def snooze(target: Target, alert_id: str, until: dt.date, by: str) -> Alert:
    """Snooze alert ``alert_id`` until ``until`` (its rule raises nothing new for the account before then)."""
    with session(target) as (_ds, con):
        return _store.snooze(con, alert_id, until, by)


def list_alerts(target: Target, status: str | None = None, csm: str | None = None, rule: str | None = None,
                account_id: str | None = None) -> list[Alert]:
    """Stored alerts, newest first, with their deliveries (``status='failed'``: a delivery failed)."""
    with session(target) as (_ds, con):
        return _store.list_alerts(con, status, csm, rule, account_id, clock.today())


def outbox(target: Target, status: str | None = None) -> list[dict[str, Any]]:
    """The outbox rows (one per alert x channel x recipient), oldest first."""
    with session(target) as (_ds, con):
        return _store.outbox_rows(con, status)
