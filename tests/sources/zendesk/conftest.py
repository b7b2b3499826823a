"""Fixtures of the Zendesk connector tests: the company's CRM workspace, the fake API, the import directory."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from pytest_httpserver import HTTPServer

import csmetrics
from csmetrics.io.dataset import ingest
from tests.sources.zendesk.company import ACCOUNTS_CSV, MONTHS
from tests.sources.zendesk.fake_api import FakeZendesk

COMPANY = Path(__file__).resolve().parents[2] / "fixtures" / "zendesk" / "company"
EMAIL = "ops.lead@example.com"
TOKEN = "ZdTokenThatMustNeverLeak9f8e7d6c5b4a3210AbCdEfGh"
BASIC = "b3BzLmxlYWRAZXhhbXBsZS5jb20vdG9rZW46WmRUb2tlblRoYXRNdXN0TmV2ZXJMZWFrOWY4ZTdkNmM1YjRhMzIxMEFiQ2RFZkdo"
"""base64 of ``ops.lead@example.com/token:<TOKEN>``: what the Authorization header carries."""


@pytest.fixture
def company_dir() -> Path:
    return COMPANY


def crm_workspace(tmp_path: Path, name: str = "ws.duckdb") -> Path:
    """A workspace holding the CRM's accounts (with their CSMs), as a CSV ingest would leave it."""
    data = tmp_path / ("crm-" + name.removesuffix(".duckdb"))
    data.mkdir()
    (data / "accounts.csv").write_text(ACCOUNTS_CSV, encoding="utf-8")
    ws = tmp_path / name
    ingest(data, ws)
    return ws


@pytest.fixture
def crm_ws(tmp_path: Path) -> Path:
    return crm_workspace(tmp_path)


@pytest.fixture
def fake() -> FakeZendesk:
    return FakeZendesk()


@pytest.fixture
def api(httpserver: HTTPServer, fake: FakeZendesk, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The fake Zendesk API's base URL, with the credentials in the environment."""
    httpserver.expect_request(re.compile("^/api/v2/.*"), method="GET").respond_with_handler(fake)
    monkeypatch.setenv("ZENDESK_EMAIL", EMAIL)
    monkeypatch.setenv("ZENDESK_API_TOKEN", TOKEN)
    monkeypatch.delenv("ZENDESK_SUBDOMAIN", raising=False)
    yield httpserver.url_for("/").rstrip("/")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def table_rows(ws: Path, table: str, order: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(ws), read_only=True)
    try:
        return con.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
    finally:
        con.close()


def monthly(ws: Path, metrics: list[str], by: str | None = None) -> dict[tuple[str, str | None], list[float | None]]:
    """Each metric's value per month of the fixture (January, February 2026), per group with ``by``."""
    df = csmetrics.compute(ws, metrics, "month", "2026-01-01", "2026-03-01", by=by, cache=False)
    out: dict[tuple[str, str | None], list[float | None]] = {}
    for (metric, group), part in df.groupby(["metric", "group"], dropna=False, sort=False):
        vals = dict(zip(part["period"], part["value"], strict=True))
        key = (str(metric), None if group is None or group != group else str(group))
        out[key] = [None if vals.get(m) is None or vals[m] != vals[m] else round(float(vals[m]), 6)
                    for m in MONTHS]
    return out


__all__ = ["BASIC", "COMPANY", "EMAIL", "TOKEN", "crm_workspace", "digest", "monthly", "table_rows"]
