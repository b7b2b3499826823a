"""`csmetrics token ... --server URL` and `csmetrics ingest --server URL` against a real `csmetrics serve`
holding the workspace; without --server they exit 3 naming --server."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from csmetrics.cli.main import app as cli
from csmetrics.io import ingest
from tests.web.book import ANN, make_book_company
from tests.web.serving import serving

runner = CliRunner()
MAY = {"metrics": "mrr", "start": "2026-05-01", "end": "2026-06-01"}


@pytest.mark.slow
def test_token_and_ingest_go_through_the_server_holding_the_workspace(tmp_path: Path) -> None:
    ws = tmp_path / "ws" / "workspace.duckdb"
    ingest(make_book_company(tmp_path / "data"), ws)
    more = make_book_company(tmp_path / "more")
    with (more / "accounts.csv").open("a", encoding="utf-8") as f:
        f.write("A3,Ann Three,2026-02-01,smb,Ann\n")
    with (more / "subscriptions.csv").open("a", encoding="utf-8") as f:
        f.write("SA3,A3,2026-02-01,,25,month\n")
    bad = make_book_company(tmp_path / "bad")
    with (bad / "subscriptions.csv").open("a", encoding="utf-8") as f:
        f.write("SX,A1,2026-02-30,,25,month\n")
    with serving("--workspace", str(ws)) as server:
        assert server.token is not None
        admin = {"Authorization": f"Bearer {server.token}"}
        env = {"CSMETRICS_TOKEN": server.token}

        # Without --server: the workspace is held, exit 3, and the message says how to go through the server.
        for args in (["token", "create", "--workspace", str(ws)], ["token", "list", "--workspace", str(ws)],
                     ["ingest", "--data", str(more), "--workspace", str(ws)]):
            held = runner.invoke(cli, args)
            assert held.exit_code == 3, held.output
            assert "in use by `csmetrics serve`" in held.output and "--server URL" in held.output
            assert "CSMETRICS_TOKEN" in held.output

        made = runner.invoke(cli, ["token", "create", "--server", server.base, "--name", "ann",
                                   "--role", f"csm:{ANN}"], env=env)
        assert made.exit_code == 0, made.output
        ann_token = made.stdout.strip().splitlines()[-1]
        assert re.fullmatch(r"csm_[0-9a-f]{8}_[A-Za-z0-9_-]{40,}", ann_token)
        assert server.token not in made.output  # the admin token of the environment is never printed
        mine = httpx.get(f"{server.base}/api/v1/accounts", headers={"Authorization": f"Bearer {ann_token}"})
        assert [a["account_id"] for a in mine.json()] == ["A1", "A2"]

        listed = runner.invoke(cli, ["token", "list", "--server", server.base], env=env)
        assert listed.exit_code == 0 and ann_token.split("_")[1] in listed.stdout and f"csm:{ANN}" in listed.stdout
        assert ann_token not in listed.stdout and server.token not in listed.stdout

        assert httpx.get(f"{server.base}/api/v1/metrics", params=MAY, headers=admin).json()[0]["value"] == 350.0
        done = runner.invoke(cli, ["ingest", "--data", str(more), "--server", server.base], env=env)
        assert done.exit_code == 0, done.output
        # Served at once, without a restart: MRR of May 350 + 25.
        assert httpx.get(f"{server.base}/api/v1/metrics", params=MAY, headers=admin).json()[0]["value"] == 375.0

        refused = runner.invoke(cli, ["ingest", "--data", str(bad), "--server", server.base], env=env)
        assert refused.exit_code == 2
        assert "subscriptions.csv row 6, column started_at: '2026-02-30'" in refused.output
        assert httpx.get(f"{server.base}/api/v1/metrics", params=MAY, headers=admin).json()[0]["value"] == 375.0

        # A csm token cannot administer; no token at all is a usage error naming the variable.
        weak = runner.invoke(cli, ["ingest", "--data", str(more), "--server", server.base],
                             env={"CSMETRICS_TOKEN": ann_token})
        assert weak.exit_code == 2 and "needs an admin token" in weak.output
        none = runner.invoke(cli, ["token", "list", "--server", server.base], env={"CSMETRICS_TOKEN": ""})
        assert none.exit_code == 2 and "CSMETRICS_TOKEN" in none.output

        gone = runner.invoke(cli, ["token", "revoke", ann_token.split("_")[1], "--server", server.base], env=env)
        assert gone.exit_code == 0, gone.output
        assert httpx.get(f"{server.base}/api/v1/accounts",
                         headers={"Authorization": f"Bearer {ann_token}"}).status_code == 401
        events = httpx.get(f"{server.base}/api/v1/audit", headers=admin).json()
        assert [e["outcome"][:5] for e in events if e["action"] == "ingest"] == ["fail:", "ok"]
        denied = [(e["actor"], e["role"], e["target"]) for e in events if e["action"] == "forbidden"]
        assert denied == [(ann_token.split("_")[1], f"csm:{ANN}", "POST /api/v1/ingest")]

    # Stopped: the audit log is read from the workspace file itself.
    audit = runner.invoke(cli, ["audit", "--workspace", str(ws), "--action", "token.revoke"], env={"COLUMNS": "200"})
    assert audit.exit_code == 0 and ann_token.split("_")[1] in audit.stdout and "token.revoke" in audit.stdout


def test_server_url_must_be_a_url_and_the_server_must_answer(tmp_path: Path) -> None:
    r = runner.invoke(cli, ["token", "list", "--server", "localhost:1"], env={"CSMETRICS_TOKEN": "csm_x_y"})
    assert r.exit_code == 2 and "expected the server's URL" in r.output
    from tests.web.serving import free_port

    gone = runner.invoke(cli, ["token", "list", "--server", f"http://127.0.0.1:{free_port()}"],
                         env={"CSMETRICS_TOKEN": "csm_x_y"})
    assert gone.exit_code == 3 and "no csmetrics server answered" in gone.output and "csm_x_y" not in gone.output
