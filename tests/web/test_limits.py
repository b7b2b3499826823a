"""At most 400 periods per request, whichever parameters make the range: start and end, start only
(to the data's end), end only (from the data's start), last=N; on the API, the pages and the report.

The web test company's data runs from 2024-06-01 (its first subscriptions and costs) to the pinned
today, 2026-06-15, so an open range ends on 2026-06-16 (exclusive).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from csmetrics.cli.main import app as cli
from csmetrics.schema.errors import UsageError
from csmetrics.web import data
from csmetrics.web.store import Store

# 2000-01-01 to 2026-06-16 is 9,663 days: at least 9,663 // 7 = 1,380 weeks.
# 2024-06-01 to 2035-01-01 is 3,866 days: at least 552 weeks.
API_CASES = [
    ({"period": "week", "start": "2000-01-01"}, "the range 2000-01-01 to 2026-06-16 holds at least 1,380 weeks"),
    ({"period": "week", "end": "2035-01-01"}, "the range 2024-06-01 to 2035-01-01 holds at least 552 weeks"),
    ({"period": "month", "start": "1900-01-01", "end": "2026-01-01"}, "holds at least 1,"),
    ({"period": "week", "last": "401"}, "last=401: at most 400 periods per request"),
]


@pytest.mark.parametrize("query, fragment", API_CASES)
def test_the_api_refuses_more_than_400_periods_on_every_path(shared_client: TestClient, query: dict[str, str],
                                                            fragment: str) -> None:
    r = shared_client.get("/api/v1/metrics", params={"metrics": "mrr", **query})
    assert r.status_code == 400, r.text[:300]
    assert fragment in r.json()["detail"]
    assert "400" in r.json()["detail"]


@pytest.mark.parametrize("path", ["/", "/revenue", "/retention", "/customers", "/csms", "/feedback",
                                  "/accounts/A0001"])
@pytest.mark.parametrize("query", [{"period": "week", "start": "2000-01-01"}, {"period": "week", "end": "2035-01-01"}])
def test_pages_refuse_more_than_400_periods_with_a_400_page(shared_client: TestClient, path: str,
                                                           query: dict[str, str]) -> None:
    r = shared_client.get(path, params=query)
    assert r.status_code == 400, (path, r.status_code)
    assert "over the limit of 400 periods per request" in r.text
    assert len(r.content) < 50_000  # the refusal, not 1,380 weeks of tables


def test_the_limit_counts_periods_exactly_at_the_boundary(shared_store: Store) -> None:
    # January 2000 to April 2033 is 33 * 12 + 4 = 400 months; one more day opens May 2033, the 401st.
    data.check_periods(shared_store, "month", dt.date(2000, 1, 1), dt.date(2033, 5, 1))
    with pytest.raises(UsageError, match="holds 401 months, over the limit of 400"):
        data.check_periods(shared_store, "month", dt.date(2000, 1, 1), dt.date(2033, 5, 2))
    data.check_periods(shared_store, "week", None, None, last=400)
    data.check_periods(shared_store, "week", None, None)  # the data's own span: 2 years, about 106 weeks
    with pytest.raises(UsageError, match="at most 400"):
        data.check_periods(shared_store, "year", dt.date(2020, 1, 1), None, last=1000)


def test_the_api_still_answers_within_the_limit(shared_client: TestClient) -> None:
    # 2026-01-01 (a Thursday) to 2026-06-16: weeks starting Monday 2025-12-29 to Monday 2026-06-15 = 25 weeks.
    r = shared_client.get("/api/v1/metrics", params={"metrics": "mrr", "period": "week", "start": "2026-01-01"})
    assert r.status_code == 200
    assert [row["period"] for row in r.json()][::24] == ["2026-W01", "2026-W25"]
    assert len(r.json()) == 25


def test_the_report_refuses_more_than_400_periods(workspace: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    res = CliRunner().invoke(cli, ["report", "--workspace", str(workspace), "--out", str(out),
                                   "--period", "week", "--start", "2000-01-01"])
    assert res.exit_code == 2
    assert "over the limit of 400 periods" in " ".join(res.output.split())
    assert not out.exists()
