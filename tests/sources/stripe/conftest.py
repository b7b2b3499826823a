"""Fixtures of the Stripe connector tests: the fixture account, an fx-only workspace, the fake API."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from pytest_httpserver import HTTPServer

from csmetrics.io.dataset import ingest

__all__ = ["ACCOUNT", "KEY", "digest", "ingest", "table_rows"]
from tests.sources.stripe.account import FX_RATES_CSV
from tests.sources.stripe.fake_api import FakeStripe

ACCOUNT = Path(__file__).resolve().parents[2] / "fixtures" / "stripe" / "account"
KEY = "sk_test_51FakeKeyThatMustNeverLeakAnywhere0123456789"


@pytest.fixture
def account_dir() -> Path:
    return ACCOUNT


@pytest.fixture
def fx_workspace(tmp_path: Path) -> Path:
    """A workspace holding only the JPY rate (as docs/stripe.md tells a Stripe user to ingest)."""
    data = tmp_path / "fx"
    data.mkdir()
    (data / "accounts.csv").write_text("account_id\n", encoding="utf-8")
    (data / "fx_rates.csv").write_text(FX_RATES_CSV, encoding="utf-8")
    ws = tmp_path / "ws.duckdb"
    ingest(data, ws)
    return ws


@pytest.fixture
def fake() -> FakeStripe:
    return FakeStripe()


@pytest.fixture
def api(httpserver: HTTPServer, fake: FakeStripe, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The fake Stripe API's base URL, with the key in the environment."""
    httpserver.expect_request(re.compile("^/v1/.*"), method="GET").respond_with_handler(fake)
    monkeypatch.setenv("STRIPE_API_KEY", KEY)
    yield httpserver.url_for("/").rstrip("/")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def table_rows(ws: Path, table: str, order: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(ws), read_only=True)
    try:
        return con.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
    finally:
        con.close()
