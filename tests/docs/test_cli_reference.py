"""docs/cli.md's command reference is the Typer app's own ``--help``, so it cannot drift from the code."""

from __future__ import annotations

import difflib

import pytest

from csmetrics.cli import docs
from csmetrics.cli.main import app

pytestmark = pytest.mark.xdist_group("docs")


def test_cli_md_is_the_generated_reference() -> None:
    current = docs.DOC.read_text(encoding="utf-8")
    assert docs.START in current and docs.END in current, f"docs/cli.md lacks its markers; run {docs.REGENERATE}"
    expected = docs.updated(current, app)
    diff = "".join(difflib.unified_diff(current.splitlines(True), expected.splitlines(True),
                                        "docs/cli.md", "generated", n=1))
    assert current == expected, f"docs/cli.md differs from the CLI: run {docs.REGENERATE}\n{diff[:4000]}"


def test_every_command_and_sub_command_has_a_section() -> None:
    paths = docs.command_paths(app)
    names = {" ".join(p) for p in paths}
    # the ones issue 16 found missing, and the groups' members
    assert {"health history", "health backtest", "token create", "token list", "token revoke", "survey link",
            "sync", "import", "sources"} <= names
    text = docs.reference(app)
    for p in paths:
        assert f"## {' '.join(('csmetrics', *p))}\n" in text


def test_help_is_rendered_at_the_fixed_width_without_colour() -> None:
    text = docs.render_help(app, ("metrics",))
    assert "\x1b[" not in text
    widths = {len(line) for line in text.splitlines() if line.startswith(("╭", "╰"))}
    assert widths == {docs.WIDTH}
