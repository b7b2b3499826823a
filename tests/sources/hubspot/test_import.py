"""`csmetrics import hubspot`: the fixture portal's accounts, every mapping rule's example, file shapes, defects."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from csmetrics.cli.main import app
from csmetrics.schema.errors import DataError
from csmetrics.sources.hubspot import import_dir
from csmetrics.sources.hubspot.pipeline import HubSpotSettings, import_to_data_dir
from tests.sources.hubspot.conftest import accounts, digest
from tests.sources.hubspot.portal import CSM, build, company, owner, write

runner = CliRunner()
D = dt.date


def page_dir(tmp_path: Path, companies: list[dict[str, Any]], owners: list[dict[str, Any]] | None = None,
             name: str = "export") -> Path:
    d = tmp_path / name
    d.mkdir()
    (d / "companies.json").write_text(json.dumps({"results": companies}), encoding="utf-8")
    if owners is not None:
        (d / "owners.json").write_text(json.dumps({"results": owners}), encoding="utf-8")
    return d


def test_the_fixture_portal_gives_the_hand_made_accounts(portal_dir: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws.duckdb"
    result = import_dir(portal_dir, ws)
    assert result.changed and result.rows == {"accounts": 8} and result.objects == 11
    got = accounts(ws)
    assert got["18200000001"] == ("Acme Analytics", D(2025, 1, 6), "enterprise", "Ana Silva", "COMPUTER_SOFTWARE",
                                  "hubspot")
    assert got["18200000008"] == ("Harbor Retail", D(2025, 6, 30), "smb", "Ben Okafor", "RETAIL", "hubspot")
    by_csm: dict[str, list[str]] = {}
    for aid, row in got.items():
        by_csm.setdefault(str(row[3]), []).append(aid)
    assert by_csm == CSM
    assert min(r[1] for r in got.values()) == D(2025, 1, 6) and max(r[1] for r in got.values()) == D(2025, 6, 30)


def test_the_fixture_directory_is_the_builders_output(tmp_path: Path, portal_dir: Path) -> None:
    built = write(tmp_path / "built")
    assert sorted(p.name for p in built.iterdir()) == sorted(p.name for p in portal_dir.iterdir())
    for p in built.iterdir():
        assert p.read_text() == (portal_dir / p.name).read_text(), p.name


def test_rules_h1_to_h6_on_their_examples(tmp_path: Path) -> None:
    owners = [owner("61000001", "Ana", "Silva", 1),
              dict(owner("61000009", "", "", 9), email="queue@example.com"),  # H3: no name -> the email
              owner("61000004", "Dan", "Gone", 4, archived=True)]  # H3: a deactivated owner still names
    companies = [
        company("1", "  Acme Analytics ", "acme.example", "2025-01-06T23:30:00.000Z", "61000001", "COMPUTER_SOFTWARE",
                "enterprise", "gold", hs_ideal_customer_profile="tier_1"),
        company("2", "", None, "1736208000000", None, None, None, None),  # H2: epoch ms; H1: empty name
        company("3", "Unknown Owner Co", None, "2025-02-01T00:00:00+02:00", "99999999", "RETAIL", "smb", ""),
        company("4", "Queue Co", None, "2025-03-01T10:00:00Z", "61000009", None, "smb", None),
        company("5", "Old Owner Co", None, "2025-03-02T10:00:00Z", "61000004", None, "smb", None),
        company("6", "Binned Co", None, "2025-03-03T10:00:00Z", "61000001", None, "smb", None, archived=True),
    ]
    companies[1]["properties"]["createdate"] = "1736208000000"
    ws = tmp_path / "ws.duckdb"
    settings = HubSpotSettings(segment_property="hs_ideal_customer_profile", properties=("tier",))
    result = import_dir(page_dir(tmp_path, companies, owners), ws, settings)
    got = accounts(ws, "account_id, name, created_at, segment, csm, industry, tier, domain")
    assert got == {
        "1": ("Acme Analytics", D(2025, 1, 6), "tier_1", "Ana Silva", "COMPUTER_SOFTWARE", "gold", "acme.example"),
        "2": (None, D(2025, 1, 7), None, None, None, None, None),  # 1736208000000 ms = 2025-01-07T00:00Z
        "3": ("Unknown Owner Co", D(2025, 1, 31), None, None, "RETAIL", None, None),  # +02:00 -> 31 Jan 22:00 UTC
        "4": ("Queue Co", D(2025, 3, 1), None, "queue@example.com", None, None, None),
        "5": ("Old Owner Co", D(2025, 3, 2), None, "Dan Gone", None, None, None),
    }
    assert "6" not in got  # H6
    assert "1 archived company is not in the accounts table (counted in `csmetrics sources`)" in result.notes
    assert "1 company has an owner id that is not among the owners: no CSM" in result.notes
    r = runner.invoke(app, ["sources", "--workspace", str(ws), "--format", "json"])
    row = next(s for s in json.loads(r.output) if s["source"] == "hubspot")
    assert (row["accounts"], row["archived_companies"], row["unknown_owners"], row["objects"]) == (5, 1, 1, 9)


def test_default_segment_and_created_at_falls_back_to_createdAt(tmp_path: Path) -> None:
    c = company("7", "No Createdate", None, "2025-04-04T04:00:00Z", None, None, "mid_market", "gold")
    del c["properties"]["createdate"]
    ws = tmp_path / "ws.duckdb"
    import_dir(page_dir(tmp_path, [c]), ws)  # no owners.json: nobody has a CSM
    assert accounts(ws, "account_id, created_at, segment, csm")["7"] == (D(2025, 4, 4), "mid_market", None)


@pytest.mark.parametrize("shape", ["pages_as_json_lines", "objects_as_json_lines", "one_compact_page"])
def test_every_file_shape_gives_the_same_workspace(shape: str, portal_dir: Path, tmp_path: Path) -> None:
    objs = build()
    d = tmp_path / shape
    d.mkdir()
    for kind, items in objs.items():
        if shape == "pages_as_json_lines":
            pages = [{"results": items[i:i + 3], "paging": {"next": {"after": str(i + 3), "link": "x"}}}
                     for i in range(0, len(items), 3)]
            pages[-1].pop("paging")
            text = "\n".join(json.dumps(p) for p in pages) + "\n"
        elif shape == "objects_as_json_lines":
            text = "\n".join(json.dumps(o) for o in items) + "\n\n"
        else:
            text = json.dumps({"results": items})
        (d / f"{kind}.json").write_text(text, encoding="utf-8")
    a, b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    import_dir(portal_dir, a)
    import_dir(d, b)
    assert accounts(a) == accounts(b) and len(accounts(b)) == 8


def test_reimport_changes_nothing(portal_dir: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws.duckdb"
    import_dir(portal_dir, ws)
    before = digest(ws)
    result = import_dir(portal_dir, ws)
    assert not result.changed and digest(ws) == before


def _defects(d: Path) -> list[str]:
    with pytest.raises(DataError) as info:
        import_dir(d, d.parent / "ws.duckdb")
    assert not (d.parent / "ws.duckdb").exists()
    return [str(x) for x in info.value.defects]


def test_defects_name_file_object_or_line_and_field(tmp_path: Path) -> None:
    companies = build()["companies"]
    companies[2] = dict(companies[2], properties=dict(companies[2]["properties"], createdate="soon"))
    companies[4] = dict(companies[4], archived="no")
    companies[5] = dict(companies[5], properties=dict(companies[5]["properties"], name={"first": "x"}))
    companies[6] = {k: v for k, v in companies[6].items() if k != "id"}
    companies[7] = dict(companies[7], id=companies[0]["id"])
    got = _defects(page_dir(tmp_path, companies, build()["owners"]))
    assert got == [
        "companies.json object 2, field properties.createdate: 'soon' is not a timestamp (expected ISO 8601, "
        "e.g. 2025-01-15T09:30:00.000Z, or epoch milliseconds)",
        "companies.json object 4, field archived: 'no' is not true, false or null",
        "companies.json object 5, field properties.name: 'dict' is not a text, a number, true/false or null",
        "companies.json object 6, field id: is missing (required)",
        "companies.json object 7, field id: '18200000001' is a duplicate (first at object 0; expected unique ids)",
    ]


def test_bad_json_lines_and_missing_files(tmp_path: Path) -> None:
    d = tmp_path / "lines"
    d.mkdir()
    (d / "companies.json").write_text(json.dumps(build()["companies"][0]) + "\n{\"id\": \"2\", \n",
                                      encoding="utf-8")
    got = _defects(d)
    assert len(got) == 1 and got[0].startswith("companies.json line 2: is not valid JSON")
    (d / "companies.json").write_text(json.dumps({"results": build()["companies"]}) + "\n", encoding="utf-8")
    (d / "owners.json").write_text('{"id": "1", "firstName": 7}\n', encoding="utf-8")
    assert _defects(d) == ["owners.json line 1, field firstName: '7' is not a string or null"]
    e = tmp_path / "empty"
    e.mkdir()
    assert [x.split(": ", 1)[1] for x in _defects(e)] == [
        "is missing (expected the companies of GET /crm/v3/objects/companies)"]


def test_cli_import_exit_codes_and_out(portal_dir: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws.duckdb"
    r = runner.invoke(app, ["import", "hubspot", str(portal_dir), "--workspace", str(ws)])
    assert r.exit_code == 0, r.output
    assert "accounts" in r.output and "11 object(s) new or changed of 11" in r.output
    out = tmp_path / "data"
    r = runner.invoke(app, ["import", "hubspot", str(portal_dir), "--out", str(out)])
    assert r.exit_code == 0 and "accounts.csv (8 rows)" in r.output
    lines = (out / "accounts.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "account_id,name,domain,created_at,segment,csm,industry,source"
    assert lines[1] == ("18200000001,Acme Analytics,acme-analytics.example,2025-01-06,enterprise,Ana Silva,"
                        "COMPUTER_SOFTWARE,hubspot")
    assert import_to_data_dir(portal_dir, tmp_path / "again") == {"accounts": 8}
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "companies.json").write_text("[1, 2]", encoding="utf-8")
    r = runner.invoke(app, ["import", "hubspot", str(bad), "--workspace", str(tmp_path / "w2.duckdb")])
    assert r.exit_code == 2 and "companies.json" in r.output and not (tmp_path / "w2.duckdb").exists()


def test_settings_defects_name_the_line_and_key(tmp_path: Path) -> None:
    toml = tmp_path / "csmetrics.toml"
    toml.write_text('[sources.hubspot]\nsegment_property = "customer_segment"\nproperties = ["tier", "csm"]\n',
                    encoding="utf-8")
    with pytest.raises(DataError) as info:
        HubSpotSettings.load(toml)
    d = info.value.defects[0]
    assert (d.row, d.column, d.value) == (3, "sources.hubspot.properties", "csm")
    toml.write_text('[sources.hubspot]\nsegment_property = "customer_segment"\nproperties = ["tier"]\n'
                    "max_age_days = 1\n", encoding="utf-8")
    s = HubSpotSettings.load(toml)
    assert (s.segment_property, s.properties, s.max_age_days, s.token_env) == (
        "customer_segment", ("tier",), 1, "HUBSPOT_TOKEN")
    toml.write_text('[sources.hubspot]\ntoken = "pat-na1-x"\n', encoding="utf-8")
    with pytest.raises(DataError) as info:
        HubSpotSettings.load(toml)
    assert info.value.defects[0].column == "sources.hubspot.token"
