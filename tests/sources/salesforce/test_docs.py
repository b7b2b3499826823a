"""Every Salesforce mapping rule of map.py is documented in docs/crm.md with its example."""

from __future__ import annotations

import re
from pathlib import Path

from csmetrics.sources.salesforce import map as salesforce_map
from csmetrics.sources.salesforce.pipeline import SETTINGS

DOCS = Path(__file__).resolve().parents[3] / "docs"


def test_every_mapping_rule_is_in_docs_crm_md() -> None:
    rules = re.findall(r"\*\*(S\d+) ", salesforce_map.__doc__ or "")
    assert rules == ["S1", "S2", "S3", "S4", "S5", "S6"]
    page = (DOCS / "crm.md").read_text(encoding="utf-8")
    for rule in rules:
        assert f"| {rule} |" in page, rule


def test_every_setting_is_documented() -> None:
    page = (DOCS / "crm.md").read_text(encoding="utf-8").split("## Salesforce", 1)[1]
    for key in SETTINGS:
        assert f"\n    {key} = " in page, key
