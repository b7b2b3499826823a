"""An answer is never recorded for an account that does not exist, whatever path made the link.

A link is signed with the workspace's key only (``csmetrics survey link`` can sign while a server
holds the workspace), so the account it names may be unknown, or may have been removed by a later
ingest. The recording side checks the account inside the answer's transaction.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import duckdb
import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from csmetrics import surveys
from csmetrics.cli.main import app as cli
from csmetrics.surveys import LinkError
from csmetrics.web.store import Store
from tests.conftest import FROZEN_NOW
from tests.web.serving import free_port, serving

runner = CliRunner()


def _said(res: object) -> str:
    """A command's output with the terminal's line wrapping undone."""
    return " ".join(str(getattr(res, "output", "")).split())


def _counts(store: Store) -> tuple[int, int]:
    """(answers, used links) as the writer sees them."""
    answers = store.writer.execute(f"SELECT count(*) FROM {surveys.RESPONSES}").fetchone()
    used = store.writer.execute(f"SELECT count(*) FROM {surveys.USED_TABLE}").fetchone()
    assert answers is not None and used is not None
    return int(answers[0]), int(used[0])


def _nps_responses(client: TestClient, by: str | None = None) -> dict[str | None, float]:
    """This month's nps_responses (the pinned day is 2026-06-15), total or per group."""
    params = {"metrics": "nps_responses", "period": "month", "start": "2026-06-01", "end": "2026-07-01"}
    if by:
        params["by"] = by
    r = client.get("/api/v1/metrics", params=params)
    assert r.status_code == 200, r.text
    return {row["group"]: row["value"] or 0.0 for row in r.json()}


def test_an_answer_through_a_link_for_an_unknown_account_is_refused_and_writes_nothing(
    client: TestClient, store: Store
) -> None:
    # What `csmetrics survey link --account A-00001` printed while the server held the workspace.
    token, _ = surveys.make_link_token(store.survey_key, "A-00001", "nps")
    total_before = _nps_responses(client)[None]
    before = _counts(store)
    form = client.get(f"/survey/{token}")
    assert form.status_code == 410
    assert "this survey link is no longer valid" in form.text
    r = client.post(f"/survey/{token}", data={"score": "9", "comment": "orphan"})
    assert r.status_code == 410
    assert "this survey link is no longer valid" in r.text and "Thank you" not in r.text
    assert _counts(store) == before
    assert store.writer.execute(
        f"SELECT count(*) FROM {surveys.RESPONSES} WHERE account_id = 'A-00001'").fetchone() == (0,)
    # The month's total still equals the sum of its segments (the issue saw 2 against 1).
    total = _nps_responses(client)[None]
    per_segment = _nps_responses(client, by="segment")
    assert total == total_before
    assert total == sum(per_segment.values())


def test_a_link_whose_account_was_removed_after_it_was_made_is_refused(client: TestClient, store: Store) -> None:
    token, _ = surveys.make_link_token(store.survey_key, "A0003", "nps")
    assert client.get(f"/survey/{token}").status_code == 200  # the account exists: the form is shown
    # A later ingest drops the account while the link is out.
    store.write(lambda con: con.execute("DELETE FROM accounts WHERE account_id = 'A0003'"))
    before = _counts(store)
    r = client.post(f"/survey/{token}", data={"score": "7"})
    assert r.status_code == 410 and "no longer valid" in r.text
    assert _counts(store) == before


def test_record_answer_refuses_an_unknown_account_inside_its_transaction(store: Store) -> None:
    _, link = surveys.make_link_token(store.survey_key, "NOPE", "csat", ticket_id="T00001")
    before = _counts(store)
    with pytest.raises(LinkError, match="no longer valid") as exc:
        store.write(lambda con: surveys.record_answer(con, link, 5, "hello"))
    assert exc.value.reason == "account"
    assert _counts(store) == before
    # No transaction is left open: an answer for a real account commits normally, once.
    _, ok = surveys.make_link_token(store.survey_key, "A0001", "csat")
    rid = store.write(lambda con: surveys.record_answer(con, ok, 4, None))
    assert store.writer.execute(f"SELECT account_id, score FROM {surveys.RESPONSES} WHERE response_id = ?",
                                [rid]).fetchall() == [("A0001", 4.0)]
    assert _counts(store) == (before[0] + 1, before[1] + 1)


# -- where links are made: `csmetrics survey link` ---------------------------------------------------

def test_survey_link_refuses_an_unknown_account(workspace: Path) -> None:
    res = runner.invoke(cli, ["survey", "link", "--workspace", str(workspace), "--account", "A-00001"])
    assert res.exit_code == 2
    assert "no account 'A-00001'" in _said(res) and "/survey/" not in res.stdout


@pytest.mark.slow
def test_survey_link_while_serve_holds_the_workspace_asks_that_server(workspace: Path) -> None:
    base_args = ["survey", "link", "--workspace", str(workspace)]
    with serving("--workspace", str(workspace)) as srv:
        assert srv.token, "serve prints a token for a workspace without one"
        with pytest.raises(duckdb.IOException):  # the server's lock: the CLI cannot read accounts itself
            duckdb.connect(str(workspace), read_only=True)
        unknown = runner.invoke(cli, [*base_args, "--account", "A-00001", "--base-url", srv.base,
                                      "--token", srv.token])
        assert unknown.exit_code == 2, unknown.output
        assert "no account 'A-00001'" in _said(unknown) and "checked by the server" in _said(unknown)
        assert "/survey/" not in unknown.stdout
        no_token = runner.invoke(cli, [*base_args, "--account", "A0001", "--base-url", srv.base],
                                 env={"CSMETRICS_TOKEN": None})
        assert no_token.exit_code == 2 and "needs a token" in _said(no_token)
        ok = runner.invoke(cli, [*base_args, "--account", "A0001", "--survey", "csat", "--days", "3",
                                 "--base-url", srv.base], env={"CSMETRICS_TOKEN": srv.token})
        assert ok.exit_code == 0, ok.output
        url = ok.stdout.strip().splitlines()[0]
        assert url.startswith(f"{srv.base}/survey/")
        link = surveys.verify_link_token(surveys.load_key(workspace), url.rsplit("/", 1)[1])
        assert (link.account_id, link.survey, link.ticket_id) == ("A0001", "csat", None)
        assert link.expires == int((FROZEN_NOW + dt.timedelta(days=3)).timestamp())
        assert httpx.post(url, data={"score": "4"}).status_code == 200
    con = duckdb.connect(str(workspace), read_only=True)
    try:
        assert con.execute(f"SELECT account_id, survey, score FROM {surveys.RESPONSES} WHERE response_id = ?",
                           [link.response_id]).fetchall() == [("A0001", "csat", 4.0)]
        assert con.execute(f"SELECT count(*) FROM {surveys.RESPONSES} WHERE account_id NOT IN "
                           "(SELECT account_id FROM accounts)").fetchone() == (0,)
    finally:
        con.close()


def test_survey_link_refuses_when_the_workspace_is_held_and_no_server_answers(workspace: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True);"
         " time.sleep(120)", str(workspace)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        res = runner.invoke(cli, ["survey", "link", "--workspace", str(workspace), "--account", "A0001",
                                  "--base-url", f"http://127.0.0.1:{free_port()}"], env={"CSMETRICS_TOKEN": None})
    finally:
        holder.kill()
        holder.wait(timeout=20)
    assert res.exit_code == 3, res.output  # in use, as for every command meeting the server's lock
    assert "held by another process" in _said(res) and "no csmetrics server answered" in _said(res)
    assert "/survey/" not in res.stdout
