"""Delivery channels: email over SMTP, Slack incoming webhook, signed generic webhook.

Each sender takes the channel's settings (its ``[channels.NAME]`` table), the
recipient, the alerts and the idempotency key (the outbox row's id), and
raises :class:`SendError` on failure. Secrets are read from the environment
variables the settings name, at send time, and never appear in an error.

Generic webhook signature (Stripe-style, so receivers can reject replays)::

    X-Csmetrics-Timestamp: 1781524800               (Unix seconds, when sent)
    X-Csmetrics-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
    Idempotency-Key: <outbox id>                    (the same on every retry)

A receiver recomputes the HMAC over the exact bytes of the body, compares it in
constant time, rejects a timestamp more than a few minutes old, and ignores an
Idempotency-Key it has already processed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from csmetrics import clock
from csmetrics.alerts.store import Alert

__all__ = ["SendError", "email_message", "send_email", "send_slack", "send_webhook", "sign", "slack_blocks",
           "webhook_body"]

SEVERITY_ICON = {"info": ":information_source:", "warning": ":warning:", "critical": ":rotating_light:"}


class SendError(Exception):
    """A delivery failed; the message is safe to store and show (no secret in it)."""


def secret(settings: dict[str, Any], key: str) -> str:
    """The value of the environment variable named by ``settings[key]``; SendError naming the variable if unset."""
    name = settings[key]
    value = os.environ.get(name)
    if not value:
        raise SendError(f"environment variable {name} (channels {key}) is not set")
    return value


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every secret replaced by ``***`` (error texts of libraries may quote a URL)."""
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    return text


def _money(v: float) -> str:
    return f"{v:,.2f}"


# -- email -------------------------------------------------------------------------------------

def email_message(settings: dict[str, Any], recipient: str, alerts: Sequence[Alert], key: str) -> EmailMessage:
    """The email of ``alerts`` to ``recipient`` (one alert, or a digest of several), Message-ID from ``key``."""
    msg = EmailMessage()
    msg["From"] = settings["from"]
    msg["To"] = recipient
    msg["Date"] = format_datetime(clock.now())
    domain = settings["from"].rsplit("@", 1)[-1].strip(">") or "csmetrics"
    msg["Message-ID"] = f"<{key}@{domain}>"
    msg["X-Csmetrics-Idempotency-Key"] = key
    if len(alerts) == 1:
        a = alerts[0]
        msg["Subject"] = f"[csmetrics] {a.severity}: {a.account_name} - {a.rule}"
    else:
        who = alerts[0].csm or "unassigned accounts"
        msg["Subject"] = f"[csmetrics] {len(alerts)} alerts for {who} on {alerts[0].raised_at.date().isoformat()}"
    parts = []
    for a in alerts:
        parts.append(
            f"{a.severity.upper()} {a.rule}: {a.account_name} ({a.account_id})\n"
            f"  {a.reason}\n"
            f"  MRR at stake: {_money(a.mrr)} a month; CSM: {a.csm or '(none)'}; as of {a.as_of.isoformat()}\n"
            f"  {a.link}\n")
    msg.set_content("\n".join(parts) + "\n-- csmetrics alerts (alert ids: "
                    + ", ".join(a.id for a in alerts) + ")\n")
    return msg


def send_email(settings: dict[str, Any], recipient: str, alerts: Sequence[Alert], key: str) -> None:
    password = secret(settings, "password_env") if settings.get("user") else ""
    msg = email_message(settings, recipient, alerts, key)
    timeout = float(settings.get("timeout", 30))
    context = ssl.create_default_context(cafile=settings.get("tls_ca_file"))
    try:
        cls = smtplib.SMTP_SSL if settings.get("ssl") else smtplib.SMTP
        kwargs: dict[str, Any] = {"context": context} if settings.get("ssl") else {}
        with cls(settings["host"], int(settings.get("port", 465 if settings.get("ssl") else 25)),
                 timeout=timeout, **kwargs) as smtp:
            if settings.get("starttls", False) and not settings.get("ssl"):
                smtp.starttls(context=context)
            if settings.get("user"):
                smtp.login(settings["user"], password)
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
        raise SendError(scrub(f"smtp {settings['host']}: {type(exc).__name__}: {exc}", [password])) from None


