"""`csmetrics import zendesk`: the company's monthly support and CSAT metrics equal the hand-computed ones."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from csmetrics.cli.main import app
from csmetrics.io.dataset import ingest
from csmetrics.schema.errors import DataError
from csmetrics.sources.zendesk import import_dir
from tests.sources.zendesk.company import EXPECTED, EXPECTED_BY_CSM, LEFT_OUT, write
from tests.sources.zendesk.conftest import digest, monthly, table_rows

runner = CliRunner()


def test_import_gives_the_hand_computed_metrics_in_total(crm_ws: Path, company_dir: Path) -> None:
    result = import_dir(company_dir, crm_ws)
    assert result.rows == {"accounts": 3, "tickets": 9, "survey_responses": 5}
    assert (result.matched, result.unmatched) == (2, 1)  # matched; Umbrella (103) not
    got = monthly(crm_ws, list(EXPECTED))
    for metric, want in EXPECTED.items():
        assert got[(metric, None)] == want, metric


def test_import_gives_the_hand_computed_metrics_by_csm_with_the_unmatched_organization_in_none(
        crm_ws: Path, company_dir: Path) -> None:
    import_dir(company_dir, crm_ws)
    got = monthly(crm_ws, list(EXPECTED), by="csm")
    for csm, metrics in EXPECTED_BY_CSM.items():
        for metric, want in metrics.items():
            assert got[(metric, csm)] == want, (csm, metric)
    # groups partition the total
    for i in range(2):
        assert sum(got[("tickets", c)][i] or 0 for c in EXPECTED_BY_CSM) == EXPECTED["tickets"][i]


def test_a_crm_account_keeps_its_name_and_csm_and_the_unmatched_organization_is_named(
        crm_ws: Path, company_dir: Path) -> None:
    r = runner.invoke(app, ["import", "zendesk", str(company_dir), "--workspace", str(crm_ws)])
    assert r.exit_code == 0, r.output
    assert "unmatched 1" in r.output and "1 deleted ticket(s)" in r.output
    assert "1 organization(s) match no account of the CRM" in r.output and "103 (Umbrella)" in r.output
    assert "1 ticket(s) without an organization" in r.output
    accounts = {row[0]: row for row in table_rows(crm_ws, "accounts", "account_id")}
    con = duckdb.connect(str(crm_ws), read_only=True)
    cols = [c[0] for c in con.execute("DESCRIBE accounts").fetchall()]
    con.close()
    acme = dict(zip(cols, accounts["A-1"], strict=True))
    assert (acme["name"], acme["csm"], acme["source"]) == ("Acme", "Alice", None)  # the CRM's, not "Acme Inc"
    assert acme["zendesk_organization_id"] == "101"  # an empty column filled
    umbrella = dict(zip(cols, accounts["103"], strict=True))
    assert (umbrella["name"], umbrella["csm"], umbrella["source"]) == ("Umbrella", None, "zendesk")
    s = runner.invoke(app, ["sources", "--workspace", str(crm_ws), "--format", "json"])
    assert s.exit_code == 0, s.output
    row = next(x for x in json.loads(s.output) if x["source"] == "zendesk")
    assert (row["matched"], row["unmatched"], row["unmatched_examples"]) == (2, 1, ["103 (Umbrella)"])
    assert {k: row[k] for k in LEFT_OUT} == LEFT_OUT
    assert (row["tickets"], row["survey_responses"]) == (9, 5)


def test_the_fixture_directory_is_the_builders_output(tmp_path: Path, company_dir: Path) -> None:
    built = write(tmp_path / "built")
    assert sorted(p.name for p in built.iterdir()) == sorted(p.name for p in company_dir.iterdir())
    for p in built.iterdir():
        assert p.read_text() == (company_dir / p.name).read_text(), p.name


def test_reimport_changes_nothing(crm_ws: Path, company_dir: Path) -> None:
    import_dir(company_dir, crm_ws)
    before = digest(crm_ws)
    result = import_dir(company_dir, crm_ws)
    assert not result.changed and digest(crm_ws) == before


def test_every_file_shape_gives_the_same_rows(crm_ws: Path, company_dir: Path, tmp_path: Path) -> None:
    """Pages (pretty or one per line), and JSON lines of objects, are the same objects."""
    import_dir(company_dir, crm_ws)
    other = tmp_path / "other"
    other.mkdir()
    for kind in ("organizations", "tickets", "ticket_metrics", "satisfaction_ratings"):
        objs = []
        for line in (company_dir / f"{kind}.json").read_text().splitlines():
            if line.strip():
                objs.append(line)
        text = (company_dir / f"{kind}.json").read_text()
        if text.startswith("{\n"):  # a pretty page -> JSON lines of objects
            (other / f"{kind}.json").write_text("".join(json.dumps(o) + "\n" for o in json.loads(text)[kind]))
        elif kind == "ticket_metrics":  # JSON lines of objects -> one pretty page with cursor paging fields
            page = {kind: [json.loads(x) for x in objs], "meta": {"has_more": False, "after_cursor": None,
                                                                   "before_cursor": None},
                    "links": {"next": None, "prev": None}}
            (other / f"{kind}.json").write_text(json.dumps(page, indent=2))
        else:  # pages on lines -> one object per line
            (other / f"{kind}.json").write_text("".join(
                json.dumps(o) + "\n" for x in objs for o in json.loads(x)[kind]))
    ws2 = tmp_path / "crm2" / "ws.duckdb"
    ws2.parent.mkdir()
    shutil.copy(crm_ws.parent / "crm-ws" / "accounts.csv", ws2.parent / "accounts.csv")
    ingest(ws2.parent, ws2)
    import_dir(other, ws2)
    for table, key in (("accounts", "account_id"), ("tickets", "ticket_id"), ("survey_responses", "response_id")):
        assert table_rows(crm_ws, table, key) == table_rows(ws2, table, key), table


def test_a_later_copy_of_a_ticket_replaces_an_earlier_one(crm_ws: Path, company_dir: Path, tmp_path: Path) -> None:
    d = tmp_path / "d"
    shutil.copytree(company_dir, d)
    first = json.loads((d / "tickets.json").read_text().splitlines()[0])["tickets"]
    t3 = next(t for t in first if t["id"] == 3)
    again = dict(t3, status="solved", updated_at="2026-01-18T10:00:00Z")  # exported again after it changed
    with (d / "tickets.json").open("a") as f:
        f.write(json.dumps(again) + "\n")
    metrics = (d / "ticket_metrics.json").read_text().replace(
        '"solved_at":null,"latest_comment_added_at":"2026-01-15T15:30:00Z"',
        '"solved_at":"2026-01-18T10:00:00Z","latest_comment_added_at":"2026-01-15T15:30:00Z"')
    (d / "ticket_metrics.json").write_text(metrics)
    import_dir(d, crm_ws)
    rows = {r[0]: r for r in table_rows(crm_ws, "tickets", "ticket_id")}
    assert str(rows["3"][3]) == "2026-01-18 10:00:00"  # resolved now, at least 1 contact
    assert rows["3"][4] == 1


@pytest.mark.parametrize(("file", "text", "message"), [
    ("tickets.json", '{"tickets": [{"id": 1, "created_at": "2026-01-05T09:00:00Z", "status": "open"},'
                     ' {"id": "two", "created_at": "2026-01-05T09:00:00Z", "status": "open"}]}\n',
     "tickets.json line 1, object 1, field id: 'two' is not an integer"),
    ("tickets.json", '{"id": 1, "created_at": "2026-01-05T09:00:00Z", "status": "open"}\n'
                     '{"id": 2, "created_at": "5 January", "status": "open"}\n',
     "tickets.json line 2, field created_at: '5 January' is not a time"),
    ("organizations.json", '{\n  "organizations": [\n    {"id": 7, "name": 3}\n  ]\n}\n',
     "organizations.json object 0, field name: '3' is not a string or null"),
    ("satisfaction_ratings.json", '{"id": 1, "score": "great", "created_at": "2026-01-05T09:00:00Z",'
                                  ' "updated_at": "2026-01-05T09:00:00Z"}\n',
     "satisfaction_ratings.json line 1, field score: 'great' is not a satisfaction score"),
    ("ticket_metrics.json", '{"id": 1}\n', "ticket_metrics.json line 1, field ticket_id: is missing (required)"),
    ("ticket_metrics.json", '{"id": 1, "ticket_id": 2}\n{"id": 2, ticket_id: 3}\n',
     "ticket_metrics.json line 2: is not valid JSON"),
    ("tickets.json", '{\n  "results": []\n}\n',
     "tickets.json: is not a Zendesk page of tickets: it has no 'tickets' list"),
])
def test_bad_files_name_the_file_line_object_and_field_and_write_nothing(
        crm_ws: Path, tmp_path: Path, file: str, text: str, message: str) -> None:
    d = tmp_path / "bad"
    d.mkdir()
    (d / file).write_text(text, encoding="utf-8")
    before = digest(crm_ws)
    with pytest.raises(DataError) as info:
        import_dir(d, crm_ws)
    assert message in str(info.value)
    assert digest(crm_ws) == before
    r = runner.invoke(app, ["import", "zendesk", str(d), "--workspace", str(crm_ws)])
    assert r.exit_code == 2 and message.split(":")[0] in r.output


def test_import_to_a_data_directory_writes_contract_csvs(company_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "data"
    r = runner.invoke(app, ["import", "zendesk", str(company_dir), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.glob("*.csv")) == ["accounts.csv", "survey_responses.csv", "tickets.csv"]
    lines = (out / "tickets.csv").read_text().splitlines()
    assert lines[0].startswith("ticket_id,account_id,opened_at,resolved_at,contacts,agent,channel")
    assert len(lines) == 1 + 9
