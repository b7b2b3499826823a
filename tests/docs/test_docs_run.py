"""Every shell and Python block of README.md and docs/*.md, run on the demo company.

The datasette approach: the docs are the test's input. A block is run as a reader would
type it (tests/docs/runner.py) in a fresh copy of a directory holding ``demo-data`` and
``.csmetrics/workspace.duckdb`` (300 demo accounts, made once per session). Each command
must exit 0 (or the code a ``docs-test: expect-exit`` marker gives), ``--format json``
must print JSON, and an output the doc shows must have the same keys / words
(tests/docs/shape.py). So a command that stops working, an option that is renamed or an
id that does not exist fails the suite.

Usage lines with placeholders (``--data DIR [--as-of DATE]``) are checked against the
Typer app: the command exists and takes every option named. Blocks that cannot run here
(installs, the suite itself, a Spark cluster, Stripe) carry a ``docs-test: skip REASON``
marker; ``test_blocks_not_run_are_few_and_say_why`` lists them.

Markers: see tests/docs/blocks.py.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer

from csmetrics.cli.main import app
from csmetrics.config import Config
from csmetrics.models.health import parse_config
from csmetrics.sources import available, connector
from csmetrics.sources.stripe.pipeline import StripeSettings
from tests.docs.blocks import ROOT, Block, Command, all_blocks
from tests.docs.runner import Result, Shell, wants_json
from tests.docs.shape import check_json, check_sample

pytestmark = pytest.mark.xdist_group("docs")

BLOCKS = all_blocks()
RUNNABLE = [b for b in BLOCKS if b.runnable]
SAMPLES = [b for b in BLOCKS if b.marker("output-of")]
TOML = [b for b in BLOCKS if b.marker("toml")]
WITH_CLI = [b for b in BLOCKS if b.kind == "shell" and any(c.program == "csmetrics" for c in b.commands)]

MAX_NOT_RUN = 14
"""Blocks (or commands within a block) marked not runnable: keep this small."""


def _check(result: Result, expected_exit: int, cmd: Command | None) -> None:
    assert result.exit_code == expected_exit, (
        f"expected exit code {expected_exit}\n{result.describe()}")
    if expected_exit == 0 and wants_json(result.command.split()):
        problems = check_json("", result.stdout)
        assert not problems, f"{problems}\n{result.describe()}"
    if cmd is not None and cmd.output:
        problems = check_sample(cmd.output, result.stdout, result.stderr)
        assert not problems, "\n".join(problems) + "\n" + result.describe()


def _setup(block: Block, shell: Shell) -> None:
    setup = block.marker("setup")
    if setup is None:
        return
    for line in setup.arg.strip().splitlines():
        if line.strip():
            for res in shell.run(line.strip()):
                assert res.exit_code == 0, f"setup of {block.id} failed\n{res.describe()}"


@pytest.mark.parametrize("block", RUNNABLE, ids=lambda b: b.id)
def test_block_runs(block: Block, shell: Shell) -> None:
    _setup(block, shell)
    exit_marker = block.marker("expect-exit")
    if block.kind == "python":
        source = block.text
        if re.search(r"^def test_\w+\(", source, re.M):  # a test shown in the docs: run it too
            source += ("\n\nfor _name, _f in list(globals().items()):\n"
                       "    if _name.startswith('test_') and callable(_f):\n        _f()\n")
        _check(shell.python(source), int(exit_marker.arg) if exit_marker else 0, None)
        return
    runnable = [c for c in block.commands if not c.is_synopsis and block.skipped(c) is None]
    for i, cmd in enumerate(runnable):
        expected = int(exit_marker.arg) if exit_marker and i == len(runnable) - 1 else 0
        results = shell.run(cmd.text)
        for res in results[:-1]:
            _check(res, 0, None)
        _check(results[-1], expected, cmd)


@pytest.mark.parametrize("block", SAMPLES, ids=lambda b: b.id)
def test_sample_output_has_the_shape_shown(block: Block, shell: Shell) -> None:
    """A sample block marked ``output-of CMD``: CMD's output has the sample's keys / words."""
    _setup(block, shell)
    marker = block.marker("output-of")
    assert marker is not None
    results = shell.run(marker.arg)
    res = results[-1]
    assert res.exit_code == 0, res.describe()
    problems = check_sample(block.text.splitlines(), res.stdout, res.stderr)
    assert not problems, "\n".join(problems) + "\n" + res.describe()


def _resolve(words: list[str]) -> list[tuple[str, Any, list[str]]]:
    """(name, click command, remaining words) for ``csmetrics WORDS``; ``a|b`` sub-commands give several."""
    todo: list[tuple[str, Any, list[str]]] = [("csmetrics", typer.main.get_command(app), words)]
    done = []
    while todo:
        name, cmd, rest = todo.pop()
        nxt = rest[0] if rest else ""
        if hasattr(cmd, "commands") and nxt and not nxt.startswith(("-", "[")):
            subs = nxt.split("|")
            unknown = [s for s in subs if s not in cmd.commands]
            assert not unknown, f"`{name}` has no sub-command {', '.join(unknown)}"
            todo.extend((f"{name} {s}", cmd.commands[s], rest[1:]) for s in subs)
        else:
            done.append((name, cmd, rest))
    return done


def _options(cmd: Command) -> list[str]:
    return [re.split(r"[=\]\[]", w.strip("[]"))[0] for w in cmd.words[1:] if w.strip("[").startswith("--")]


@pytest.mark.parametrize("block", WITH_CLI, ids=lambda b: b.id)
def test_commands_and_options_exist(block: Block) -> None:
    """Every ``csmetrics`` line of a block, usage lines and skipped ones included, names a real command
    and only options it takes."""
    for cmd in block.commands:
        if cmd.program != "csmetrics":
            continue
        for name, click_cmd, _rest in _resolve(cmd.words[1:]):
            known = {o for p in click_cmd.params for o in (*p.opts, *p.secondary_opts)}
            unknown = [o for o in _options(cmd) if o not in known]
            assert not unknown, f"{block.id} line {cmd.line}: `{name}` has no option {', '.join(unknown)}"


def not_run() -> list[tuple[str, str, str]]:
    """(block, what, reason) for every block or command marked not runnable."""
    out = []
    for b in BLOCKS:
        for m in b.markers:
            if m.kind == "skip":
                out.append((b.id, m.prefix or "the block", m.arg))
    return out


def test_blocks_not_run_are_few_and_say_why() -> None:
    listing = "\n".join(f"{b}: {what}: {reason}" for b, what, reason in not_run())
    assert all(reason for _b, _w, reason in not_run()), f"a skip marker without a reason:\n{listing}"
    assert len(not_run()) <= MAX_NOT_RUN, f"more than {MAX_NOT_RUN} blocks are not run:\n{listing}"


def test_every_shell_and_python_block_is_run_or_checked() -> None:
    """A shell block is run, checked as usage lines, or marked; a Python block is run or marked."""
    silent = []
    for b in BLOCKS:
        if b.kind == "python" and not b.runnable and b.skip_reason is None:
            silent.append(b.id)
        if b.kind == "shell":
            for c in b.commands:
                if not c.is_synopsis and b.skipped(c) is None and not b.runnable:
                    silent.append(f"{b.id} line {c.line}")
    assert not silent, f"blocks neither run nor marked: {silent}"
    for b in BLOCKS:
        for m in b.markers:
            assert m.kind in ("skip", "expect-exit", "output-of", "setup", "toml"), f"{b.id}: unknown marker {m.kind!r}"
            if m.kind == "output-of":
                assert b.kind == "other", f"{b.id}: output-of marks a sample block, not a command"


def test_paths_named_in_blocks_not_run_exist() -> None:
    """A skipped command still names real files (a renamed test module or bench script fails here)."""
    missing = []
    for b in BLOCKS:
        if b.kind != "shell":
            continue
        for c in b.commands:
            if b.skipped(c) is None:
                continue
            for w in c.words:
                path = w.split("::")[0]
                if re.match(r"^(tests|bench|src|mutation|scripts)/\S+$", path) and not (ROOT / path).exists():
                    missing.append(f"{b.id} line {c.line}: {path}")
    assert not missing, f"paths that do not exist: {missing}"


@pytest.mark.parametrize("block", TOML, ids=lambda b: b.id)
def test_toml_blocks_are_accepted_by_what_reads_them(block: Block, tmp_path: Path) -> None:
    """``toml settings``: a csmetrics.toml that ingest and the connectors accept; ``toml health-model``: segment
    overrides that complete the packaged health model."""
    marker = block.marker("toml")
    assert marker is not None and marker.arg in ("settings", "health-model"), f"{block.id}: toml settings|health-model"
    if marker.arg == "settings":
        path = tmp_path / "csmetrics.toml"
        path.write_text(block.text, encoding="utf-8")
        settings = StripeSettings.load(path)  # [sources.stripe], and the company settings beside it
        assert Config.read(tmp_path)[1] == []
        assert settings.base == Config.read(tmp_path)[0]
        for name in available():  # every connector accepts its own table (and ignores the others')
            connector(name).load_settings(path)
    else:
        default = (ROOT / "src/csmetrics/models/health_default.toml").read_text(encoding="utf-8")
        model = default[:default.index("\n[segments.")] + "\n" + block.text  # the doc's segments instead
        config = parse_config(tomllib.loads(model), block.id)
        assert set(config.segments) == set(re.findall(r"^\[segments\.(\w+)\]", block.text, re.M))
