"""Delivery over each channel to loopback receivers: SMTP (STARTTLS + login), Slack Block Kit, signed webhook."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import ssl
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from csmetrics import alerts
from tests.alerts.channels_util import Mailbox, free_port, self_signed, smtp_server
from tests.alerts.company import T, health
from tests.conftest import FROZEN_NOW

SECRET = "whsec_test_5ee7c0ffee"
PASSWORD = "smtp-pa55-word"
SLACK_TOKEN = "XXSLACKTOKENXX"


def _configure(ws: Path, text: str) -> None:
    (ws.parent / "alerts.toml").write_text(text, encoding="utf-8")


def _evaluate(ws: Path, only: list[str]) -> list[alerts.Alert]:
    return alerts.evaluate(ws, T, health=health(), only=only)


def test_email_goes_to_the_csm_over_starttls_with_login(ws: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    box, port = Mailbox(), free_port()
    controller = smtp_server(box, port, server_ctx, "alerts", PASSWORD)
    monkeypatch.setenv("TEST_SMTP_PASSWORD", PASSWORD)
    _configure(ws, f"""
[channels.email]
host = "127.0.0.1"
port = {port}
starttls = true
tls_ca_file = "{cert}"
user = "alerts"
password_env = "TEST_SMTP_PASSWORD"
from = "csmetrics <alerts@example.com>"
fallback = "cs-leads@example.com"

[csms]
"Ana Ruiz" = "ana@example.com"
""")
    try:
        (nps,) = _evaluate(ws, ["nps_detractor"])
        (usage,) = _evaluate(ws, ["usage_drop"])  # A3 has no CSM: the fallback address
        report = alerts.deliver(ws)
    finally:
        controller.stop()
    assert len(report.sent) == 2 and not report.failed
    assert box.logins == [("alerts", PASSWORD)] * 2 and box.tls == [True, True]
    got = {tuple(rcpt): msg for rcpt, msg in box.messages}
    msg = got[("ana@example.com",)]
    assert msg["Subject"] == "[csmetrics] warning: Acme - nps_detractor"
    assert msg["To"] == "ana@example.com"
    (row,) = alerts.list_alerts(ws, rule="nps_detractor")[0].deliveries
    assert (row["recipient"], row["status"], row["attempts"]) == ("ana@example.com", "sent", 1)
    assert nps.account_id == "A1"
    assert msg["Message-ID"] == f"<{row['id']}@example.com>"
    body = msg.get_payload(decode=True).decode()
    assert 'NPS 3 on 2026-06-12: "Too slow"' in body
    assert "MRR at stake: 1,000.00 a month; CSM: Ana Ruiz; as of 2026-06-15" in body
    assert "http://127.0.0.1:8000/accounts/A1" in body
    fallback = got[("cs-leads@example.com",)]
    assert fallback["Subject"] == "[csmetrics] warning: Gamma - usage_drop"
    assert usage.csm is None
    assert PASSWORD.encode() not in ws.read_bytes()


def test_email_digest_is_one_email_per_csm_per_day(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    box, port = Mailbox(), free_port()
    controller = smtp_server(box, port)  # plain SMTP, no login: the other configuration path
    _configure(ws, f"""
[channels.email]
host = "127.0.0.1"
port = {port}
from = "alerts@example.com"
fallback = "cs-leads@example.com"
digest = true
digest_hour = 8

