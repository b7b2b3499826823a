"""`csmetrics serve --schedule` (web/schedule.py): a Stripe sync against the loopback fake of the Stripe API
(tests/sources/stripe/fake_api.py) and an alert evaluation run inside the server, recorded in _csmetrics_jobs,
and the pages show the new data without a restart; the stale-source banner.

The fixture Stripe account has 16 customers (cus_A ... cus_P; tests/sources/stripe/test_downstream.py).
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
import pytest
from fastapi.testclient import TestClient
from pytest_httpserver import HTTPServer

from csmetrics import clock
from csmetrics.io import ingest
from csmetrics.schema.errors import DataError
from csmetrics.web.schedule import JOBS, Jobs, job_runs, load_schedule
from csmetrics.web.store import Store
from tests.conftest import FROZEN_NOW
from tests.sources.stripe.account import FX_RATES_CSV
from tests.sources.stripe.fake_api import Failure, FakeStripe
from tests.web.serving import serving
from tests.web.test_team_pages import team_app

KEY = "sk_test_51ScheduleKeyThatMustNeverLeak0123456789abcdef"
CUSTOMERS = 16


@pytest.fixture
def fake() -> FakeStripe:
    return FakeStripe()


@pytest.fixture
def api(httpserver: HTTPServer, fake: FakeStripe, monkeypatch: pytest.MonkeyPatch) -> str:
    httpserver.expect_request(re.compile("^/v1/.*"), method="GET").respond_with_handler(fake)
    monkeypatch.setenv("STRIPE_API_KEY", KEY)
    return httpserver.url_for("/").rstrip("/")


@pytest.fixture
def empty_ws(tmp_path: Path) -> Path:
    """A workspace with no account, only the fx rates Stripe's JPY invoices need (as docs/stripe.md says)."""
    data = tmp_path / "fx"
    data.mkdir()
    (data / "accounts.csv").write_text("account_id\n", encoding="utf-8")
    (data / "fx_rates.csv").write_text(FX_RATES_CSV, encoding="utf-8")
    ws = tmp_path / "ws" / "workspace.duckdb"
    ws.parent.mkdir()
    ingest(data, ws)
    return ws


def settings_file(tmp_path: Path, api: str, every: str = "0.3", max_age: float | None = None) -> Path:
    p = tmp_path / "csmetrics.toml"
    age = f"max_age_days = {max_age}\n" if max_age is not None else ""
    p.write_text(f'[sources.stripe]\napi_base = "{api}"\n{age}\n[schedule]\nsync = {every}\nalerts = {every}\n',
                 encoding="utf-8")
    return p


def customers_on_page(c: TestClient) -> list[str]:
    return re.findall(r'<td><a href="/accounts/(cus_\w+)\?', c.get("/customers", params={"size": 100}).text)


def test_schedule_settings_are_checked_with_file_line_and_key(tmp_path: Path) -> None:
    p = tmp_path / "csmetrics.toml"
    p.write_text('base_currency = "EUR"\n[schedule]\nsync = "61 * * * *"\nalerts = 0\nbackup = "@daily"\n',
                 encoding="utf-8")
    with pytest.raises(DataError) as e:
        load_schedule(p)
    assert [(d.row, d.column) for d in e.value.defects] == [
        (3, "schedule.sync"), (4, "schedule.alerts"), (5, "schedule.backup")]
    p.write_text('[schedule]\nsync = "*/30 * * * *"\nalerts = 90\n[sources.stripe]\n[sources.hubspot]\n',
                 encoding="utf-8")
    s = load_schedule(p)
    assert (s.jobs, s.sources) == ({"sync": "*/30 * * * *", "alerts": 90.0}, ("stripe", "hubspot"))
    assert load_schedule(None).jobs == {}  # no --config and no ./csmetrics.toml: no job


