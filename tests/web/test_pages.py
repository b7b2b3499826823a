"""Dashboard pages rendered server-side: filters, sorting, click-through targets, explain, definitions."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from csmetrics.registry import load_all

PAGES = ["/", "/revenue", "/retention", "/customers", "/csms", "/feedback", "/definitions", "/accounts/A0001"]


@pytest.mark.parametrize("query", [{"period": "quarter"}, {"period": "week", "segment": "smb"},
                                   {"period": "year", "start": "2024-01-01", "end": "2026-01-01"}])
def test_every_page_renders_with_the_filters(shared_client: TestClient, query: dict[str, str]) -> None:
    for path in PAGES:
        r = shared_client.get(path, params=query)
        assert r.status_code == 200, (path, r.text[:300])
        # The navigation carries the filters to the other pages.
        if query:
            assert f'href="/revenue?period={query["period"]}' in r.text


def test_bad_filters_are_a_400_page_with_the_reason(shared_client: TestClient) -> None:
    r = shared_client.get("/revenue", params={"period": "decade"})
    assert r.status_code == 400 and "unknown period" in r.text
    r = shared_client.get("/revenue", params={"start": "2025-05-01", "end": "2025-01-01"})
    assert r.status_code == 400 and "must be after" in r.text


def test_overview_tiles_show_the_latest_values(shared_client: TestClient) -> None:
    html = shared_client.get("/").text
    for kpi in ("mrr", "net_revenue_retention", "customer_churn_rate", "nps", "csat", "fcr_rate", "health"):
        assert f'id="kpi-{kpi}"' in html
    assert "vs previous" in html and "<svg class=\"spark\"" in html


def test_customers_sort_and_filter(shared_client: TestClient) -> None:
    def ids(**q: str) -> list[str]:
        html = shared_client.get("/customers", params=q).text
        return re.findall(r'<td><a href="/accounts/([^?"]+)\?', html)

    asc = ids(sort="account_id", dir="asc")
    assert asc == sorted(asc) and len(asc) == 80
    assert ids(sort="account_id", dir="desc") == sorted(asc, reverse=True)
    smb = ids(segment="smb")
    assert smb and len(smb) < 80
    assert ids(q="a0001") == ["A0001"]
    assert ids(csm="Alice Ng") and set(ids(csm="Alice Ng")) < set(asc)


def test_account_page_shows_its_rows_and_unknown_is_404(shared_client: TestClient) -> None:
    html = shared_client.get("/accounts/A0001").text
    assert "subscriptions (" in html and "S0001a" in html
    assert shared_client.get("/accounts/NOPE").status_code == 404


def test_table_values_link_to_their_explanation(shared_client: TestClient) -> None:
    html = shared_client.get("/retention").text
    links = re.findall(r'href="(/explain/customer_churn_rate\?[^"]+)"', html)
    assert links
    page = shared_client.get(links[-1].replace("&amp;", "&"))
    assert page.status_code == 200 and "churned accounts" in page.text
    assert shared_client.get("/explain/bogus").status_code == 404


def test_definitions_page_lists_every_metric(shared_client: TestClient) -> None:
    html = shared_client.get("/definitions").text
    for name in load_all():
        assert f'id="{name}"' in html


def test_static_assets_come_from_the_server(shared_client: TestClient) -> None:
    html = shared_client.get("/").text
    assert not re.search(r'(src|href)="(https?:)?//', html)
    js = shared_client.get("/static-plotly/plotly.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000
    assert shared_client.get("/static/htmx.min.js").status_code == 200


def test_api_docs_page_lists_every_operation_without_a_cdn(anon: TestClient) -> None:
    r = anon.get("/api/docs")
    assert r.status_code == 200
    for op in ("GET /api/v1/metrics", "GET /api/v1/accounts", "GET /api/v1/explain/{metric}",
               "GET /api/v1/health", "POST /api/v1/survey-triggers"):
        assert op in r.text
    assert not re.search(r'(src|href)="(https?:)?//', r.text)
    assert anon.get("/api/v1/openapi.json").json()["paths"]
