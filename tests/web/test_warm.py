"""The server computes the health model and the first pages before anyone asks, once for every scope.

``csmetrics serve`` sets ``Store.warmer`` to :func:`csmetrics.web.data.warm`: at start and after each
write a background thread scores every account once; each role's pages then cut their rows from that
one result. Counted by wrapping the health model's ``score_accounts``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import csmetrics.models.health as health_model
from csmetrics.io.dataset import ingest
from csmetrics.web.app import create_app
from csmetrics.web.data import warm
from csmetrics.web.pages import WARM_WAIT
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


def _gated(store: Store, steps: list[str], gated: str) -> threading.Event:
    """A warm-up of ``steps`` (doing nothing) that stops at ``gated`` until the returned event is set."""
    gate = threading.Event()

    def warmer(s: Store) -> None:
        s.warm_steps([(name, (lambda: gate.wait(60)) if name == gated else (lambda: None)) for name in steps])

    store.warmer = warmer
    store.request_warm()
    return gate


def test_during_the_warm_up_a_page_shows_its_progress_at_once_then_the_page(store: Store) -> None:
    token = store.create_token("admin", "admin")
    gate = _gated(store, ["health", "customers", "overview"], gated="health")
    try:
        with TestClient(create_app(store), follow_redirects=False) as client:
            t0 = time.monotonic()
            r = client.get("/", headers={"Authorization": f"Bearer {token}"})
            waited = time.monotonic() - t0
            assert r.status_code == 200
            assert "Computing the numbers" in r.text and "Step 1 of 3: scoring the health of every account" in r.text
            assert 'data-reload-after="2"' in r.text and '<meta http-equiv="refresh" content="2">' in r.text
            assert r.headers["Retry-After"] == "2" and r.headers["Cache-Control"] == "no-store"
            assert WARM_WAIT <= waited < WARM_WAIT + 10  # it waited for the step a moment, not for the model
            gate.set()
            assert store.wait_warm(60)
            page = _get(client, token, "/")
            assert "Computing the numbers" not in page and "Overview" in page
    finally:
        gate.set()


def test_a_page_whose_step_is_done_is_served_while_later_steps_run(store: Store) -> None:
    token = store.create_token("admin", "admin")
    gate = _gated(store, ["health", "customers", "overview"], gated="overview")
    try:
        assert store.page_ready("customers", 30)  # the steps before the gate are done
        with TestClient(create_app(store), follow_redirects=False) as client:
            customers = _get(client, token, "/customers")
            assert "Computing the numbers" not in customers and "A1" in customers
            overview = _get(client, token, "/")  # not warm yet: the progress, naming the step that runs
            assert "Step 3 of 3: the overview&#39;s metrics" in overview
    finally:
        gate.set()
    assert store.wait_warm(60)
    assert store.warm_status() is None and store.page_ready("overview")


def test_a_write_during_the_warm_up_makes_its_pages_wait_for_the_next_one(store: Store) -> None:
    gate = _gated(store, ["health"], gated="health")
    try:
        assert not store.page_ready("health", 0.2)
        status = store.warm_status()
        assert status is not None and (status["step"], status["number"], status["steps"]) == ("health", 1, 1)
        store.write(lambda con: con.execute("SELECT 1"))  # new data: the running warm-up's result is stale
    finally:
        gate.set()
    assert store.wait_warm(60)
    assert store._warmed["health"] == store.version  # the second warm-up (requested by the write) ran
    assert store.page_ready("health")


def test_a_write_that_changes_no_row_keeps_the_results_and_the_warm_up(store: Store, counted: list[object],
                                                                       tmp_path: Path) -> None:
    """A scheduled sync with nothing new pauses the store like any writer; the workspace's digest and settings
    are the same after it, so the cached results stand and nothing is warmed again. A new row is a change."""
    store.warmer = warm
    store.request_warm()
    assert store.wait_warm(120)
    warmed, version = list(counted), store.version
    again = tmp_path / "again"
    make_book_company(again)
    store.ingest(again)  # the same rows again: nothing written
    assert store.wait_warm(120)
    assert (store.version, counted) == (version, warmed) and store.page_ready("overview")

    with (again / "accounts.csv").open("a", encoding="utf-8") as f:
        f.write("A3,Company A3,2026-01-01,smb,Ann\n")
    store.ingest(again)
    assert store.wait_warm(120)
    assert store.version == version + 1 and counted == warmed + warmed  # new data: scored again
    with store.write_lock:
        assert store.writer.execute("SELECT count(*) FROM accounts").fetchone() == (5,)


def test_a_stop_during_the_health_model_interrupts_it_without_logging_a_failure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """``serve`` stopped while the warm-up scores the accounts interrupts the query (a stop must not wait for
    the model); that interruption is not a failure to report. A model failing on its own still is."""
    import duckdb

    running = threading.Event()

    def slow(ds: object, *args: object, **kwargs: object) -> object:
        running.set()
        return ds.backend.con.execute("SELECT sum(a.range * b.range) FROM range(100000) a, range(1000000) b").fetchall()  # type: ignore[attr-defined]

    monkeypatch.setattr(health_model, "score_accounts", slow)
    ws = tmp_path / "workspace.duckdb"
    ingest(make_book_company(tmp_path / "data"), ws)
    s = Store(ws)
    s.warmer = warm
    s.request_warm()
    assert running.wait(60)
    thread = s._warm_thread
    closer = threading.Thread(target=s.close, daemon=True)  # (a close that waited would hang the test)
    closer.start()
    closer.join(40)
    assert not closer.is_alive()  # the query (hours long) was interrupted, not waited for
    assert thread is not None and not thread.is_alive()
    assert [r for r in caplog.records if r.levelname == "ERROR"] == []

    def broken(*args: object, **kwargs: object) -> object:
        raise duckdb.InterruptException("INTERRUPT Error: Interrupted!")

    monkeypatch.setattr(health_model, "score_accounts", broken)
    s = Store(ws)
    try:
        from csmetrics.web.data import health_scores, last_day

        assert health_scores(s, last_day(s)) is None  # the dashboard carries on without health
    finally:
        s.close()
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == ["health model failed"]