def test_sync_and_alert_jobs_in_process(api: str, empty_ws: Path, tmp_path: Path, fake: FakeStripe) -> None:
    store = Store(empty_ws)
    try:
        token = store.create_token("tests")
        jobs = Jobs(store, load_schedule(settings_file(tmp_path, api)))
        with TestClient(team_app(store), headers={"Authorization": f"Bearer {token}"}) as c:
            assert customers_on_page(c) == []  # read before the sync: the cache holds the empty workspace
            assert jobs.run("sync") is True
            # The same app, no restart: the store reopened the file and emptied its cache.
            assert len(customers_on_page(c)) == CUSTOMERS
            assert jobs.run("alerts") is True
            fake.failures.append(Failure("/v1/customers", 401, nth=fake.seen["/v1/customers"] + 1))
            assert jobs.run("sync") is False
            runs = c.get("/api/v1/jobs").json()["jobs"]
            assert len(customers_on_page(c)) == CUSTOMERS  # the failed sync changed nothing
        assert [(r["job"], r["ok"]) for r in runs] == [("sync", False), ("alerts", True), ("sync", True)]
        assert re.fullmatch(r"stripe: \d+ new or changed of \d+", runs[2]["detail"]), runs[2]["detail"]
        assert re.fullmatch(r"\d+ new alert\(s\); 0 sent, 0 to retry, 0 failed", runs[1]["detail"])
        assert runs[0]["error"] == ("stripe sync failed while listing customers: the API key was rejected (401 "
                                    "authentication failed); check the key in the environment; the workspace was not "
                                    "changed")
        assert all(r["started_at"] == "2026-06-15T12:00:00Z" for r in runs)
        with store.write_lock:
            text = str(store.writer.execute(f"SELECT * FROM {JOBS}").fetchall())
            alerts_n = store.writer.execute("SELECT count(*) FROM _csmetrics_alerts").fetchone()
        assert KEY not in text and KEY[8:] not in text
        assert alerts_n is not None and runs[1]["detail"].startswith(f"{alerts_n[0]} new")
    finally:
        store.close()


def test_the_scheduler_fires_on_its_interval(api: str, empty_ws: Path, tmp_path: Path) -> None:
    store = Store(empty_ws)
    jobs = Jobs(store, load_schedule(settings_file(tmp_path, api, every="0.2"))).start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = {r["job"] for r in job_runs(store) if r["ok"]}
            if done == {"sync", "alerts"}:
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"jobs did not run: {job_runs(store)}")
    finally:
        jobs.stop()
        store.close()
    con = duckdb.connect(str(empty_ws), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM accounts WHERE account_id LIKE 'cus_%'").fetchone() == (CUSTOMERS,)
    finally:
        con.close()


def test_stale_banner_names_the_source_and_its_age(api: str, empty_ws: Path, tmp_path: Path) -> None:
    store = Store(empty_ws)
    try:
        token = store.create_token("tests")
        Jobs(store, load_schedule(settings_file(tmp_path, api))).run("sync")  # last sync: 2026-06-15 12:00
        app = team_app(store)
        with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as c:
            assert 'id="stale-banner"' not in c.get("/").text
            with clock.frozen(FROZEN_NOW + dt.timedelta(days=3)):
                for page in ("/", "/customers", "/alerts", "/book"):
                    html = c.get(page).text
                    assert "<strong>stripe</strong> is stale: last synced 3 days ago (max age 2 days)" in html, page
            app.state.sources_config = settings_file(tmp_path, api, max_age=5)
            with clock.frozen(FROZEN_NOW + dt.timedelta(days=3)):
                assert 'id="stale-banner"' not in c.get("/").text
            with clock.frozen(FROZEN_NOW + dt.timedelta(days=5, hours=12)):
                assert "last synced 5.5 days ago (max age 5 days)" in c.get("/").text
    finally:
        store.close()


@pytest.fixture
def served(api: str, empty_ws: Path, tmp_path: Path) -> Iterator[tuple[str, str]]:
    cfg = settings_file(tmp_path, api, every="0.5")
    with serving("--workspace", str(empty_ws), "--schedule", "--config", str(cfg),
                 env={"STRIPE_API_KEY": KEY}) as server:
        assert server.token is not None
        assert any("scheduled jobs: sync every 0.5 s, alerts every 0.5 s" in line for line in server.stderr)
        yield server.base, server.token


def test_serve_schedule_syncs_and_evaluates_while_serving(served: tuple[str, str]) -> None:
    base, token = served
    h = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + 90
    runs: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        runs = httpx.get(f"{base}/api/v1/jobs", headers=h, timeout=30).json()["jobs"]
        if {r["job"] for r in runs if r["ok"]} == {"sync", "alerts"}:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"no ok run of both jobs: {runs}")
    deadline = time.monotonic() + 90
    while True:  # (as a browser does: the page shows the warm-up's progress until the sync's data is warm)
        html = httpx.get(f"{base}/customers", params={"size": 100}, headers=h, timeout=30).text
        if "Computing the numbers" not in html or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert len(set(re.findall(r'href="/accounts/(cus_\w+)\?', html))) == CUSTOMERS
    assert KEY not in str(runs)


