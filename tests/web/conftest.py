"""Fixtures for the web tests: a small company ingested into a workspace, a store, a client, a token."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from csmetrics.io import ingest
from tests.web.company import make_company

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from csmetrics.web.app import create_app
from csmetrics.web.store import Store


@pytest.fixture(scope="session")
def company_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_company(tmp_path_factory.mktemp("company") / "data", accounts=80)


@pytest.fixture(scope="session")
def base_workspace(company_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("ws") / "workspace.duckdb"
    ingest(company_dir, ws)
    return ws


def copy_workspace(base: Path, dest_dir: Path) -> Path:
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / "workspace.duckdb"
    shutil.copy(base, dest)
    return dest


@pytest.fixture
def workspace(base_workspace: Path, tmp_path: Path) -> Path:
    """A private copy of the company's workspace (tests may write to it)."""
    return copy_workspace(base_workspace, tmp_path / "ws")


@pytest.fixture
def store(workspace: Path) -> Iterator[Store]:
    s = Store(workspace)
    yield s
    s.close()


@pytest.fixture
def token(store: Store) -> str:
    return store.create_token("tests")


@pytest.fixture
def client(store: Store, token: str) -> Iterator[TestClient]:
    with TestClient(create_app(store), headers={"Authorization": f"Bearer {token}"}) as c:
        yield c


@pytest.fixture
def anon(store: Store) -> Iterator[TestClient]:
    """A client without any token."""
    with TestClient(create_app(store), follow_redirects=False) as c:
        yield c


@pytest.fixture(scope="module")
def shared_store(base_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A read-mostly store shared by a module's tests (one workspace copy per module)."""
    s = Store(copy_workspace(base_workspace, tmp_path_factory.mktemp("shared")))
    yield s
    s.close()


@pytest.fixture(scope="module")
def shared_client(shared_store: Store) -> Iterator[TestClient]:
    tok = shared_store.create_token("tests")
    with TestClient(create_app(shared_store), headers={"Authorization": f"Bearer {tok}"}) as c:
        yield c
