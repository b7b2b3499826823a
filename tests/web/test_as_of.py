"""One as-of rule: by default every endpoint and page takes account-level views (MRR, health) on the last
day with recorded activity, not after today, as ``csmetrics accounts`` does.

The company here stops seven months before the suite's pinned today (2026-06-15), so "today" and "the
last day with activity" give different scores: an endpoint that used today would disagree.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from csmetrics.cli.main import app as cli
from csmetrics.io import ingest
from csmetrics.web.app import create_app
from csmetrics.web.store import Store
from tests.conftest import TODAY
from tests.web.company import make_company

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ENDS = dt.date(2025, 11, 20)


@pytest.fixture(scope="module")
def stopped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A company whose activity stops at ENDS (subscriptions that would start later are dropped)."""
    data = make_company(tmp_path_factory.mktemp("stopped") / "data", accounts=40, today=ENDS)
    subs = pd.read_csv(data / "subscriptions.csv", dtype=str, keep_default_na=False)
    subs[subs["started_at"] <= ENDS.isoformat()].to_csv(data / "subscriptions.csv", index=False)
    return data


@pytest.fixture(scope="module")
def last_activity(stopped: Path) -> dt.date:
    """Read from the files: the latest ticket opened, answer given or subscription started (no charges or
    usage in this company), not after today."""
    days = [pd.to_datetime(pd.read_csv(stopped / f)[c], utc=True).dt.date.max() for f, c in (
        ("tickets.csv", "opened_at"), ("survey_responses.csv", "responded_at"), ("subscriptions.csv", "started_at"))]
    assert not (stopped / "charges.csv").exists() and not (stopped / "usage_events.csv").exists()
    return min(max(days), TODAY)


@pytest.fixture(scope="module")
def client(stopped: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    ws = tmp_path_factory.mktemp("stopped-ws") / "workspace.duckdb"
    ingest(stopped, ws)
    store = Store(ws)
    tok = store.create_token("tests")
    with TestClient(create_app(store), headers={"Authorization": f"Bearer {tok}"}) as c:
        yield c
    store.close()


def _scores(rows: list[dict[str, object]]) -> dict[str, object]:
    return {str(r["account_id"]): r["health_score"] for r in rows}


def test_the_company_ends_months_before_today_and_today_scores_differ(client: TestClient,
                                                                     last_activity: dt.date) -> None:
    assert last_activity <= ENDS < TODAY
    on_last = _scores(client.get("/api/v1/health", params={"as_of": last_activity.isoformat()}).json())
    on_today = _scores(client.get("/api/v1/health", params={"as_of": TODAY.isoformat()}).json())
    assert sum(on_last[a] != on_today[a] for a in on_last) >= 5  # so the tests below can tell the rules apart


def test_every_api_endpoint_defaults_to_the_last_day_with_activity(client: TestClient,
                                                                  last_activity: dt.date) -> None:
    day = last_activity.isoformat()
    expected = _scores(client.get("/api/v1/health", params={"as_of": day}).json())
    health = client.get("/api/v1/health").json()
    assert {r["as_of"][:10] for r in health} == {day}
    assert _scores(health) == expected
    accounts = client.get("/api/v1/accounts").json()
    assert {r["as_of"] for r in accounts} == {day}
    # /accounts rounds to one decimal, as `csmetrics accounts --format json` does.
    assert {a: s for a, s in _scores(accounts).items()} == {a: round(float(s), 1) for a, s in expected.items()}
    for account_id in ("A0001", "A0002", "A0007"):
        one = client.get(f"/api/v1/accounts/{account_id}").json()
        assert str(one["health"]["as_of"])[:10] == day
        assert one["health"]["health_score"] == expected[account_id]


def test_every_page_shows_the_same_score_and_day_as_the_api(client: TestClient, last_activity: dt.date) -> None:
    day = last_activity.isoformat()
    accounts = {r["account_id"]: r for r in client.get("/api/v1/accounts").json()}
    customers = client.get("/customers").text
    assert f"health as of {day}" in customers
    for account_id in ("A0001", "A0002", "A0007"):
        shown = f"{accounts[account_id]['health_score']:.1f}"
        row = re.search(rf'href="/accounts/{account_id}[?"].*?</tr>', customers, re.S)
        assert row is not None and f'<td class="num">{shown}</td>' in row.group(0)
        page = client.get(f"/accounts/{account_id}").text
        assert f"MRR on {day}" in page
        assert re.search(rf'<p class="big">{re.escape(shown)} ', page), account_id
    assert f"health as of {day}" in client.get("/csms").text
    # The overview's health mix counts the paying accounts' colours on that day.
    paying = [r for r in accounts.values() if (r["mrr"] or 0) > 0]
    mix = {c: sum(r["health_color"] == c for r in paying) for c in ("green", "yellow", "red")}
    assert f"{mix['green']} green · {mix['yellow']} yellow · {mix['red']} red" in client.get("/").text


def test_the_cli_scores_the_same_day(client: TestClient, stopped: Path, last_activity: dt.date) -> None:
    res = CliRunner().invoke(cli, ["accounts", "--data", str(stopped), "--format", "json"])
    assert res.exit_code == 0, res.output
    import json

    cli_rows = json.loads(res.stdout)
    assert {r["as_of"] for r in cli_rows} == {last_activity.isoformat()}
    assert _scores(cli_rows) == _scores(client.get("/api/v1/accounts").json())
