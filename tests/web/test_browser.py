"""End to end in headless Chromium: every page, a filter change, a click-through, a survey answered and counted.

The server is the real app under uvicorn on a free loopback port; screenshots go to
test-artifacts/browser/ (gitignored). Chromium is Debian's (/usr/bin/chromium, see `make browser-deps`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from csmetrics import clock, surveys
from csmetrics.io import ingest
from csmetrics.web.app import create_app
from csmetrics.web.store import Store
from tests.web.serving import in_thread

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
PAGES = {"overview": "/", "revenue": "/revenue", "retention": "/retention", "customers": "/customers",
         "csms": "/csms", "feedback": "/feedback", "definitions": "/definitions"}


def company(root: Path) -> Path:
    """The demo company (150 accounts), ending on the suite's pinned day (tests/conftest.py)."""
    from csmetrics.demo import generate

    out = root / "data"
    generate(out, accounts=150)
    return out


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser-deps` (apt-get install chromium)")
    root = tmp_path_factory.mktemp("browser")
    ws = root / "workspace.duckdb"
    ingest(company(root), ws)
    store = Store(ws)
    token = store.create_token("browser tests")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with in_thread(create_app(store)) as base:
        yield {"base": base, "store": store, "token": token}
    store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, server: dict[str, Any]) -> Iterator[Any]:
    """A signed-in page that fails the test on any JavaScript error or dialog (an executed payload)."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    # A page's first load computes its metrics: allow for a loaded 2-core CI machine.
    ctx.set_default_timeout(90_000)
    ctx.set_default_navigation_timeout(90_000)
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
    pg.goto(server["base"] + "/")
    assert "/login" in pg.url
    pg.fill("#token", server["token"])
    pg.click("form.login button[type=submit]")
    pg.wait_for_url(re.compile(r"/$"))
    yield pg
    ctx.close()
    assert not errors, errors


def wait_ready(pg: Any) -> None:
    pg.wait_for_selector("body[data-ready]")
    from playwright.sync_api import expect

    # Every chart drawn by Plotly (polled from Python: the page's CSP forbids eval-based waits).
    expect(pg.locator("div.chart .plot-container")).to_have_count(pg.locator("div.chart").count())


def shot(pg: Any, name: str) -> None:
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_every_page_loads_with_its_charts(page: Any, server: dict[str, Any]) -> None:
    for name, path in PAGES.items():
        page.goto(server["base"] + path)
        wait_ready(page)
        assert page.locator("h1").first.is_visible()
        assert "Internal Server Error" not in page.content()
        shot(page, name)
    page.goto(server["base"] + "/")
    wait_ready(page)
    assert page.locator("#kpi-mrr .big").inner_text() not in ("", "not available")
    assert page.locator("div.chart .main-svg").count() >= 1


def test_changing_a_filter_updates_the_url_and_carries_across_pages(page: Any, server: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    page.goto(server["base"] + "/revenue")
    wait_ready(page)
    page.select_option("#f-period", "quarter")
    page.wait_for_url(re.compile(r"period=quarter"))
    expect(page.locator("table.data thead th").nth(1)).to_have_text(re.compile(r"Q[1-4]"))
    wait_ready(page)
    headers = page.locator("table.data thead th").all_inner_texts()
    assert any(re.fullmatch(r"\d{4}-Q[1-4]", h.strip()) for h in headers), headers
    segment = page.locator("#f-segment option").nth(1).get_attribute("value")
    page.select_option("#f-segment", segment)
    page.wait_for_url(re.compile(r"segment=" + re.escape(segment)))
    expect(page.locator("#f-segment")).to_have_value(segment)
    wait_ready(page)
    shot(page, "revenue-quarter-segment")
    page.click("nav a:has-text('Retention')")
    page.wait_for_url(re.compile(r"/retention\?.*period=quarter"))
    wait_ready(page)
    assert page.locator("#f-period").input_value() == "quarter"
    assert page.locator("#f-segment").input_value() == segment


def test_click_through_from_customers_to_an_account(page: Any, server: dict[str, Any]) -> None:
    page.goto(server["base"] + "/customers")
    wait_ready(page)
    page.click("#customers thead a:has-text('MRR')")  # sort by MRR (toggle direction)
    page.wait_for_url(re.compile(r"sort=mrr"))
    first = page.locator("#customers tbody tr td a").first
    account_id = first.inner_text()
    first.click()
    page.wait_for_url(re.compile(r"/accounts/"))
    wait_ready(page)
    assert account_id in page.locator("h1").inner_text()
    assert page.locator("#h-subscriptions").is_visible()
    shot(page, "account")


def test_a_survey_answered_in_the_form_is_counted_at_once(browser: Any, page: Any, server: dict[str, Any]) -> None:
    store: Store = server["store"]
    base = server["base"]

    def nps_count() -> float:
        page.goto(base + "/feedback")
        wait_ready(page)
        # The answer is dated today: read the column of today's month (absent before the
        # answer when the data ends last month, as the default range follows the data).
        table = page.locator("table.data", has=page.locator("th", has_text="nps_responses")).first
        headers = [h.strip() for h in table.locator("thead th").all_inner_texts()]
        label = clock.today().strftime("%Y-%m")
        if label not in headers:
            return 0.0
        row = table.locator("tbody tr", has=page.locator("th", has_text="nps_responses"))
        cell = row.locator("th, td").nth(headers.index(label)).inner_text().replace(",", "").strip()
        return 0.0 if cell in ("", "–") else float(cell)

    acc = store.ds.table("accounts")
    with store.reading():
        account_id = str(store.ds.backend.execute(acc.order_by("account_id").limit(1))["account_id"].iloc[0])
    before = nps_count()
    token, _ = surveys.make_link_token(store.survey_key, account_id, "nps")
    payload = "<script>alert('xss')</script> great product"
    # The customer's phone: small screen, and JavaScript off to show the form needs none.
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False, is_mobile=True)
    form = ctx.new_page()
    form.goto(f"{base}/survey/{token}")
    assert form.get_by_role("radiogroup").count() + form.locator("fieldset").count() >= 1
    shot(form, "survey-form-mobile")
    form.locator("label.score", has_text=re.compile(r"^\s*9\s*$")).click()
    form.get_by_label("Anything you would like to tell us? (optional)").fill(payload)
    form.get_by_role("button", name="Send answer").click()
    form.wait_for_selector("text=Thank you")
    shot(form, "survey-thanks")
    form.goto(f"{base}/survey/{token}")
    assert "already been answered" in form.content()
    ctx.close()

    assert nps_count() == before + 1
    comment = page.locator("#comments td.comment", has_text="great product").first
    assert comment.inner_text() == payload  # shown as text, not run
    shot(page, "feedback-after-answer")
    page.goto(f"{base}/accounts/{account_id}")
    wait_ready(page)
    assert page.locator("#t-survey_responses td", has_text="great product").first.inner_text() == payload
