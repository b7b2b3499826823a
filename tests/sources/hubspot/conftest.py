"""Fixtures of the HubSpot connector tests: the fixture portal, the fake API, workspace helpers."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from pytest_httpserver import HTTPServer

from tests.sources.hubspot.fake_api import FakeHubSpot
from tests.sources.hubspot.portal import FIXTURE

TOKEN = "pat-na1-11111111-2222-4333-8444-fakeTokenNeverLeaks"

__all__ = ["FIXTURE", "TOKEN", "accounts", "digest"]


@pytest.fixture
def portal_dir() -> Path:
    return FIXTURE


@pytest.fixture
def fake() -> FakeHubSpot:
    return FakeHubSpot()


@pytest.fixture
def api(httpserver: HTTPServer, fake: FakeHubSpot, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The fake HubSpot API's base URL, with the token in the environment."""
    httpserver.expect_request(re.compile("^/crm/.*"), method="GET").respond_with_handler(fake)
    monkeypatch.setenv("HUBSPOT_TOKEN", TOKEN)
    yield httpserver.url_for("/").rstrip("/")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def accounts(ws: Path, cols: str = "account_id, name, created_at, segment, csm, industry, source"
             ) -> dict[str, tuple[object, ...]]:
    """Rows of ``accounts`` by account_id (the columns ``cols``)."""
    con = duckdb.connect(str(ws), read_only=True)
    try:
        return {r[0]: tuple(r[1:]) for r in con.execute(f"SELECT {cols} FROM accounts ORDER BY account_id"
                                                        ).fetchall()}
    finally:
        con.close()
