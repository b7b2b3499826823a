"""Every HubSpot mapping rule of map.py is documented in docs/crm.md with its example."""

from __future__ import annotations

import re
from pathlib import Path

from csmetrics.sources.hubspot import map as hubspot_map

DOCS = Path(__file__).resolve().parents[3] / "docs"


def test_every_mapping_rule_is_in_docs_crm_md() -> None:
    rules = re.findall(r"\*\*(H\d+) ", hubspot_map.__doc__ or "")
    assert rules == ["H1", "H2", "H3", "H4", "H5", "H6"]
    page = (DOCS / "crm.md").read_text(encoding="utf-8")
    for rule in rules:
        assert f"| {rule} |" in page, rule


def test_the_fixture_portal_is_described_in_the_docs() -> None:
    page = (DOCS / "crm.md").read_text(encoding="utf-8")
    for name in ("Ana Silva", "Ben Okafor", "Chloe Martin", "Acme Analytics", "Harbor Retail"):
        assert name in page, name
