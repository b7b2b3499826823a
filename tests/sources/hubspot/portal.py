"""The HubSpot fixture portal (tests/fixtures/hubspot/): 8 companies created over 2025 H1, 3 owners (the CSMs).

``python -m tests.sources.hubspot.portal`` rewrites the fixture files; a test
checks they equal :func:`build`'s output. Shapes: HubSpot's CRM v3 responses
(developers.hubspot.com/docs/api-reference/latest/crm/objects/companies,
.../crm/owners/guide): a page ``{"results": [...]}`` (the last page has no
``paging``), companies ``{"id", "properties", "createdAt", "updatedAt",
"archived"}`` with every property a string or null, owners ``{"id", "email",
"type", "firstName", "lastName", "userId", "userIdIncludingInactive",
"createdAt", "updatedAt", "archived", "teams"}``.

| company id  | name              | created (UTC)    | owner (csm)  | segment    | tier   |
|-------------|-------------------|------------------|--------------|------------|--------|
| 18200000001 | Acme Analytics    | 2025-01-06 15:04 | Ana Silva    | enterprise | gold   |
| 18200000002 | Birch Logistics   | 2025-01-27 09:12 | Ben Okafor   | mid_market | silver |
| 18200000003 | Cobalt Health     | 2025-02-14 11:30 | Chloe Martin | enterprise | gold   |
| 18200000004 | Delta Foods       | 2025-03-03 08:00 | Ana Silva    | smb        | bronze |
| 18200000005 | Evergreen Schools | 2025-03-21 13:45 | Ben Okafor   | smb        | bronze |
| 18200000006 | Fjord Media       | 2025-04-09 10:00 | Chloe Martin | mid_market | silver |
| 18200000007 | Granite Bank      | 2025-05-15 16:20 | Ana Silva    | enterprise | gold   |
| 18200000008 | Harbor Retail     | 2025-06-30 23:45 | Ben Okafor   | smb        | silver |
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "hubspot"

OWNERS = [
    ("61000001", "Ana", "Silva", 9100001),
    ("61000002", "Ben", "Okafor", 9100002),
    ("61000003", "Chloe", "Martin", 9100003),
]

COMPANIES = [
    ("18200000001", "Acme Analytics", "acme-analytics.example", "2025-01-06T15:04:05.120Z", "61000001",
     "COMPUTER_SOFTWARE", "enterprise", "gold"),
    ("18200000002", "Birch Logistics", "birch-logistics.example", "2025-01-27T09:12:00Z", "61000002",
     "LOGISTICS_AND_SUPPLY_CHAIN", "mid_market", "silver"),
    ("18200000003", "Cobalt Health", "cobalt-health.example", "2025-02-14T11:30:00Z", "61000003",
     "HOSPITAL_HEALTH_CARE", "enterprise", "gold"),
    ("18200000004", "Delta Foods", "delta-foods.example", "2025-03-03T08:00:00Z", "61000001",
     "FOOD_BEVERAGES", "smb", "bronze"),
    ("18200000005", "Evergreen Schools", "evergreen-schools.example", "2025-03-21T13:45:00Z", "61000002",
     "EDUCATION_MANAGEMENT", "smb", "bronze"),
    ("18200000006", "Fjord Media", "fjord-media.example", "2025-04-09T10:00:00Z", "61000003",
     "MEDIA_PRODUCTION", "mid_market", "silver"),
    ("18200000007", "Granite Bank", "granite-bank.example", "2025-05-15T16:20:00Z", "61000001",
     "BANKING", "enterprise", "gold"),
    ("18200000008", "Harbor Retail", "harbor-retail.example", "2025-06-30T23:45:00Z", "61000002",
     "RETAIL", "smb", "silver"),
]

CSM = {"Ana Silva": ["18200000001", "18200000004", "18200000007"],
       "Ben Okafor": ["18200000002", "18200000005", "18200000008"],
       "Chloe Martin": ["18200000003", "18200000006"]}
"""The hand-made answer: each CSM's companies."""

UPDATED = "2026-06-01T08:00:00Z"


def owner(oid: str, first: str, last: str, user: int, archived: bool = False) -> dict[str, Any]:
    return {"id": oid, "email": f"{first.lower()}.{last.lower()}@example.com", "type": "PERSON",
            "firstName": first, "lastName": last, "userId": user, "userIdIncludingInactive": user,
            "createdAt": "2024-11-04T09:00:00Z", "updatedAt": UPDATED, "archived": archived,
            "teams": [{"id": "5001", "name": "Customer Success", "primary": True}]}


def company(cid: str, name: str | None, domain: str | None, created: str, owner_id: str | None,
            industry: str | None, segment: str | None, tier: str | None, archived: bool = False,
            **extra: str | None) -> dict[str, Any]:
    props = {"createdate": created, "domain": domain, "hs_lastmodifieddate": UPDATED, "hs_object_id": cid,
             "hubspot_owner_id": owner_id, "industry": industry, "name": name, "segment": segment, "tier": tier,
             **extra}
    out: dict[str, Any] = {"id": cid, "properties": props, "createdAt": created, "updatedAt": UPDATED,
                           "archived": archived}
    if archived:
        out["archivedAt"] = UPDATED
    return out


def build() -> dict[str, list[dict[str, Any]]]:
    return {"companies": [company(*c) for c in COMPANIES], "owners": [owner(*o) for o in OWNERS]}


def write(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for kind, objs in build().items():
        page = {"results": objs}
        (directory / f"{kind}.json").write_text(json.dumps(page, indent=2) + "\n", encoding="utf-8")
    return directory


if __name__ == "__main__":
    write(FIXTURE)
