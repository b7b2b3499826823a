"""The server computes the health model and the first pages before anyone asks, once for every scope.

``csmetrics serve`` sets ``Store.warmer`` to :func:`csmetrics.web.data.warm`: at start and after each
write a background thread scores every account once; each role's pages then cut their rows from that
one result. Counted by wrapping the health model's ``score_accounts``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import csmetrics.models.health as health_model
from csmetrics.io.dataset import ingest
from csmetrics.web.app import create_app
from csmetrics.web.data import warm
from csmetrics.web.store import Store
from tests.web.book import ANN, BOB, make_book_company


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    calls: list[object] = []
    real = health_model.score_accounts

    def score_accounts(*args: object, **kwargs: object) -> object:
        calls.append(args[1] if len(args) > 1 else kwargs.get("day"))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(health_model, "score_accounts", score_accounts)
    return calls


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    ws = tmp_path / "workspace.duckdb"
    ingest(make_book_company(tmp_path / "data"), ws)
    s = Store(ws)
    yield s
    s.close()


def _get(client: TestClient, token: str, path: str) -> str:
    r = client.get(path, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, (path, r.text[:300])
    return r.text


def test_warmed_health_serves_every_scope_without_scoring_again(store: Store, counted: list[object]) -> None:
    tokens = {role: store.create_token(role, role) for role in ("admin", f"csm:{ANN}", f"csm:{BOB}")}
    store.warmer = warm
    store.request_warm()
    assert store.wait_warm(120)
    warmed = list(counted)
    # the whole company, scored once per day the pages show (the customers table's last data day, and
    # the overview's as-of day: the end of its last whole period)
    assert len(warmed) == len(set(warmed)) >= 1
    with TestClient(create_app(store), follow_redirects=False) as client:
        for token in tokens.values():
            _get(client, token, "/customers")
            _get(client, token, "/api/v1/accounts")
        ann = _get(client, tokens[f"csm:{ANN}"], "/api/v1/accounts")
    assert counted == warmed  # no page and no scope scored the accounts again
    assert '"A1"' in ann and '"B1"' not in ann  # each scope still cuts its own rows


def test_a_write_warms_again(store: Store, counted: list[object]) -> None:
    store.warmer = warm
    store.request_warm()
    assert store.wait_warm(120)
    warmed = list(counted)
    store.write(lambda con: con.execute("SELECT 1"))  # any write empties the cache, so the pages' results
    assert store.wait_warm(120) and counted == warmed + warmed  # are computed again in the background


def test_without_a_warmer_nothing_runs_in_the_background(store: Store, counted: list[object]) -> None:
    store.request_warm()
    store.write(lambda con: con.execute("SELECT 1"))
    assert store.wait_warm(1) and counted == []


def test_warmed_feedback_page_does_not_run_the_comment_model_again(store: Store,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The comment themes (seconds at a million answers) are part of the warm-up: the first /feedback
    after a start or a write reads them from the cache."""
    import csmetrics.models.feedback as feedback_model

    runs: list[object] = []
    real = feedback_model.analyze_feedback

    def analyze_feedback(*args: object, **kwargs: object) -> object:
        runs.append(kwargs.get("grain"))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(feedback_model, "analyze_feedback", analyze_feedback)
    token = store.create_token("admin", "admin")
    store.warmer = warm
    store.request_warm()
    assert store.wait_warm(120)
    assert runs == ["month"]  # the default filters' themes, once
    with TestClient(create_app(store), follow_redirects=False) as client:
        page = _get(client, token, "/feedback")
    assert runs == ["month"]  # served from the warm-up's result
    assert "Feedback" in page
