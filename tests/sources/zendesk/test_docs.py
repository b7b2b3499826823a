"""Every mapping rule of map.py is documented in docs/zendesk.md; the docs name every setting and endpoint."""

from __future__ import annotations

import re
from pathlib import Path

from csmetrics.sources.zendesk import map as zendesk_map
from csmetrics.sources.zendesk.extract import EXPORT, LISTS
from csmetrics.sources.zendesk.pipeline import SETTINGS

DOCS = Path(__file__).resolve().parents[3] / "docs"


def test_every_mapping_rule_is_in_docs_zendesk_md() -> None:
    rules = re.findall(r"\*\*([ATS]\d+) ", zendesk_map.__doc__ or "")
    assert rules == ["A1", "A2", "T1", "T2", "T3", "T4", "T5", "S1", "S2"]
    page = (DOCS / "zendesk.md").read_text(encoding="utf-8")
    for rule in rules:
        assert f"| {rule} |" in page, rule


def test_every_setting_and_endpoint_is_in_docs_zendesk_md() -> None:
    page = (DOCS / "zendesk.md").read_text(encoding="utf-8")
    for key in [*SETTINGS, "max_age_days"]:
        assert re.search(rf"^    {key} = ", page, re.M), key
    for path in [EXPORT, *LISTS.values()]:
        assert f"`GET {path}`" in page, path
