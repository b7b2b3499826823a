"""Zendesk beside the HubSpot fixture portal: the CRM names the accounts and CSMs whatever the order of imports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from csmetrics.sources.hubspot import import_dir as hubspot_import
from csmetrics.sources.zendesk import import_dir
from tests.sources.zendesk.company import EXPECTED_BY_CSM, build
from tests.sources.zendesk.conftest import monthly, table_rows

HUBSPOT = Path(__file__).resolve().parents[2] / "fixtures" / "hubspot"


@pytest.fixture
def keyed(tmp_path: Path) -> Path:
    """The company's Zendesk objects with organizations 101 and 102 keyed to HubSpot companies by external_id."""
    objs = build()
    ids = {101: "18200000001", 102: "18200000002"}  # Acme Analytics (Ana Silva), Birch Logistics (Ben Okafor)
    for org in objs["organizations"]:
        org["external_id"] = ids.get(org["id"])
    d = tmp_path / "zendesk"
    d.mkdir()
    for kind, items in objs.items():
        (d / f"{kind}.json").write_text(json.dumps({kind: items, "next_page": None}), encoding="utf-8")
    return d


@pytest.mark.parametrize("hubspot_first", [True, False])
def test_hubspot_names_and_csms_win_in_either_order(keyed: Path, tmp_path: Path, hubspot_first: bool) -> None:
    ws = tmp_path / "ws.duckdb"
    if hubspot_first:
        hubspot_import(HUBSPOT, ws)
        result = import_dir(keyed, ws)
        assert (result.matched, result.unmatched) == (2, 1)
    else:
        import_dir(keyed, ws)
        hubspot_import(HUBSPOT, ws)
    accounts = {r[0]: r[1:] for r in table_rows(ws, "(SELECT account_id, name, csm, source FROM accounts)",
                                                "account_id")}
    assert accounts["18200000001"] == ("Acme Analytics", "Ana Silva", "hubspot")  # not "Acme Inc"
    assert accounts["18200000002"] == ("Birch Logistics", "Ben Okafor", "hubspot")
    assert accounts["103"] == ("Umbrella", None, "zendesk")  # the unmatched organization
    got = monthly(ws, ["tickets", "fcr_rate", "csat"], by="csm")
    for csm, crm_csm in (("Alice", "Ana Silva"), ("Bob", "Ben Okafor"), ("(none)", "(none)")):
        for name in ("tickets", "fcr_rate", "csat"):
            assert got[(name, crm_csm)] == EXPECTED_BY_CSM[csm][name], (crm_csm, name)
