"""End to end in headless Chromium: a CSM signs in, sees only their book, acknowledges an alert, and another
CSM's account is "not found".

The web tests' company (tests/web/company.py, 80 accounts): account A{i:04d} has CSM CSMS[i % 4], so Alice Ng's
book is A0000, A0004, ..., A0076 (20 accounts) and A0001 is Bruno Diaz's. The server is the real app under
uvicorn on a free loopback port (as tests/web/test_browser.py); Chromium is Debian's /usr/bin/chromium.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from csmetrics.alerts import store as alert_store
from csmetrics.io import ingest
from csmetrics.web.store import Store
from tests.web.company import make_company
from tests.web.serving import in_thread
from tests.web.test_browser import ARGS, ARTIFACTS, CHROMIUM
from tests.web.test_team_pages import A_CRIT, A_WARN, ALERTS, ALICE, B_WARN, team_app

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

ALICE_BOOK = {f"A{i:04d}" for i in range(80) if i % 4 == 0}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser-deps` (apt-get install chromium)")
    root = tmp_path_factory.mktemp("browser-team")
    ws = root / "workspace.duckdb"
    ingest(make_company(root / "data", accounts=80), ws)
    store = Store(ws)
    with store.write_lock:
        alert_store.record(store.writer, ALERTS, [])
    token = store.create_token("alice", f"csm:{ALICE}")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with in_thread(team_app(store)) as base:
        yield {"base": base, "store": store, "token": token}
    store.close()


def test_a_csm_sees_their_book_acknowledges_an_alert_and_cannot_open_another_book(server: dict[str, Any]) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, store = server["base"], server["store"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        ctx.set_default_timeout(90_000)
        ctx.set_default_navigation_timeout(90_000)
        pg = ctx.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))

        def dialog(d: Any) -> None:
            errors.append(f"dialog: {d.message}")
            d.dismiss()

        pg.on("dialog", dialog)
        try:
            pg.goto(base + "/book")
            assert "/login" in pg.url
            pg.fill("#token", server["token"])
            pg.click("form.login button[type=submit]")
            pg.wait_for_url(re.compile(r"/book$"))
            expect(pg.locator("h1")).to_have_text(f"Book of {ALICE}")
            shown = pg.locator("#book tbody tr").evaluate_all("rows => rows.map(r => r.dataset.account)")
            assert set(shown) == ALICE_BOOK and len(shown) == 20
            pg.screenshot(path=str(ARTIFACTS / "team-book.png"), full_page=True)

            # Customers: the same book, nothing else.
            pg.goto(base + "/customers?size=100")
            ids = [t.strip() for t in pg.locator("#customers tbody tr td:first-child a").all_inner_texts()]
            assert set(ids) == ALICE_BOOK

            pg.click("nav a:has-text('Alerts')")
            pg.wait_for_url(re.compile(r"/alerts"))
            rows = pg.locator("#alerts tbody tr").evaluate_all("rows => rows.map(r => r.dataset.alert)")
            assert sorted(rows) == sorted([A_WARN, A_CRIT]) and B_WARN not in rows
            pg.locator(f"#alert-{A_WARN} button:has-text('Acknowledge')").click()
            expect(pg.locator(f"#alert-{A_WARN} td.status")).to_contain_text("acknowledged", timeout=30_000)
            pg.screenshot(path=str(ARTIFACTS / "team-alerts.png"), full_page=True)
            with store.write_lock:
                acked = alert_store.get(store.writer, [A_WARN, B_WARN])
            assert [(a.id, a.status) for a in acked] == [(A_WARN, "acknowledged"), (B_WARN, "open")]
            assert acked[0].acknowledged_by is not None and acked[0].acknowledged_by.startswith(f"csm:{ALICE}")

            resp = pg.goto(base + "/accounts/A0001")
            assert resp is not None and resp.status == 404
            expect(pg.locator("p.error")).to_contain_text("no account 'A0001'")
            resp = pg.goto(base + "/accounts/A0004")
            assert resp is not None and resp.status == 200
        finally:
            ctx.close()
            browser.close()
    assert not errors, errors
