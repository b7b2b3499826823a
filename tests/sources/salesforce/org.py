"""The Salesforce fixture org (tests/fixtures/salesforce/accounts.json): 8 Accounts, 3 owners, one deleted.

``python -m tests.sources.salesforce.org`` rewrites the fixture file; a test
checks it equals :func:`build`'s output. Shape: the REST query resource's
response (developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/
dome_query.htm): ``{"totalSize", "done", "records": [...]}``, each record with
its ``attributes`` (type, url), the selected fields, and ``Owner`` as a nested
record ``{"attributes": {"type": "User", ...}, "Name": ...}``. Date-times are
Salesforce's ``2025-01-06T15:04:05.000+0000``.

| Id (short) | Name            | created (UTC)    | Owner.Name   | Type               | Tier__c |
|------------|-----------------|------------------|--------------|--------------------|---------|
| ...00001   | Acme Analytics  | 2025-01-06 15:04 | Ana Silva    | Customer - Direct  | Gold    |
| ...00002   | Birch Logistics | 2025-01-27 09:12 | Ben Okafor   | Customer - Channel | Silver  |
| ...00003   | Cobalt Health   | 2025-02-14 23:30 (-0200: 15 Feb UTC) | Chloe Martin | Customer - Direct | Gold |
| ...00004   | Delta Foods     | 2025-03-03 08:00 | Ana Silva    | Customer - Direct  | Bronze  |
| ...00005   | Evergreen Schools | 2025-03-21 13:45 | Ben Okafor | Customer - Channel | (null)  |
| ...00006   | Fjord Media     | 2025-04-09 10:00 | (no Owner)   | Prospect           | Silver  |
| ...00007   | Granite Bank    | 2025-05-15 16:20 | Ana Silva    | Customer - Direct  | Gold    |
| ...00008   | Harbor Retail   | 2025-06-23 11:00 | Ben Okafor   | Customer - Direct  | Silver  | deleted (IsDeleted) |
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "salesforce"
VERSION = "v59.0"
STAMP = "2026-06-01T08:00:00.000+0000"

OWNER_IDS = {"Ana Silva": "005Hs000000AnaSIAA", "Ben Okafor": "005Hs000000BenOIAA",
             "Chloe Martin": "005Hs000000ChlMIAA"}

ROWS = [
    (1, "Acme Analytics", "2025-01-06T15:04:05.000+0000", "Ana Silva", "Technology", "Customer - Direct", "Gold"),
    (2, "Birch Logistics", "2025-01-27T09:12:00.000+0000", "Ben Okafor", "Transportation", "Customer - Channel",
     "Silver"),
    (3, "Cobalt Health", "2025-02-14T23:30:00.000-0200", "Chloe Martin", "Healthcare", "Customer - Direct", "Gold"),
    (4, "Delta Foods", "2025-03-03T08:00:00.000+0000", "Ana Silva", "Food & Beverage", "Customer - Direct",
     "Bronze"),
    (5, "Evergreen Schools", "2025-03-21T13:45:00.000+0000", "Ben Okafor", "Education", "Customer - Channel", None),
    (6, "Fjord Media", "2025-04-09T10:00:00.000+0000", None, "Media", "Prospect", "Silver"),
    (7, "Granite Bank", "2025-05-15T16:20:00.000+0000", "Ana Silva", "Banking", "Customer - Direct", "Gold"),
    (8, "Harbor Retail", "2025-06-23T11:00:00.000+0000", "Ben Okafor", "Retail", "Customer - Direct", "Silver"),
]
DELETED = {8}


def account_id(n: int) -> str:
    return f"001Hs00000{n:05d}IAA"


def record(n: int, name: str, created: str, owner: str | None, industry: str | None, kind: str | None,
           tier: str | None, deleted: bool = False, stamp: str = STAMP) -> dict[str, Any]:
    rid = account_id(n)
    owner_rec = None if owner is None else {
        "attributes": {"type": "User", "url": f"/services/data/{VERSION}/sobjects/User/{OWNER_IDS[owner]}"},
        "Name": owner}
    return {"attributes": {"type": "Account", "url": f"/services/data/{VERSION}/sobjects/Account/{rid}"},
            "Id": rid, "Name": name, "CreatedDate": created, "Industry": industry, "Owner": owner_rec,
            "IsDeleted": deleted, "SystemModstamp": stamp, "Type": kind, "Tier__c": tier}


def build() -> list[dict[str, Any]]:
    return [record(*row, deleted=row[0] in DELETED) for row in ROWS]


def write(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    recs = build()
    doc = {"totalSize": len(recs), "done": True, "records": recs}
    (directory / "accounts.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return directory


if __name__ == "__main__":
    write(FIXTURE)
