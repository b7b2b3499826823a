"""Fixtures: the hand-made company of company.py, ingested once and copied for each test that writes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.alerts.company import make_workspace


@pytest.fixture(scope="session")
def template_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_workspace(tmp_path_factory.mktemp("alerts-company"))


@pytest.fixture
def ws(template_ws: Path, tmp_path: Path) -> Path:
    """A fresh copy of the company's workspace (alerts.toml may be written next to it)."""
    out = tmp_path / "ws" / "workspace.duckdb"
    out.parent.mkdir()
    shutil.copy(template_ws, out)
    return out
