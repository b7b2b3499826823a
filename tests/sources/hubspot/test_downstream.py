"""A help-desk workspace named by HubSpot: accounts shows HubSpot's names and CSMs, metrics group by owner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from csmetrics.cli.main import app
from csmetrics.io.dataset import ingest
from csmetrics.sources.hubspot import import_dir

runner = CliRunner()

IDS = [f"182000000{i:02d}" for i in range(1, 9)]
TICKETS = """ticket_id,account_id,opened_at,resolved_at,contacts
T1,18200000001,2025-04-02T10:00:00Z,2025-04-02T12:00:00Z,1
T2,18200000004,2025-04-10T10:00:00Z,2025-04-15T10:00:00Z,3
T3,18200000007,2025-05-20T10:00:00Z,,1
T4,18200000002,2025-04-05T10:00:00Z,2025-04-05T16:00:00Z,1
T5,18200000005,2025-05-07T10:00:00Z,2025-05-08T10:00:00Z,1
T6,18200000008,2025-05-09T10:00:00Z,2025-05-12T10:00:00Z,2
T7,18200000003,2025-05-01T10:00:00Z,2025-05-02T10:00:00Z,1
T8,Z-1,2025-04-20T10:00:00Z,2025-04-20T11:00:00Z,1
"""
SURVEYS = """response_id,account_id,survey,score,responded_at,ticket_id
S1,18200000001,csat,5,2025-04-03T10:00:00Z,T1
S2,18200000004,csat,3,2025-04-16T10:00:00Z,T2
S3,18200000002,csat,4,2025-04-06T10:00:00Z,T4
S4,18200000003,nps,9,2025-05-03T10:00:00Z,
S5,18200000006,nps,6,2025-05-04T10:00:00Z,
"""


@pytest.fixture
def named_ws(tmp_path: Path, portal_dir: Path) -> Path:
    """Help-desk data keyed by HubSpot company ids (plus Z-1, which HubSpot does not know), then HubSpot."""
    data = tmp_path / "helpdesk"
    data.mkdir()
    (data / "accounts.csv").write_text("account_id\n" + "\n".join(IDS + ["Z-1"]) + "\n", encoding="utf-8")
    (data / "tickets.csv").write_text(TICKETS, encoding="utf-8")
    (data / "survey_responses.csv").write_text(SURVEYS, encoding="utf-8")
    ws = tmp_path / "ws.duckdb"
    ingest(data, ws)
    result = import_dir(portal_dir, ws)
    assert result.matched == 8  # every company was already an account (ingested by id)
    return ws


def test_accounts_shows_hubspot_names_and_csms(named_ws: Path) -> None:
    r = runner.invoke(app, ["accounts", "--workspace", str(named_ws), "--format", "json"])
    assert r.exit_code == 0, r.output
    rows = {a["account_id"]: a for a in json.loads(r.output)}
    assert (rows["18200000001"]["name"], rows["18200000001"]["csm"]) == ("Acme Analytics", "Ana Silva")
    assert (rows["18200000006"]["name"], rows["18200000006"]["csm"]) == ("Fjord Media", "Chloe Martin")
    assert rows["Z-1"]["csm"] is None and len(rows) == 9
    table = runner.invoke(app, ["accounts", "--workspace", str(named_ws)], env={"COLUMNS": "200"})
    assert "Harbor Retail" in table.output and "Ben Okafor" in table.output


def test_metrics_by_csm_group_by_the_owner_names(named_ws: Path) -> None:
    r = runner.invoke(app, ["metrics", "--workspace", str(named_ws), "--period", "month", "--start", "2025-04-01",
                            "--end", "2025-06-01", "--metrics", "tickets,tickets_resolved,fcr_rate,csat,"
                            "csat_responses,nps", "--by", "csm", "--format", "json"])
    assert r.exit_code == 0, r.output
    got = {(x["metric"], x["period"], x["group"]): x["value"] for x in json.loads(r.output)}
    groups = ["(none)", "Ana Silva", "Ben Okafor", "Chloe Martin"]
    want = {  # hand-computed from TICKETS and SURVEYS; Ana has 1, 4, 7, Ben 2, 5, 8, Chloe 3, 6; Z-1 is (none)
        "tickets": {"2025-04": [1, 2, 1, 0], "2025-05": [0, 1, 2, 1]},
        "tickets_resolved": {"2025-04": [1, 2, 1, 0], "2025-05": [0, 0, 2, 1]},
        "fcr_rate": {"2025-04": [1.0, 0.5, 1.0, None], "2025-05": [None, 0.0, 0.5, 1.0]},
        "csat": {"2025-04": [None, 50.0, 100.0, None], "2025-05": [None] * 4},
        "csat_responses": {"2025-04": [0, 2, 1, 0], "2025-05": [0, 0, 0, 0]},
        "nps": {"2025-04": [None] * 4, "2025-05": [None, None, None, 0.0]},  # Chloe: one 9, one 6
    }
    for metric, months in want.items():
        for month, values in months.items():
            assert [got[(metric, month, g)] for g in groups] == values, (metric, month)


def test_sources_lists_hubspot_with_its_rows(named_ws: Path) -> None:
    r = runner.invoke(app, ["sources", "--workspace", str(named_ws), "--format", "json"])
    assert r.exit_code == 0, r.output
    row = next(s for s in json.loads(r.output) if s["source"] == "hubspot")
    assert (row["objects"], row["accounts"], row["archived_companies"], row["unknown_owners"]) == (11, 8, 0, 0)
    assert row["newest_object"] == "2025-06-30T23:45:00+00:00" and row["stale"] is False
    table = runner.invoke(app, ["sources", "--workspace", str(named_ws)], env={"COLUMNS": "200"})
    assert "hubspot" in table.output and "accounts 8" in table.output
