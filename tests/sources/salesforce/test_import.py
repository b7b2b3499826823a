"""`csmetrics import salesforce`: the fixture org's accounts, every mapping rule's example, file shapes, defects."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from csmetrics.cli.main import app
from csmetrics.schema.errors import DataError
from csmetrics.sources.hubspot import import_dir as hubspot_import
from csmetrics.sources.salesforce import import_dir
from csmetrics.sources.salesforce.map import column_name
from csmetrics.sources.salesforce.pipeline import SalesforceSettings
from tests.sources.salesforce.conftest import accounts, digest
from tests.sources.salesforce.org import account_id, build, record, write

runner = CliRunner()
D = dt.date


def response_dir(tmp_path: Path, records: list[dict[str, Any]], name: str = "export") -> Path:
    d = tmp_path / name
    d.mkdir()
    doc = {"totalSize": len(records), "done": True, "records": records}
    (d / "accounts.json").write_text(json.dumps(doc), encoding="utf-8")
    return d


def test_the_fixture_org_gives_the_hand_made_accounts(org_dir: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws.duckdb"
    result = import_dir(org_dir, ws)
    assert result.changed and result.rows == {"accounts": 7} and result.objects == 8
    assert result.notes == ["1 deleted Account(s) are not in the accounts table (counted in `csmetrics sources`)"]
    got = accounts(ws)
    assert got[account_id(1)] == ("Acme Analytics", D(2025, 1, 6), "Customer - Direct", "Ana Silva", "Technology",
                                  "salesforce")
    assert got[account_id(3)][1] == D(2025, 2, 15)  # 23:30 at -0200 is 01:30 UTC on the 15th (rule S2)
    assert got[account_id(6)][3] is None  # no Owner (rule S3)
    assert account_id(8) not in got  # deleted (rule S6)
    assert sorted({r[3] for r in got.values() if r[3]}) == ["Ana Silva", "Ben Okafor", "Chloe Martin"]


def test_the_fixture_file_is_the_builders_output(tmp_path: Path, org_dir: Path) -> None:
    built = write(tmp_path / "built")
    assert (built / "accounts.json").read_text() == (org_dir / "accounts.json").read_text()


def test_rules_s1_to_s6_on_their_examples(tmp_path: Path) -> None:
    recs = [
        dict(record(1, "  Acme Analytics ", "2025-01-06T23:30:00.000-0200", "Ana Silva", "Banking",
                    "Customer - Direct", "Gold"), Segment__c="enterprise", Parent={"Name": "Acme Holdings"},
             Region__c="EMEA"),
        dict(record(2, "No Owner Co", "2025-02-01T00:00:00.000+0000", None, None, None, ""), Segment__c=None),
        dict(record(3, "Nameless Owner Co", "2025-02-02T00:00:00.000+0000", None, None, None, None),
             Owner={"attributes": {"type": "User"}, "Name": " "}),
        record(4, "Binned Co", "2025-02-03T00:00:00.000+0000", "Ana Silva", None, None, None, deleted=True),
    ]
    settings = SalesforceSettings(segment_field="Segment__c", fields=("Tier__c", "Parent.Name", "Region__c"))
    ws = tmp_path / "ws.duckdb"
    import_dir(response_dir(tmp_path, recs), ws, settings)
    got = accounts(ws, "account_id, name, created_at, segment, csm, industry, tier, parent_name, region")
    assert got == {
        account_id(1): ("Acme Analytics", D(2025, 1, 7), "enterprise", "Ana Silva", "Banking", "Gold",
                        "Acme Holdings", "EMEA"),
        account_id(2): ("No Owner Co", D(2025, 2, 1), None, None, None, None, None, None),
        account_id(3): ("Nameless Owner Co", D(2025, 2, 2), None, None, None, None, None, None),
    }
    r = runner.invoke(app, ["sources", "--workspace", str(ws), "--format", "json"])
    row = json.loads(r.output)[0]
    assert (row["source"], row["accounts"], row["deleted_accounts"], row["objects"]) == ("salesforce", 3, 1, 4)


def test_extra_field_columns_are_named_by_rule_s5() -> None:
    assert [column_name(f) for f in ("Tier__c", "Rating", "Parent.Name", "Seats__c", "Health_Score__c")] == [
        "tier", "rating", "parent_name", "seats", "health_score"]


@pytest.mark.parametrize("shape", ["responses_as_json_lines", "records_as_json_lines"])
def test_every_file_shape_gives_the_same_workspace(shape: str, org_dir: Path, tmp_path: Path) -> None:
    recs = build()
    d = tmp_path / shape
    d.mkdir()
    if shape == "responses_as_json_lines":
        pages = [{"totalSize": len(recs), "done": i + 3 >= len(recs), "records": recs[i:i + 3],
                  **({} if i + 3 >= len(recs) else {"nextRecordsUrl": f"/services/data/v59.0/query/01gX-{i + 3}"})}
                 for i in range(0, len(recs), 3)]
        text = "\n".join(json.dumps(p) for p in pages) + "\n"
    else:
        text = "\n".join(json.dumps(r) for r in recs) + "\n"
    (d / "accounts.json").write_text(text, encoding="utf-8")
    a, b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    import_dir(org_dir, a)
    import_dir(d, b)
    assert accounts(a) == accounts(b) and len(accounts(b)) == 7


def test_reimport_changes_nothing(org_dir: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws.duckdb"
    import_dir(org_dir, ws)
    before = digest(ws)
    assert not import_dir(org_dir, ws).changed and digest(ws) == before


def test_defects_name_file_record_or_line_and_field(tmp_path: Path) -> None:
    recs = build()
    recs[1] = dict(recs[1], CreatedDate="last week")
    recs[2] = dict(recs[2], Owner="Ana Silva")
    recs[3] = dict(recs[3], attributes={"type": "Contact"})
    recs[4] = {k: v for k, v in recs[4].items() if k != "Id"}
    recs[5] = dict(recs[5], Id=recs[0]["Id"])
    d = response_dir(tmp_path, recs)
    with pytest.raises(DataError) as info:
        import_dir(d, tmp_path / "ws.duckdb")
    assert [str(x) for x in info.value.defects] == [
        "accounts.json record 1, field CreatedDate: 'last week' is not a date-time (expected e.g. "
        "2025-01-06T15:04:05.000+0000)",
        "accounts.json record 2, field Owner: 'Ana Silva' is not an object or null (expected {\"Name\": ...})",
        "accounts.json record 3, field attributes.type: 'Contact' is not an Account record (expected \"Account\")",
        "accounts.json record 4, field Id: is missing (required)",
        "accounts.json record 5, field Id: '001Hs0000000001IAA' is a duplicate (first at record 0; expected "
        "unique ids)",
    ]
    assert not (tmp_path / "ws.duckdb").exists()
    r = runner.invoke(app, ["import", "salesforce", str(d), "--workspace", str(tmp_path / "ws.duckdb")])
    assert r.exit_code == 2 and "accounts.json record 1, field CreatedDate" in r.output


def test_cli_import_and_out(org_dir: Path, tmp_path: Path) -> None:
    r = runner.invoke(app, ["import", "salesforce", str(org_dir), "--workspace", str(tmp_path / "ws.duckdb")])
    assert r.exit_code == 0, r.output
    out = tmp_path / "data"
    r = runner.invoke(app, ["import", "salesforce", str(org_dir), "--out", str(out)])
    assert r.exit_code == 0 and "accounts.csv (7 rows)" in r.output
    lines = (out / "accounts.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "account_id,name,created_at,segment,csm,industry,source"
    assert lines[1] == "001Hs0000000001IAA,Acme Analytics,2025-01-06,Customer - Direct,Ana Silva,Technology,salesforce"


def test_settings_defects(tmp_path: Path) -> None:
    toml = tmp_path / "csmetrics.toml"
    for body, key, value in [('fields = ["Tier__c", "Name"]', "fields", "Name"),
                             ('fields = ["Tier__c; DELETE"]', "fields", "Tier__c; DELETE"),
                             ('segment_field = "Type FROM User"', "segment_field", "Type FROM User")]:
        toml.write_text(f"[sources.salesforce]\n{body}\n", encoding="utf-8")
        with pytest.raises(DataError) as info:
            SalesforceSettings.load(toml)
        d = info.value.defects[0]
        assert (d.row, d.column, d.value) == (2, f"sources.salesforce.{key}", value)


def test_two_crms_on_one_account_the_last_one_names_it(tmp_path: Path) -> None:
    """Both are authorities: for an account id both hold, the CRM landed last wins (documented limit)."""
    sf = response_dir(tmp_path, [record(1, "Acme (Salesforce)", "2025-01-06T00:00:00.000+0000", "Ana Silva", None,
                                        None, None)], "sf")
    hs = tmp_path / "hs"
    hs.mkdir()
    company = {"id": account_id(1), "properties": {"name": "Acme (HubSpot)", "createdate": "2025-01-06T00:00:00Z"},
               "archived": False}
    (hs / "companies.json").write_text(json.dumps({"results": [company]}), encoding="utf-8")
    ws = tmp_path / "ws.duckdb"
    import_dir(sf, ws)
    hubspot_import(hs, ws)
    assert accounts(ws, "account_id, name, csm, source")[account_id(1)] == ("Acme (HubSpot)", "Ana Silva", "hubspot")


def test_salesforce_names_an_ingested_help_desk_account(tmp_path: Path) -> None:
    from csmetrics.io.dataset import ingest

    data = tmp_path / "helpdesk"
    data.mkdir()
    row = f"{account_id(1)},acme (zendesk),agent-7,,EMEA"
    (data / "accounts.csv").write_text(f"account_id,name,csm,segment,region\n{row}\n", encoding="utf-8")
    ws = tmp_path / "ws.duckdb"
    ingest(data, ws)
    sf = response_dir(tmp_path, [record(1, "Acme Analytics", "2025-01-06T00:00:00.000+0000", "Ana Silva", "Banking",
                                        "Customer - Direct", None)], "sf")
    assert import_dir(sf, ws).matched == 1
    assert accounts(ws, "account_id, name, csm, segment, region, source")[account_id(1)] == (
        "Acme Analytics", "Ana Silva", "Customer - Direct", "EMEA", "salesforce")  # region kept: Salesforce has none
