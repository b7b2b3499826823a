"""End to end in headless Chromium: while the server warms up, a page shows the warm-up's progress at once and
reloads itself into the page when its results are ready (instead of a request that hangs for the health model).

The warm-up is the real one (csmetrics.web.data.warm) held at its first step, the health of every account, by
wrapping ``health_scores`` until the test lets it go. The server is the real app under uvicorn on a free loopback
port (as tests/web/test_browser.py); Chromium is Debian's /usr/bin/chromium.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from csmetrics.io import ingest
from csmetrics.web import data
from csmetrics.web.app import create_app
from csmetrics.web.store import Store
from tests.web.company import make_company
from tests.web.serving import in_thread
from tests.web.test_browser import ARGS, ARTIFACTS, CHROMIUM

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser-deps` (apt-get install chromium)")
    ws = tmp_path / "workspace.duckdb"
    ingest(make_company(tmp_path / "data", accounts=40), ws)
    gate = threading.Event()
    real = data.health_scores

    def held_health_scores(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name == "csmetrics-warm":
            gate.wait(120)
        return real(*args, **kwargs)

    monkeypatch.setattr(data, "health_scores", held_health_scores)
    store = Store(ws)
    token = store.create_token("admin")
    store.warmer = data.warm
    store.request_warm()  # as `csmetrics serve` does at start
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with in_thread(create_app(store)) as base:
        yield {"base": base, "store": store, "token": token, "gate": gate}
        gate.set()
    store.close()


def test_a_page_shows_the_warm_up_then_reloads_itself_into_the_page(server: dict[str, Any]) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, store, gate = server["base"], server["store"], server["gate"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        ctx.set_default_timeout(60_000)
        pg = ctx.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        try:
            pg.goto(base + "/revenue")
            assert "/login" in pg.url
            pg.fill("#token", server["token"])
            t0 = time.monotonic()
            pg.click("form.login button[type=submit]")
            pg.wait_for_url(re.compile(r"/revenue$"))
            expect(pg.locator("h1")).to_have_text("Computing the numbers")
            assert time.monotonic() - t0 < 15  # the progress at once, not after the health model
            expect(pg.locator("[role=status]")).to_contain_text("scoring the health of every account")
            assert store.warm_status() is not None and not store.page_ready("revenue")
            pg.screenshot(path=str(ARTIFACTS / "warming.png"), full_page=True)

            gate.set()  # the warm-up goes on; the page reloads itself until the revenue page is there
            expect(pg.locator("h1")).not_to_have_text("Computing the numbers", timeout=60_000)
            assert pg.url.endswith("/revenue")
            expect(pg.locator("nav a[aria-current=page]")).to_have_text("Revenue")
            expect(pg.locator("div.chart").first).to_be_visible()
            assert store.wait_warm(60) and store.page_ready("revenue")
            assert not errors, errors
        finally:
            browser.close()
