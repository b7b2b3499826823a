"""`csmetrics token`, `survey link`, `report` and `serve` on the command line."""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from csmetrics import surveys
from csmetrics.cli.main import app as cli
from tests.conftest import FROZEN_NOW

runner = CliRunner()


def test_token_create_list_revoke(workspace: Path) -> None:
    res = runner.invoke(cli, ["token", "create", "--workspace", str(workspace), "--name", "ci"])
    assert res.exit_code == 0, res.output
    token = res.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"csm_[0-9a-f]{8}_[A-Za-z0-9_-]{40,}", token)
    token_id = token.split("_")[1]
    listed = runner.invoke(cli, ["token", "list", "--workspace", str(workspace)])
    assert listed.exit_code == 0 and token_id in listed.stdout and token not in listed.stdout
    assert runner.invoke(cli, ["token", "revoke", token_id, "--workspace", str(workspace)]).exit_code == 0
    bad = runner.invoke(cli, ["token", "revoke", "nope", "--workspace", str(workspace)])
    assert bad.exit_code == 2 and "no token" in bad.output


def test_survey_link_prints_a_signed_expiring_url(workspace: Path) -> None:
    res = runner.invoke(cli, ["survey", "link", "--workspace", str(workspace), "--account", "A0001",
                              "--survey", "csat", "--ticket", "T00010", "--base-url", "https://cs.example.com",
                              "--days", "3"])
    assert res.exit_code == 0, res.output
    url = res.stdout.strip().splitlines()[0]
    assert url.startswith("https://cs.example.com/survey/")
    link = surveys.verify_link_token(surveys.load_key(workspace), url.rsplit("/", 1)[1])
    assert (link.account_id, link.survey, link.ticket_id) == ("A0001", "csat", "T00010")
    # Made at the suite's pinned time (CSMETRICS_NOW), valid for exactly 3 days.
    assert link.expires == int((FROZEN_NOW + dt.timedelta(days=3)).timestamp())
    assert oct(surveys.key_path(workspace).stat().st_mode & 0o777) == "0o600"


def test_survey_link_refuses_an_unknown_survey(workspace: Path) -> None:
    res = runner.invoke(cli, ["survey", "link", "--workspace", str(workspace), "--account", "A0001", "--survey", "xyz"])
    assert res.exit_code != 0 and "unknown survey" in res.output


def test_report_is_a_self_contained_html_file(workspace: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    res = runner.invoke(cli, ["report", "--workspace", str(workspace), "--out", str(out)])
    assert res.exit_code == 0, res.output
    html = out.read_text(encoding="utf-8")
    # Nothing is fetched: no external scripts, stylesheets or images.
    assert not re.search(r"<(script|img|link|iframe)[^>]+(src|href)=", html)
    assert "Plotly" in html and html.count('type="application/json"') >= 5
    for section in ("overview", "revenue", "retention"):
        assert f'id="{section}"' in html
    assert "MRR bridge" in html and "Cohort retention" in html


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_serve_with_data_ingests_into_a_temporary_workspace_and_prints_a_token(company_dir: Path) -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "csmetrics.cli.main", "serve", "--data", str(company_dir), "--port", str(port)],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    try:
        token = None
        deadline = time.time() + 60
        assert proc.stderr is not None
        while time.time() < deadline and token is None:
            line = proc.stderr.readline()
            m = re.search(r"(csm_[0-9a-f]{8}_\S+)", line)
            if m:
                token = m.group(1)
        assert token, "serve did not print a token"
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                r = httpx.get(f"{base}/api/v1/metrics", params={"metrics": "mrr", "last": "1"},
                              headers={"Authorization": f"Bearer {token}"})
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        # The server process inherits the pinned clock: "the last period" is the pinned day's month.
        assert r.status_code == 200
        assert [(row["metric"], row["period"]) for row in r.json()] == [("mrr", FROZEN_NOW.strftime("%Y-%m"))]
        assert httpx.get(f"{base}/api/v1/metrics").status_code == 401
        assert not list(company_dir.glob("*.duckdb")), "the data directory is left untouched"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
