"""The demo company the docs are run against, built once per session, and the shared API server."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from csmetrics.cli.main import app
from tests.docs.runner import DEMO_ACCOUNTS, ENV, Shell
from tests.web.serving import Server, serving


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A reader's directory after the README's first two commands: ``demo-data`` and ``.csmetrics/``.

    Built as the README says (``csmetrics demo --out demo-data``, ``csmetrics ingest --data
    demo-data``), with 300 accounts; the clock is the suite's (CSMETRICS_NOW), so the data ends
    the month before 2026-06-15.
    """
    root = tmp_path_factory.mktemp("docs-template")
    runner = CliRunner()
    for args in (["demo", "--out", str(root / "demo-data"), "--accounts", str(DEMO_ACCOUNTS)],
                 ["ingest", "--data", str(root / "demo-data"),
                  "--workspace", str(root / ".csmetrics" / "workspace.duckdb")]):
        res = runner.invoke(app, args, env=ENV)
        assert res.exit_code == 0, res.output
    return root


@pytest.fixture(scope="session")
def api_server(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``csmetrics serve`` on a copy of the demo workspace, with a token made by ``csmetrics token create``."""
    root = tmp_path_factory.mktemp("docs-api")
    shutil.copytree(demo_template / ".csmetrics", root / ".csmetrics")
    ws = root / ".csmetrics" / "workspace.duckdb"
    res = CliRunner().invoke(app, ["token", "create", "--workspace", str(ws), "--name", "docs test"], env=ENV)
    assert res.exit_code == 0, res.output
    token = res.stdout.strip().splitlines()[-1]
    with serving("--workspace", str(ws)) as server:
        server.token = token
        yield server


@pytest.fixture
def shell(demo_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
          request: pytest.FixtureRequest) -> Iterator[Shell]:
    """A fresh copy of the demo directory as the working directory, and a terminal in it."""
    cwd = tmp_path / "reader"
    shutil.copytree(demo_template, cwd)
    monkeypatch.chdir(cwd)
    with Shell(cwd, shared_server=lambda: request.getfixturevalue("api_server")) as sh:
        yield sh
