"""The command reference of docs/cli.md, generated from the Typer app so that it cannot drift.

Every command's ``--help`` (sub-commands included: ``health history``, ``token create``...)
rendered at a fixed width without colour, written into docs/cli.md between the markers
:data:`START` and :data:`END`; the hand-written text around them (the intro, the
environment variables) is kept. ``tests/docs/test_cli_reference.py`` fails when the file
and the app disagree.

    python -m csmetrics.cli.docs            # rewrite docs/cli.md (what `make docs` runs)
    python -m csmetrics.cli.docs --check    # exit 1 if docs/cli.md is out of date
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

WIDTH = 110
"""Columns the help is rendered at (the boxes of ``--help`` are this wide)."""

START = "<!-- cli-reference: start. Generated from the Typer app by `make docs`; do not edit by hand. -->"
END = "<!-- cli-reference: end -->"
DOC = Path(__file__).resolve().parents[3] / "docs" / "cli.md"
REGENERATE = "make docs  (or: .venv/bin/python -m csmetrics.cli.docs)"


def _commands(cmd: Any, ctx: Any, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    """Every command path below ``cmd``, in the order ``--help`` lists them, a group before its members."""
    for name in cmd.list_commands(ctx):
        sub = cmd.get_command(ctx, name)
        if sub is None or getattr(sub, "hidden", False):
            continue
        yield (*path, name)
        if hasattr(sub, "list_commands"):
            yield from _commands(sub, ctx, (*path, name))


def command_paths(app: typer.Typer) -> list[tuple[str, ...]]:
    """``()`` for ``csmetrics`` itself, then ``("ingest",)``, ..., ``("health", "history")``..."""
    root = typer.main.get_command(app)
    ctx = root.make_context("csmetrics", ["--help"], resilient_parsing=True)
    return [(), *_commands(root, ctx, ())]


@contextmanager
def _plain_help() -> Iterator[None]:
    """Typer's help console at WIDTH columns, no colour, whatever the environment says.

    Typer reads TERMINAL_WIDTH, FORCE_COLOR and GITHUB_ACTIONS once, at import: set its settings directly.
    """
    from typer import rich_utils

    saved = (rich_utils.MAX_WIDTH, rich_utils.FORCE_TERMINAL, rich_utils.COLOR_SYSTEM)
    rich_utils.MAX_WIDTH, rich_utils.FORCE_TERMINAL, rich_utils.COLOR_SYSTEM = WIDTH, False, None
    try:
        yield
    finally:
        rich_utils.MAX_WIDTH, rich_utils.FORCE_TERMINAL, rich_utils.COLOR_SYSTEM = saved


def render_help(app: typer.Typer, path: tuple[str, ...]) -> str:
    """``csmetrics PATH --help`` at :data:`WIDTH` columns, without colour or trailing spaces."""
    with _plain_help():
        res = CliRunner().invoke(app, [*path, "--help"], prog_name="csmetrics",
                                 env={"COLUMNS": str(WIDTH), "NO_COLOR": "1", "TERM": "dumb"})
    if res.exit_code != 0:
        msg = f"csmetrics {' '.join(path)} --help exited {res.exit_code}: {res.output}"
        raise RuntimeError(msg)
    lines = [ln.rstrip() for ln in res.stdout.splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def reference(app: typer.Typer) -> str:
    """The generated part of docs/cli.md, markers included."""
    parts = [START, ""]
    for path in command_paths(app):
        title = " ".join(("csmetrics", *path))
        parts += [f"## {title}", "", "```text", render_help(app, path), "```", ""]
    parts.append(END)
    return "\n".join(parts)


def updated(text: str, app: typer.Typer) -> str:
    """``text`` (docs/cli.md) with the part between the markers regenerated; appended when absent."""
    ref = reference(app)
    if START in text and END in text:
        head, _, rest = text.partition(START)
        _, _, tail = rest.partition(END)
        return head + ref + tail
    return text.rstrip("\n") + "\n\n" + ref + "\n"


def main(argv: list[str] | None = None) -> int:
    from csmetrics.cli.main import app

    args = sys.argv[1:] if argv is None else argv
    current = DOC.read_text(encoding="utf-8")
    new = updated(current, app)
    if "--check" in args:
        if new != current:
            print(f"{DOC} is out of date: run {REGENERATE}", file=sys.stderr)
            return 1
        return 0
    if new != current:
        DOC.write_text(new, encoding="utf-8")
        print(f"wrote {DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
