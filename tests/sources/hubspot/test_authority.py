"""HubSpot names the accounts whatever the order: Stripe (or an ingest) first then HubSpot, or the reverse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from csmetrics.io.dataset import ingest
from csmetrics.sources.hubspot import import_dir
from csmetrics.sources.stripe import import_dir as stripe_import
from csmetrics.sources.stripe.pipeline import StripeSettings
from tests.sources.hubspot.conftest import accounts
from tests.sources.hubspot.portal import company

KEYED = StripeSettings(account_id="metadata.account_id")
COLS = "account_id, name, segment, csm, industry, email, stripe_customer_id, source"


def customer(cid: str, account_id: str, name: str, csm: str | None, segment: str | None) -> dict[str, object]:
    meta = {"account_id": account_id, **({"csm": csm} if csm else {}), **({"segment": segment} if segment else {})}
    return {"id": cid, "object": "customer", "created": 1735689600, "currency": "usd", "deleted": None,
            "email": f"billing@{cid}.example", "livemode": False, "metadata": meta, "name": name}


@pytest.fixture
def billing(tmp_path: Path) -> Path:
    """Stripe customers keyed to HubSpot companies by metadata.account_id, with billing's own names and CSMs."""
    d = tmp_path / "stripe"
    d.mkdir()
    custs = [customer("cus_1", "18200000001", "ACME ANALYTICS INC", "billing-desk", "self_serve"),
             customer("cus_2", "18200000002", "Birch Logistics GmbH", None, None),
             customer("cus_9", "S-9", "Stripe Only Ltd", "billing-desk", "smb")]
    (d / "customers.json").write_text(json.dumps({"object": "list", "data": custs}), encoding="utf-8")
    return d


@pytest.fixture
def crm(tmp_path: Path) -> Path:
    """Two HubSpot companies: Acme owned by Ana, Birch with no owner and no segment."""
    d = tmp_path / "hubspot"
    d.mkdir()
    companies = [company("18200000001", "Acme Analytics", None, "2025-01-06T15:04:05Z", "61000001",
                         "COMPUTER_SOFTWARE", "enterprise", None),
                 company("18200000002", "Birch Logistics", None, "2025-01-27T09:12:00Z", None,
                         "LOGISTICS_AND_SUPPLY_CHAIN", None, None)]
    owners = [{"id": "61000001", "firstName": "Ana", "lastName": "Silva", "email": "ana@example.com",
               "archived": False}]
    (d / "companies.json").write_text(json.dumps({"results": companies}), encoding="utf-8")
    (d / "owners.json").write_text(json.dumps({"results": owners}), encoding="utf-8")
    return d


EXPECTED = {
    # HubSpot's non-empty values win; Stripe only fills what HubSpot leaves empty (email, csm of Birch...)
    "18200000001": ("Acme Analytics", "enterprise", "Ana Silva", "COMPUTER_SOFTWARE", "billing@cus_1.example",
                    "cus_1", "hubspot"),
    "18200000002": ("Birch Logistics", None, None, "LOGISTICS_AND_SUPPLY_CHAIN", "billing@cus_2.example", "cus_2",
                    "hubspot"),
    "S-9": ("Stripe Only Ltd", "smb", "billing-desk", None, "billing@cus_9.example", "cus_9", "stripe"),
}


def test_stripe_first_then_hubspot(tmp_path: Path, billing: Path, crm: Path) -> None:
    ws = tmp_path / "ws.duckdb"
    stripe_import(billing, ws, KEYED)
    assert accounts(ws, COLS)["18200000001"][:3] == ("ACME ANALYTICS INC", "self_serve", "billing-desk")
    result = import_dir(crm, ws)
    assert result.matched == 2
    assert accounts(ws, COLS) == EXPECTED


def test_hubspot_first_then_stripe(tmp_path: Path, billing: Path, crm: Path) -> None:
    ws = tmp_path / "ws.duckdb"
    import_dir(crm, ws)
    result = stripe_import(billing, ws, KEYED)
    assert result.matched == 2
    got = accounts(ws, COLS)
    # Birch: HubSpot has no CSM, so Stripe's (none either) leaves it empty; the order changes nothing else
    assert got == EXPECTED
    # a later HubSpot re-import keeps it so, and changes nothing
    assert not import_dir(crm, ws).changed and accounts(ws, COLS) == EXPECTED


def test_an_ingested_help_desk_account_is_taken_over(tmp_path: Path, crm: Path) -> None:
    data = tmp_path / "helpdesk"
    data.mkdir()
    (data / "accounts.csv").write_text("account_id,name,csm,segment\n18200000001,acme (zendesk org),agent-7,\n"
                                       "Z-1,Zen Only,agent-7,smb\n", encoding="utf-8")
    ws = tmp_path / "ws.duckdb"
    ingest(data, ws)
    import_dir(crm, ws)
    got = accounts(ws, "account_id, name, csm, segment, source")
    assert got == {"18200000001": ("Acme Analytics", "Ana Silva", "enterprise", "hubspot"),
                   "18200000002": ("Birch Logistics", None, None, "hubspot"),
                   "Z-1": ("Zen Only", "agent-7", "smb", None)}