def test_serve_schedule_with_a_bad_schedule_exits_2_naming_the_key(empty_ws: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    cfg = tmp_path / "bad.toml"
    cfg.write_text('[schedule]\nsync = "every hour"\n', encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "csmetrics.cli.main", "serve", "--workspace", str(empty_ws),
                        "--schedule", "--config", str(cfg), "--port", "1"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2, r.stderr
    assert "bad.toml line 2, setting schedule.sync: 'every hour' is not a five-field crontab" in r.stderr
    assert "dashboard on" not in r.stderr


def test_sync_and_alerts_go_through_the_server_holding_the_workspace(api: str, empty_ws: Path, tmp_path: Path,
                                                                      fake: FakeStripe) -> None:
    """`csmetrics sync SOURCE --server URL` and `alerts run --server URL`: the server is the single writer
    (SPEC section 3); without --server the held workspace is exit 3, naming the way round."""
    from typer.testing import CliRunner

    from csmetrics.cli.main import app as cli

    runner = CliRunner()
    cfg = tmp_path / "csmetrics.toml"
    cfg.write_text(f'[sources.stripe]\napi_base = "{api}"\n', encoding="utf-8")
    with serving("--workspace", str(empty_ws), "--config", str(cfg), env={"STRIPE_API_KEY": KEY}) as server:
        assert server.token is not None
        env = {"CSMETRICS_TOKEN": server.token}
        for args in (["sync", "stripe", "--workspace", str(empty_ws)], ["alerts", "run", "--workspace", str(empty_ws)]):
            held = runner.invoke(cli, args)
            assert held.exit_code == 3, held.output
            assert "--server URL" in held.output and "in use by `csmetrics serve`" in held.output

        done = runner.invoke(cli, ["sync", "stripe", "--server", server.base], env=env)
        assert done.exit_code == 0, done.output
        assert re.search(r"stripe: \d+ new or changed of \d+", done.stdout)
        accounts = httpx.get(f"{server.base}/api/v1/accounts", headers={"Authorization": f"Bearer {server.token}"},
                             timeout=60).json()
        assert len([a for a in accounts if a["account_id"].startswith("cus_")]) == CUSTOMERS  # served at once
        again = runner.invoke(cli, ["sync", "stripe", "--server", server.base], env=env)
        assert again.exit_code == 0 and "stripe: nothing new" in again.stdout

        fake.seen.clear()
        fake.failures.append(Failure("/v1/customers", 401))
        failed = runner.invoke(cli, ["sync", "stripe", "--server", server.base, "--full"], env=env)
        assert failed.exit_code == 1 and "401" in failed.output  # the vendor's refusal, as `sync` says it

        alerts = runner.invoke(cli, ["alerts", "run", "--server", server.base], env=env)
        assert alerts.exit_code == 0, alerts.output
        assert re.fullmatch(r"\d+ new alert\(s\); 0 sent, 0 to retry, 0 failed", alerts.stdout.strip())
        for r in (done, again, failed, alerts):
            assert KEY not in r.output and server.token not in r.output
