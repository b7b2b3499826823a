"""`csmetrics alerts ...` end to end on the hand-made company (health kinds off: they use the packaged model)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from csmetrics.cli.main import app
from tests.io.test_cli import runner
from tests.io.test_lock import HOLD, WRITE_ADVICE, through

NO_HEALTH = ("[rules.health_worsens]\nenabled = false\n[rules.score_drop]\nenabled = false\n"
             "[rules.renewal_risk]\nenabled = false\n")


def _cli(*args: str) -> tuple[int, str, str]:
    r = runner().invoke(app, ["alerts", *args])
    return r.exit_code, r.stdout, r.stderr


def test_run_list_ack_snooze(ws: Path) -> None:
    (ws.parent / "alerts.toml").write_text(NO_HEALTH, encoding="utf-8")
    code, out, err = _cli("run", "--workspace", str(ws), "--as-of", "2026-06-15", "--format", "json")
    assert code == 0, err
    got = {(a["rule"], a["account_id"]): a for a in json.loads(out)}
    assert sorted(got) == [("csat_negative", "A2"), ("mrr_contraction", "A5"), ("nps_detractor", "A1"),
                           ("usage_drop", "A3")]
    assert got[("nps_detractor", "A1")]["reason"] == 'NPS 3 on 2026-06-12: "Too slow"'
    assert err.strip() == "delivery: 0 sent, 0 to retry, 0 failed"
    code, out, _ = _cli("run", "--workspace", str(ws), "--as-of", "2026-06-15")
    assert (code, out.strip()) == (0, "no new alerts")

    code, out, _ = _cli("list", "--workspace", str(ws), "--csm", "Bo Chen", "--format", "json")
    assert sorted(a["account_id"] for a in json.loads(out)) == ["A2", "A5"]
    nps = got[("nps_detractor", "A1")]["id"]
    code, out, _ = _cli("ack", nps, "--workspace", str(ws), "--by", "lead")
    assert (code, out.strip()) == (0, f"alert {nps} acknowledged by lead")
    usage = got[("usage_drop", "A3")]["id"]
    code, out, _ = _cli("snooze", usage, "--until", "2026-07-01", "--workspace", str(ws), "--by", "ana")
    assert (code, out.strip()) == (0, f"alert {usage} snoozed until 2026-07-01 by ana")
    code, out, _ = _cli("list", "--workspace", str(ws), "--status", "open", "--format", "json")
    assert sorted(a["account_id"] for a in json.loads(out)) == ["A2", "A5"]
    for columns in ("200", "80"):  # the reason keeps a readable column on an 80-column terminal too
        r = runner().invoke(app, ["alerts", "list", "--workspace", str(ws)], env={"COLUMNS": columns})
        assert r.exit_code == 0 and "4 alerts" in r.stdout
        cells = [line.split("│") for line in r.stdout.splitlines() if line.count("│") == 5]
        reasons = " ".join(" ".join(c[4].strip() for c in cells).split())  # the column, wrapped lines joined
        assert '"Too slow"' in reasons and '"Waited days"' in reasons
        assert "Bo Chen" in " ".join(c[2] for c in cells)


def test_test_shows_the_numbers_and_records_nothing(ws: Path) -> None:
    code, out, err = _cli("test", "usage_drop", "--account", "A3", "--workspace", str(ws), "--as-of", "2026-06-15",
                          "--format", "json")
    assert code == 0, err
    p = json.loads(out)
    assert p["fires"] is True
    assert p["reasons"] == ["usage down 60% over 30 days: 40 events vs 100 in the 30 days before"]
    assert p["numbers"] == {"paying": True, "events 2026-05-17..2026-06-15": 40, "events 2026-04-17..2026-05-16": 100}
    code, out, _ = _cli("test", "usage_drop", "--account", "A4", "--workspace", str(ws), "--as-of", "2026-06-15")
    assert code == 0 and "usage_drop (usage_drop) for A4 as of 2026-06-15: does not fire" in out
    assert "60" in out and "100" in out
    code, out, _ = _cli("list", "--workspace", str(ws), "--format", "json")
    assert json.loads(out) == []
    code, _, err = _cli("test", "usage_drop", "--account", "NOPE", "--workspace", str(ws))
    assert code == 2 and "account 'NOPE' is not in" in err
    code, _, err = _cli("test", "nope", "--account", "A1", "--workspace", str(ws))
    assert code == 2 and "rule 'nope' is not a rule of packaged" in err


def test_bad_rules_file_exits_2_naming_the_line(ws: Path, tmp_path: Path) -> None:
    rules = tmp_path / "mine.toml"
    rules.write_text("[rules.usage_drop]\ndrop = 2\n", encoding="utf-8")
    code, out, err = _cli("run", "--workspace", str(ws), "--rules", str(rules))
    assert code == 2 and out == ""
    assert f"{rules} line 2, setting rules.usage_drop.drop: '2.0' is out of range" in err


def test_deliver_and_outbox_show_failures_without_secrets(ws: Path, httpserver: HTTPServer,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    secret, token = "whsec_never_shown_42", "TOKENNEVERSHOWN"
    httpserver.expect_request("/hook").respond_with_data("nope", status=500)
    httpserver.expect_request(f"/services/{token}").respond_with_data("no_service", status=404)
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", secret)
    monkeypatch.setenv("TEST_SLACK_URL", httpserver.url_for(f"/services/{token}"))
    (ws.parent / "alerts.toml").write_text(
        NO_HEALTH + f'[channels.webhook]\nurl = "{httpserver.url_for("/hook")}"\n'
        'secret_env = "TEST_WEBHOOK_SECRET"\n[channels.slack]\nurl_env = "TEST_SLACK_URL"\n'
        "[delivery]\nmax_attempts = 1\n", encoding="utf-8")
    code, out1, err1 = _cli("run", "--workspace", str(ws), "--as-of", "2026-06-15", "--no-deliver")
    assert code == 0 and "4 new alerts" in out1 and err1 == ""
    code, out2, err2 = _cli("deliver", "--workspace", str(ws))
    assert code == 0
    assert err2.splitlines()[0] == "delivery: 0 sent, 0 to retry, 8 failed"
    assert "webhook: HTTP 500: nope" in err2 and "slack: HTTP 404: no_service" in err2
    code, out3, _ = _cli("outbox", "--workspace", str(ws), "--status", "failed", "--format", "json")
    rows = json.loads(out3)
    assert len(rows) == 8 and {r["status"] for r in rows} == {"failed"}
    code, out4, _ = _cli("list", "--workspace", str(ws), "--status", "failed", "--format", "json")
    assert len(json.loads(out4)) == 4
    everything = out1 + err1 + out2 + err2 + out3 + out4
    assert secret not in everything and token not in everything
    assert secret.encode() not in ws.read_bytes() and token.encode() not in ws.read_bytes()


def test_a_held_workspace_fails_with_exit_3(ws: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(ws)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        for args in (["run"], ["list"], ["deliver"], ["ack", "x"], ["test", "usage_drop", "--account", "A3"]):
            code, out, err = _cli(*args, "--workspace", str(ws))
            assert code == 3, (args, err)
            way_round = through("csmetrics alerts run") if args == ["run"] else ""  # the server can run it
            assert err.splitlines() == [f"error: workspace {ws} is in use by another process (PID {proc.pid}; "
                                        f"`csmetrics serve`?): {WRITE_ADVICE}{way_round}"]
    finally:
        proc.communicate("\n", timeout=30)
