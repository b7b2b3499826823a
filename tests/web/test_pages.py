"""Dashboard pages rendered server-side: filters, sorting, click-through targets, explain, definitions."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from csmetrics.cli.main import app as cli
from csmetrics.registry import load_all

PAGES = ["/", "/revenue", "/retention", "/customers", "/csms", "/feedback", "/definitions", "/accounts/A0001"]


TITLES = {"/": "Overview", "/revenue": "Revenue", "/retention": "Retention", "/customers": "Customers",
          "/csms": "CSMs", "/feedback": "Feedback", "/definitions": "Metric definitions",
          "/accounts/A0001": "Account A0001"}
HEADERS = re.compile(r"<th[^>]*>\s*(\d{4}(?:-Q\d|-W\d\d|-\d\d)?)\s*</th>")


@pytest.mark.parametrize("query, labels", [
    # The pinned day is 2026-06-15 (tests/conftest.py): the default range ends with the data, in 2026-Q2.
    ({"period": "quarter"}, re.compile(r"\d{4}-Q[1-4]")),
    ({"period": "week", "segment": "smb"}, re.compile(r"\d{4}-W\d\d")),
    ({"period": "year", "start": "2024-01-01", "end": "2026-01-01"}, re.compile(r"2024|2025")),
])
def test_every_page_renders_with_the_filters(shared_client: TestClient, query: dict[str, str],
                                             labels: re.Pattern[str]) -> None:
    for path in PAGES:
        r = shared_client.get(path, params=query)
        assert r.status_code == 200, (path, r.text[:300])
        assert re.findall(r"<h1[^>]*>(.*?)</h1>", r.text, re.S)[0].strip() == TITLES[path]
        # The navigation carries the filters to the other pages.
        assert f'href="/revenue?period={query["period"]}' in r.text
        if path in ("/revenue", "/retention", "/feedback"):
            # Period tables are in the chosen grain, and only it.
            heads = HEADERS.findall(r.text)
            assert heads and all(labels.fullmatch(h) for h in heads), (path, heads[:5])
    if query["period"] == "year":
        assert sorted(set(HEADERS.findall(shared_client.get("/revenue", params=query).text))) == ["2024", "2025"]
    if "segment" in query:
        html = shared_client.get("/customers", params=query).text
        rows = re.findall(r'<td><a href="/accounts/([^?"]+)\?', html)
        accounts = shared_client.get("/api/v1/accounts", params={"segment": "smb"}).json()
        assert rows and sorted(rows) == sorted(a["account_id"] for a in accounts)


def test_bad_filters_are_a_400_page_with_the_reason(shared_client: TestClient) -> None:
    r = shared_client.get("/revenue", params={"period": "decade"})
    assert r.status_code == 400 and "unknown period" in r.text
    r = shared_client.get("/revenue", params={"start": "2025-05-01", "end": "2025-01-01"})
    assert r.status_code == 400 and "must be after" in r.text


def _tiles(html: str) -> dict[str, tuple[str, str]]:
    """kpi name -> (heading, big value) of each overview tile."""
    found = re.findall(r'<article class="tile" id="kpi-(\w+)">\s*<h2>(.*?)</h2>\s*<p class="big[^"]*">([^<]*)</p>',
                       html, flags=re.S)
    return {name: (re.sub(r"<[^>]+>", "", h).strip(), big.strip()) for name, h, big in found}


def test_overview_tiles_show_the_values_that_csmetrics_metrics_gives(
    shared_client: TestClient, base_workspace: Path, tmp_path: Path
) -> None:
    from csmetrics.web.app import fmt
    from csmetrics.web.pages import KPIS

    window = {"period": "month", "start": "2025-01-01", "end": "2026-01-01"}
    html = shared_client.get("/", params=window).text
    assert "Latest period: 2025-12; accounts as of 2025-12-31." in html
    tiles = _tiles(html)
    assert set(tiles) == {k for k, _, _ in KPIS}
    copy = tmp_path / "cli.duckdb"
    shutil.copy(base_workspace, copy)
    res = CliRunner().invoke(cli, ["metrics", "--workspace", str(copy), "--format", "json",
                                   "--metrics", ",".join(tiles), *[a for k, v in window.items()
                                                                   for a in (f"--{k}", v)]])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    for name, label, _ in KPIS:
        series = [(r["period"], r["value"]) for r in rows if r["metric"] == name]
        assert [p for p, _ in series][-1] == "2025-12"
        # The tile shows the latest period with a value, and names that period when it is not the last.
        period, value = [(p, v) for p, v in series if v is not None][-1]
        heading, big = tiles[name]
        assert big == fmt(value, load_all()[name].unit), name
        assert heading == (label if period == "2025-12" else f"{label} ({period})"), name
    # MRR read independently: the sum of the accounts' MRR on the period's last day.
    accounts = shared_client.get("/api/v1/accounts", params={"as_of": "2025-12-31"}).json()
    unit = load_all()["mrr"].unit
    assert tiles["mrr"][1] == fmt(sum(a["mrr"] for a in accounts), unit) != fmt(0, unit)


def test_overview_health_mix_counts_the_paying_accounts_by_colour(shared_client: TestClient) -> None:
    html = shared_client.get("/", params={"period": "month", "start": "2025-01-01", "end": "2026-01-01"}).text
    accounts = shared_client.get("/api/v1/accounts", params={"as_of": "2025-12-31"}).json()
    paying = [a for a in accounts if a["mrr"] > 0]
    counts = {c: sum(a["health_color"] == c for a in paying) for c in ("green", "yellow", "red")}
    assert sum(counts.values()) == len(paying) > 0
    assert f'{counts["green"]} green · {counts["yellow"]} yellow · {counts["red"]} red' in html


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