[csms]
"Ana Ruiz" = "ana@example.com"
"Bo Chen" = "bo@example.com"
""")
    try:
        assert len(_evaluate(ws, ["nps_detractor", "health_worsens", "score_drop", "usage_drop"])) == 6
        # Raised on 2026-06-15: the digests are due on 06-16 at 08:00 UTC.
        assert alerts.deliver(ws, now=FROZEN_NOW + dt.timedelta(hours=6)).sent == []
        report = alerts.deliver(ws, now=dt.datetime(2026, 6, 16, 8, tzinfo=dt.UTC))
    finally:
        controller.stop()
    assert len(report.sent) == 6
    by_rcpt = {tuple(r): m for r, m in box.messages}
    assert sorted(by_rcpt) == [("ana@example.com",), ("bo@example.com",), ("cs-leads@example.com",)]
    # Ana Ruiz: NPS A1, health_worsens A7, score_drop A7.
    assert by_rcpt[("ana@example.com",)]["Subject"] == "[csmetrics] 3 alerts for Ana Ruiz on 2026-06-15"
    assert by_rcpt[("bo@example.com",)]["Subject"] == "[csmetrics] 2 alerts for Bo Chen on 2026-06-15"
    body = by_rcpt[("ana@example.com",)].get_payload(decode=True).decode()
    assert body.count("http://127.0.0.1:8000/accounts/") == 3


def test_slack_block_kit(ws: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    httpserver.expect_request(f"/services/T0/B0/{SLACK_TOKEN}", method="POST").respond_with_data("ok")
    monkeypatch.setenv("TEST_SLACK_URL", httpserver.url_for(f"/services/T0/B0/{SLACK_TOKEN}"))
    _configure(ws, '[channels.slack]\nurl_env = "TEST_SLACK_URL"\nmin_severity = "warning"\n')
    _evaluate(ws, ["csat_negative"])  # severity info: below min_severity, not sent
    (a,) = _evaluate(ws, ["mrr_contraction"])
    assert alerts.deliver(ws).sent and len(httpserver.log) == 1
    payload = json.loads(httpserver.log[0][0].get_data())
    blocks = payload["blocks"]
    assert [b["type"] for b in blocks] == ["header", "section", "section", "actions", "context"]
    assert blocks[0]["text"] == {"type": "plain_text", "text": "Critical: Epsilon"}
    assert blocks[1]["text"]["text"] == (":rotating_light: *mrr_contraction*: MRR down 300.00 USD in 2026-06 "
                                         "(contraction): 800.00 on 2026-05-31 -> 500.00 on 2026-06-15")
    assert [f["text"] for f in blocks[2]["fields"]] == ["*Account*\nEpsilon (A5)", "*CSM*\nBo Chen",
                                                        "*MRR at stake*\n500.00", "*As of*\n2026-06-15"]
    assert blocks[3]["elements"][0]["url"] == "http://127.0.0.1:8000/accounts/A5"
    assert blocks[4]["elements"][0]["text"] == f"alert {a.id}"
    assert payload["text"].startswith("critical: Epsilon - mrr_contraction: MRR down 300.00")


def test_slack_failure_never_shows_the_url(ws: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    httpserver.expect_request(f"/services/T0/B0/{SLACK_TOKEN}").respond_with_data("invalid_token", status=403)
    monkeypatch.setenv("TEST_SLACK_URL", httpserver.url_for(f"/services/T0/B0/{SLACK_TOKEN}"))
    _configure(ws, '[channels.slack]\nurl_env = "TEST_SLACK_URL"\n[delivery]\nmax_attempts = 1\n')
    _evaluate(ws, ["nps_detractor"])
    report = alerts.deliver(ws)
    (error,) = report.errors.values()
    assert error == "slack: HTTP 403: invalid_token"
    (failed,) = alerts.list_alerts(ws, status="failed")
    assert failed.deliveries[0]["last_error"] == error
    assert SLACK_TOKEN.encode() not in ws.read_bytes()


def _webhook(ws: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, extra: str = "") -> None:
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", SECRET)
    _configure(ws, f'[channels.webhook]\nurl = "{httpserver.url_for("/hook")}"\n'
                   f'secret_env = "TEST_WEBHOOK_SECRET"\n{extra}')


def test_webhook_is_signed_over_the_exact_body(ws: Path, httpserver: HTTPServer,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    _webhook(ws, httpserver, monkeypatch)
    (a,) = _evaluate(ws, ["nps_detractor"])
    report = alerts.deliver(ws)
    req: Request = httpserver.log[0][0]
    body = req.get_data()
    ts = req.headers["X-Csmetrics-Timestamp"]
    assert ts == str(int(FROZEN_NOW.timestamp())) == "1781524800"
    expected = hmac.new(SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert req.headers["X-Csmetrics-Signature"] == f"sha256={expected}"
    assert req.headers["Idempotency-Key"] == report.sent[0]
    payload = json.loads(body)
    assert payload["id"] == report.sent[0] and payload["type"] == "alerts"
    (got,) = payload["alerts"]
    assert (got["id"], got["account_id"], got["csm"], got["reason"], got["mrr"], got["link"]) == (
        a.id, "A1", "Ana Ruiz", 'NPS 3 on 2026-06-12: "Too slow"', 1000.0, "http://127.0.0.1:8000/accounts/A1")
    assert SECRET.encode() not in ws.read_bytes()


def test_webhook_500_then_200_retries_after_the_backoff(ws: Path, httpserver: HTTPServer,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    httpserver.expect_oneshot_request("/hook").respond_with_data("boom", status=500)
    httpserver.expect_request("/hook").respond_with_data("ok")
    _webhook(ws, httpserver, monkeypatch, "[delivery]\nbackoff_seconds = 30\n")
    _evaluate(ws, ["nps_detractor"])
    t0 = FROZEN_NOW
    first = alerts.deliver(ws, now=t0)
    (oid,) = first.retrying
    (row,) = alerts.outbox(ws)
    assert (row["status"], row["attempts"], row["last_error"]) == ("pending", 1, "webhook: HTTP 500: boom")
    assert row["next_attempt_at"] == dt.datetime(2026, 6, 15, 12, 0, 30)  # t0 + 30 s x 2^0
    assert alerts.deliver(ws, now=t0 + dt.timedelta(seconds=29)).sent == []  # not due yet: nothing sent
    assert alerts.deliver(ws, now=t0 + dt.timedelta(seconds=30)).sent == [oid]
    (row,) = alerts.outbox(ws)
    assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 2, None)
    assert len(httpserver.log) == 2
    keys = {r.headers["Idempotency-Key"] for r, _ in httpserver.log}
    assert keys == {oid}


def test_webhook_failing_for_good_ends_failed_with_the_error(ws: Path, httpserver: HTTPServer,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    httpserver.expect_request("/hook").respond_with_response(Response("down for maintenance", status=503))
    _webhook(ws, httpserver, monkeypatch, "[delivery]\nmax_attempts = 3\nbackoff_seconds = 10\n")
    (a,) = _evaluate(ws, ["nps_detractor"])
    t = FROZEN_NOW
    waits = []
    for _ in range(3):
        alerts.deliver(ws, now=t)
        (row,) = alerts.outbox(ws)
        if row["status"] == "pending":
            waits.append((row["next_attempt_at"] - t.replace(tzinfo=None)).total_seconds())
            t = row["next_attempt_at"].replace(tzinfo=dt.UTC)
    assert waits == [10.0, 20.0]  # 10 x 2^0, 10 x 2^1; the third attempt gives up
    assert (row["status"], row["attempts"], row["last_error"]) == ("failed", 3,
                                                                   "webhook: HTTP 503: down for maintenance")
    (failed,) = alerts.list_alerts(ws, status="failed")
    assert failed.id == a.id and failed.deliveries[0]["status"] == "failed"
    assert alerts.deliver(ws, now=t + dt.timedelta(days=1)).sent == []  # failed rows are not retried


def test_missing_secret_is_named_not_shown(ws: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    _webhook(ws, httpserver, monkeypatch, "[delivery]\nmax_attempts = 1\n")
    monkeypatch.delenv("TEST_WEBHOOK_SECRET")
    _evaluate(ws, ["nps_detractor"])
    assert list(alerts.deliver(ws).errors.values()) == [
        "environment variable TEST_WEBHOOK_SECRET (channels secret_env) is not set"]


def test_email_over_implicit_tls(ws: Path, tmp_path: Path) -> None:
    from aiosmtpd.controller import Controller

    cert, key = self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port, ssl_context=server_ctx)
    controller.start()
    _configure(ws, f'[channels.email]\nhost = "127.0.0.1"\nport = {port}\nssl = true\ntls_ca_file = "{cert}"\n'
                   'from = "alerts@example.com"\n[csms]\n"Bo Chen" = "bo@example.com"\n')
    try:
        _evaluate(ws, ["csat_negative"])
        assert len(alerts.deliver(ws).sent) == 1
    finally:
        controller.stop()
    ((rcpt, msg),) = box.messages
    assert rcpt == ["bo@example.com"] and msg["Subject"] == "[csmetrics] info: Beta - csat_negative"


def test_after_write_does_nothing_without_alerts_toml(ws: Path) -> None:
    assert alerts.after_write(ws) is None
    assert alerts.list_alerts(ws) == []


def test_after_write_evaluates_and_delivers(ws: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    _webhook(ws, httpserver, monkeypatch, "[rules.health_worsens]\nenabled = false\n[rules.score_drop]\n"
                                          "enabled = false\n[rules.renewal_risk]\nenabled = false\n")
    done = alerts.after_write(ws)  # as of the last data day, 2026-06-15
    assert done is not None
    new, report = done
    assert sorted(a.rule for a in new) == ["csat_negative", "mrr_contraction", "nps_detractor", "usage_drop"]
    assert len(report.sent) == 4 and len(httpserver.log) == 4
    assert alerts.after_write(ws) == ([], alerts.DeliveryReport())
