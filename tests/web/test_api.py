"""REST API: metric rows equal the CLI's JSON; accounts, explain, definitions, survey triggers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from csmetrics.cli.main import app as cli
from csmetrics.web.store import Store

runner = CliRunner()

PARAMS = [
    {},
    {"period": "quarter", "by": "segment"},
    {"period": "month", "start": "2025-01-01", "end": "2025-07-01", "metrics": "mrr,nps,customer_churn_rate"},
    {"period": "week", "last": "3", "metrics": "tickets,fcr_rate,csat"},
    {"period": "year", "by": "csm", "metrics": "net_revenue_retention,arpa"},
]


def cli_json(workspace: Path, params: dict[str, str]) -> list[dict[str, object]]:
    args = ["metrics", "--workspace", str(workspace), "--format", "json"]
    for k, v in params.items():
        args += [f"--{k}", v]
    res = runner.invoke(cli, args)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize("params", PARAMS, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()) or "defaults")
def test_api_metric_rows_equal_the_cli_json_for_the_same_parameters(
    params: dict[str, str], base_workspace: Path, shared_client: TestClient, tmp_path: Path
) -> None:
    # The CLI reads a byte-identical copy: the server holds its own file open.
    copy = tmp_path / "cli.duckdb"
    shutil.copy(base_workspace, copy)
    expected = cli_json(copy, params)
    r = shared_client.get("/api/v1/metrics", params=params)
    assert r.status_code == 200, r.text
    assert r.json() == expected
    assert expected, "the comparison should not be vacuous"


def test_definitions_list_every_registry_metric(shared_client: TestClient) -> None:
    from csmetrics.registry import load_all

    r = shared_client.get("/api/v1/metrics/definitions")
    assert r.status_code == 200
    names = {d["metric"] for d in r.json()}
    assert names == set(load_all())
    assert all(d["definition"] for d in r.json())


@pytest.mark.parametrize("query, fragment", [
    ({"period": "fortnight"}, "unknown period"),
    ({"metrics": "mrr,bogus"}, "unknown metric"),
    ({"start": "2025-13-01"}, "not a date"),
    ({"by": "favourite_colour"}, "not a column of accounts"),
    ({"start": "0001-01-01", "end": "9999-01-01", "period": "week"}, "narrow it"),
])
def test_bad_parameters_are_a_400_with_the_reason(shared_client: TestClient, query: dict[str, str],
                                                  fragment: str) -> None:
    r = shared_client.get("/api/v1/metrics", params=query)
    assert r.status_code == 400
    assert fragment in r.json()["detail"]


def test_api_accounts_equal_the_cli_accounts_json(base_workspace: Path, shared_client: TestClient,
                                                 tmp_path: Path) -> None:
    copy = tmp_path / "cli.duckdb"
    shutil.copy(base_workspace, copy)
    for as_of in (None, "2025-06-30"):
        args = ["accounts", "--workspace", str(copy), "--format", "json"] + (["--as-of", as_of] if as_of else [])
        res = runner.invoke(cli, args)
        assert res.exit_code == 0, res.output
        api = shared_client.get("/api/v1/accounts", params={"as_of": as_of} if as_of else {}).json()
        assert len(api) == 80 and api == json.loads(res.stdout)


def test_accounts_have_mrr_and_filters(shared_client: TestClient) -> None:
    rows = shared_client.get("/api/v1/accounts").json()
    assert len(rows) == 80
    assert {"account_id", "mrr", "segment", "csm"} <= set(rows[0])
    smb = shared_client.get("/api/v1/accounts", params={"segment": "smb"}).json()
    assert smb and all(r["segment"] == "smb" for r in smb)
    # MRR on a day equals the mrr metric's end-of-period value for the month ending that day.
    day_rows = shared_client.get("/api/v1/accounts", params={"as_of": "2025-06-30"}).json()
    total = sum(r["mrr"] for r in day_rows)
    m = shared_client.get("/api/v1/metrics", params={"metrics": "mrr", "start": "2025-06-01",
                                                     "end": "2025-07-01"}).json()
    assert [r["period"] for r in m] == ["2025-06"]
    assert total > 0 and total == pytest.approx(m[0]["value"])


def test_account_detail_and_unknown_account(shared_client: TestClient) -> None:
    r = shared_client.get("/api/v1/accounts/A0001")
    assert r.status_code == 200
    body = r.json()
    assert body["account_id"] == "A0001"
    assert "subscriptions" in body and body["subscriptions"]
    assert shared_client.get("/api/v1/accounts/NOPE").status_code == 404


def test_explain_matches_the_metric_value(shared_client: TestClient) -> None:
    m = shared_client.get("/api/v1/metrics", params={"metrics": "customer_churn_rate", "start": "2025-05-01",
                                                     "end": "2025-06-01"}).json()
    ex = shared_client.get("/api/v1/explain/customer_churn_rate", params={"period": "2025-05"})
    assert ex.status_code == 200, ex.text
    assert [r["period"] for r in m] == ["2025-05"] and isinstance(m[0]["value"], float)
    assert ex.json()["value"] == pytest.approx(m[0]["value"])
    assert shared_client.get("/api/v1/explain/bogus", params={"period": "2025-05"}).status_code == 404


def test_health_endpoint_scores_every_account_as_the_cli_does_on_the_same_day(
    base_workspace: Path, shared_client: TestClient, tmp_path: Path
) -> None:
    copy = tmp_path / "cli.duckdb"
    shutil.copy(base_workspace, copy)
    res = runner.invoke(cli, ["accounts", "--workspace", str(copy), "--format", "json", "--as-of", "2026-05-31"])
    assert res.exit_code == 0, res.output
    cli_scores = {r["account_id"]: (r["health_score"], r["health_color"]) for r in json.loads(res.stdout)}
    r = shared_client.get("/api/v1/health", params={"as_of": "2026-05-31"})
    assert r.status_code == 200
    api_scores = {row["account_id"]: (row["health_score"], row["health_color"]) for row in r.json()}
    assert len(api_scores) == 80 and api_scores.keys() == cli_scores.keys()
    for aid, (score, color) in api_scores.items():  # the CLI prints scores to 0.1
        assert (round(score, 1), color) == pytest.approx(cli_scores[aid], abs=0.051), aid
    assert {c for _, c in api_scores.values()} <= {"green", "yellow", "red"}
    assert all(0 <= s <= 100 for s, _ in api_scores.values())


def test_survey_trigger_makes_a_working_csat_link_for_a_resolved_ticket(client: TestClient, store: Store) -> None:
    ticket = store.ds.backend.execute(store.ds.table("tickets").limit(1)).iloc[0]
    r = client.post("/api/v1/survey-triggers", json={"ticket_id": ticket["ticket_id"]})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["account_id"] == ticket["account_id"] and body["survey"] == "csat"
    path = body["url"].split("testserver", 1)[1]
    form = client.get(path)
    assert form.status_code == 200 and "satisfied" in form.text
    done = client.post(path, data={"score": "5", "comment": "quick fix"})
    assert done.status_code == 200 and "Thank you" in done.text
    rows = store.ds.backend.execute(store.ds.table("survey_responses").filter(
        lambda t: t.ticket_id == ticket["ticket_id"]))
    assert "quick fix" in set(rows["comment"])


def test_survey_trigger_needs_a_known_ticket_or_account(client: TestClient) -> None:
    assert client.post("/api/v1/survey-triggers", json={"ticket_id": "T-unknown"}).status_code == 404
    r = client.post("/api/v1/survey-triggers", json={"ticket_id": "T-new", "account_id": "A0002", "survey": "ces"})
    assert r.status_code == 201
    assert client.post("/api/v1/survey-triggers", json={"ticket_id": "T-new", "account_id": "ZZZ"}).status_code == 404
    assert client.post("/api/v1/survey-triggers", json={"ticket_id": "T1", "survey": "nps"}).status_code == 422


def test_an_answer_shows_up_in_the_metrics_at_once(client: TestClient, store: Store) -> None:
    def nps_count() -> float:
        rows = client.get("/api/v1/metrics", params={"metrics": "nps_responses", "last": "1"}).json()
        return float(rows[0]["value"] or 0)

    before = nps_count()
    from csmetrics import surveys

    token, _ = surveys.make_link_token(store.survey_key, "A0003", "nps")
    assert client.post(f"/survey/{token}", data={"score": "10"}).status_code == 200
    assert nps_count() == before + 1


def test_serving_a_data_directory_without_surveys_records_answers_in_a_temporary_workspace(tmp_path: Path) -> None:
    from csmetrics import surveys
    from csmetrics.web.app import create_app
    from tests.web.company import make_company

    data = make_company(tmp_path / "data", accounts=10)
    (data / "survey_responses.csv").unlink()
    store = Store.from_data(data, open_access=True)
    try:
        with TestClient(create_app(store)) as c:
            assert c.get("/api/v1/metrics", params={"metrics": "nps_responses", "last": "1"}).json()[0]["value"] == 0
            token, _ = surveys.make_link_token(store.survey_key, "A0001", "nps")
            assert c.post(f"/survey/{token}", data={"score": "10", "comment": "first!"}).status_code == 200
            rows = c.get("/api/v1/metrics", params={"metrics": "nps,nps_responses", "last": "1"}).json()
            assert {r["metric"]: r["value"] for r in rows} == {"nps": 100.0, "nps_responses": 1.0}
        tmp_ws = store.workspace
    finally:
        store.close()
    assert not tmp_ws.exists() and not list(data.glob("*.duckdb"))
