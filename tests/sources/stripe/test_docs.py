"""Every mapping rule of map.py is documented in docs/stripe.md, and every command in docs/cli.md."""

from __future__ import annotations

import re
from pathlib import Path

from csmetrics.sources.stripe import map as stripe_map

DOCS = Path(__file__).resolve().parents[3] / "docs"


def test_every_mapping_rule_is_in_docs_stripe_md() -> None:
    rules = re.findall(r"\*\*([ACMX]\d+) ", stripe_map.__doc__ or "")
    assert len(rules) == 15
    page = (DOCS / "stripe.md").read_text(encoding="utf-8")
    for rule in rules:
        assert f"| {rule} |" in page, rule


def test_the_commands_are_in_the_cli_reference() -> None:
    page = (DOCS / "cli.md").read_text(encoding="utf-8")
    for command in ("sync", "import", "sources"):
        assert f"## csmetrics {command}\n" in page and f"Usage: csmetrics {command} " in page, command
