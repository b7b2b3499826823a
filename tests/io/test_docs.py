"""docs/data-contract.md keeps up with the table contracts."""

from __future__ import annotations

from pathlib import Path

from csmetrics.schema.tables import TABLES

DOC = Path(__file__).parents[2] / "docs" / "data-contract.md"


def test_every_table_and_column_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for table in TABLES.values():
        section = text.split(f"### {table.name}\n", 1)[1].split("\n### ", 1)[0]
        for col in table.columns:
            cell = f"| **{col.name}** | yes |" if col.required else f"| {col.name} |  |"
            assert cell in section, (table.name, col.name)
            for choice in col.choices or ():
                assert choice in section, (table.name, col.name, choice)