# -- Slack -------------------------------------------------------------------------------------

def slack_blocks(a: Alert) -> list[dict[str, Any]]:
    """The Block Kit blocks of one alert: header, the reason, the facts as fields, a button to the account."""
    return [
        {"type": "header",
         "text": {"type": "plain_text", "text": f"{a.severity.capitalize()}: {a.account_name}"[:150]}},
        {"type": "section", "text": {"type": "mrkdwn",
                                     "text": f"{SEVERITY_ICON.get(a.severity, '')} *{a.rule}*: {a.reason}"[:3000]}},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*Account*\n{a.account_name} ({a.account_id})"},
            {"type": "mrkdwn", "text": f"*CSM*\n{a.csm or '(none)'}"},
            {"type": "mrkdwn", "text": f"*MRR at stake*\n{_money(a.mrr)}"},
            {"type": "mrkdwn", "text": f"*As of*\n{a.as_of.isoformat()}"},
        ]},
        {"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Open account"}, "url": a.link,
             "action_id": f"open-{a.id}"}]},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"alert {a.id}"}]},
    ]


def send_slack(settings: dict[str, Any], recipient: str, alerts: Sequence[Alert], key: str) -> None:
    from slack_sdk.webhook import WebhookClient

    url = secret(settings, "url_env")
    client = WebhookClient(url, timeout=int(settings.get("timeout", 30)))
    for a in alerts:
        try:
            resp = client.send(text=f"{a.severity}: {a.account_name} - {a.rule}: {a.reason}",
                               blocks=slack_blocks(a))
        except Exception as exc:  # urllib errors quote the URL: scrubbed below
            raise SendError(scrub(f"slack: {type(exc).__name__}: {exc}", [url])) from None
        if resp.status_code != 200:
            raise SendError(scrub(f"slack: HTTP {resp.status_code}: {str(resp.body)[:200]}", [url]))


# -- generic webhook ---------------------------------------------------------------------------

def webhook_body(alerts: Sequence[Alert], key: str) -> bytes:
    """The JSON body: ``{"id": <idempotency key>, "type": "alerts", "alerts": [<alert>...]}`` (compact, sorted keys)."""
    items = []
    for a in alerts:
        d = a.to_dict()
        d.pop("deliveries", None)
        items.append(d)
    return json.dumps({"id": key, "type": "alerts", "alerts": items}, sort_keys=True,
                      separators=(",", ":")).encode()


def sign(secret_value: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 with ``secret_value`` over ``f"{timestamp}.".encode() + body``."""
    mac = hmac.new(secret_value.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def send_webhook(settings: dict[str, Any], recipient: str, alerts: Sequence[Alert], key: str) -> None:
    import httpx

    key_value = secret(settings, "secret_env")
    body = webhook_body(alerts, key)
    ts = int(clock.now().timestamp())
    headers = {"Content-Type": "application/json", "User-Agent": "csmetrics-alerts",
               "X-Csmetrics-Timestamp": str(ts), "X-Csmetrics-Signature": sign(key_value, ts, body),
               "Idempotency-Key": key}
    try:
        resp = httpx.post(settings["url"], content=body, headers=headers, timeout=float(settings.get("timeout", 30)))
    except httpx.HTTPError as exc:
        raise SendError(scrub(f"webhook: {type(exc).__name__}: {exc}", [key_value])) from None
    if not 200 <= resp.status_code < 300:
        raise SendError(scrub(f"webhook: HTTP {resp.status_code}: {resp.text[:200]}", [key_value]))


SENDERS = {"email": send_email, "slack": send_slack, "webhook": send_webhook}
