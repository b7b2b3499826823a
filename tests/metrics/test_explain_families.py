"""`explain` for the support, survey, renewal, usage, value and cost families.

One hand-made company; each test explains a metric for January 2025 and checks
the rows shown (ids and values) and that they give back the metric's value.
Every table also has rows just outside January, which must not be shown.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from csmetrics.cli.main import app
from csmetrics.explain import Explanation, explain
from csmetrics.io import load_data_dir
from csmetrics.io.dataset import Dataset
from tests.metrics.helpers import sub, write_dir

JAN = "2025-01"


def _company(root: Path) -> Path:
    def tk(tid: str, acc: str, opened: str, resolved: str | None, contacts: int) -> dict[str, Any]:
        return {"ticket_id": tid, "account_id": acc, "opened_at": opened, "resolved_at": resolved,
                "contacts": contacts}

    def ans(rid: str, acc: str, survey: str, score: int, at: str) -> dict[str, Any]:
        return {"response_id": rid, "account_id": acc, "survey": survey, "score": score, "responded_at": at,
                "comment": f"comment {rid}"}

    def use(acc: str, at: str, feature: str) -> dict[str, Any]:
        return {"account_id": acc, "occurred_at": at, "feature": feature}

    return write_dir(
        root,
        accounts=[{"account_id": "a", "segment": "smb"}, {"account_id": "b", "segment": "smb"},
                  {"account_id": "c", "segment": "ent"}],
        subscriptions=[sub("s1", "a", "2024-12-01"), sub("s2", "b", "2024-12-01"), sub("s3", "c", "2024-12-01")],
        tickets=[
            tk("t0", "a", "2024-12-31T23:59:00Z", "2025-01-01T10:00:00Z", 1),  # December
            tk("t1", "a", "2025-01-03T10:00:00Z", "2025-01-03T11:00:00Z", 1),  # first contact
            tk("t2", "b", "2025-01-10T10:00:00Z", "2025-01-12T10:00:00Z", 3),  # three contacts
            tk("t3", "c", "2025-01-20T10:00:00Z", None, 1),  # unresolved
            tk("t4", "a", "2025-02-01T00:00:00Z", "2025-02-01T01:00:00Z", 1),  # February
        ],
        survey_responses=[
            ans("r1", "a", "ces", 7, "2025-01-02T09:00:00Z"),
            ans("r2", "b", "ces", 5, "2025-01-15T09:00:00Z"),
            ans("r3", "c", "ces", 3, "2025-01-20T09:00:00Z"),
            ans("r4", "a", "ces", 1, "2025-01-31T23:00:00Z"),
            ans("r5", "a", "ces", 7, "2025-02-01T09:00:00Z"),  # February
            ans("r6", "b", "nps", 10, "2025-01-05T09:00:00Z"),  # another survey
            ans("r7", "c", "nps", 3, "2025-01-06T09:00:00Z"),
            ans("r8", "a", "nps", 8, "2025-01-07T09:00:00Z"),
        ],
        renewals=[
            {"renewal_id": "n0", "account_id": "c", "due_on": "2024-12-31", "outcome": "renewed"},  # December
            {"renewal_id": "n1", "account_id": "a", "due_on": "2025-01-15", "outcome": "renewed"},
            {"renewal_id": "n2", "account_id": "b", "due_on": "2025-01-31", "outcome": "churned"},
            {"renewal_id": "n3", "account_id": "c", "due_on": "2025-01-31", "outcome": "pending"},
            {"renewal_id": "n4", "account_id": "a", "due_on": "2025-02-01", "outcome": "renewed"},  # February
        ],
        usage_events=[
            use("a", "2025-01-02T09:00:00Z", "reports"), use("a", "2025-01-02T17:00:00Z", "alerts"),
            use("a", "2025-01-09T09:00:00Z", "reports"),  # a: 2 features, 2 days
            use("b", "2025-01-05T09:00:00Z", "export"),  # b: 1 feature, 1 day
            use("c", "2025-02-01T09:00:00Z", "api"),  # February; still in the catalogue of 4
        ],
        charges=[
            {"charge_id": "c1", "account_id": "a", "charged_at": "2025-01-05", "amount": 100, "kind": "upsell"},
            {"charge_id": "c2", "account_id": "b", "charged_at": "2025-01-06", "amount": 50, "kind": "add_on"},
            {"charge_id": "c3", "account_id": "a", "charged_at": "2025-01-20", "amount": 30, "kind": "upsell"},
            {"charge_id": "c4", "account_id": "c", "charged_at": "2025-02-03", "amount": 70, "kind": "upsell"},
        ],
        costs=[
            {"cost_id": "k0", "incurred_on": "2024-12-31", "amount": 999, "category": "other", "segment": "smb"},
            {"cost_id": "k1", "incurred_on": "2025-01-10", "amount": 300, "category": "payroll", "segment": "smb"},
            {"cost_id": "k2", "incurred_on": "2025-01-31", "amount": 150, "category": "tools", "segment": "ent"},
            {"cost_id": "k3", "incurred_on": "2025-02-01", "amount": 99, "category": "tools", "segment": "ent"},
        ],
    )


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _company(tmp_path_factory.mktemp("explain"))


@pytest.fixture(scope="module")
def ds(data_dir: Path) -> Iterator[Dataset]:
    d = load_data_dir(data_dir)
    yield d
    d.backend.disconnect()


def _col(ex: Explanation, column: str) -> list[Any]:
    return list(ex.rows[column])


def test_explain_fcr_rate_lists_the_tickets_opened_in_the_month(ds: Dataset) -> None:
    ex = explain(ds, "fcr_rate", JAN)
    # t1 (1 contact, resolved) is the only first-contact resolution of t1, t2, t3: 1 / 3
    assert _col(ex, "ticket_id") == ["t1", "t2", "t3"]
    assert _col(ex, "first_contact_resolution") == [True, False, False]
    assert _col(ex, "contacts") == [1, 3, 1]
    assert ex.value == pytest.approx(1 / 3)
    assert ex.value == pytest.approx(sum(_col(ex, "first_contact_resolution")) / len(ex.rows))
    assert ex.inputs == {"tickets": 3, "fcr": 1, "resolved": 2}
    assert explain(ds, "tickets", JAN).value == 3


def test_explain_ces_lists_the_ces_answers_of_the_month(ds: Dataset) -> None:
    ex = explain(ds, "ces", JAN)
    # r1 7, r2 5, r3 3, r4 1: scores 5..7 are positive, 2 of 4 -> 50 (r5 is February, r6-r8 are NPS)
    assert _col(ex, "response_id") == ["r1", "r2", "r3", "r4"]
    assert _col(ex, "score") == [7, 5, 3, 1]
    assert ex.value == 50
    assert ex.value == 100 * sum(s >= 5 for s in _col(ex, "score")) / len(ex.rows)
    assert (ex.inputs["ces_n"], ex.inputs["ces_pos"]) == (4, 2)
    responses = explain(ds, "ces_responses", JAN)
    assert responses.value == 4 and len(responses.rows) == 4


def test_explain_nps_lists_only_the_nps_answers(ds: Dataset) -> None:
    ex = explain(ds, "nps", JAN)
    # r6 10 (promoter), r7 3 (detractor), r8 8 (passive): 100 x (1 - 1) / 3 = 0
    assert _col(ex, "response_id") == ["r6", "r7", "r8"]
    assert _col(ex, "comment") == ["comment r6", "comment r7", "comment r8"]
    assert ex.value == 0


def test_explain_renewal_rate_lists_the_renewals_due_in_the_month(ds: Dataset) -> None:
    ex = explain(ds, "renewal_rate", JAN)
    # n1 renewed, n2 churned, n3 pending (left out): 1 / (1 + 1) = 0.5; n0 and n4 fall outside January
    assert _col(ex, "renewal_id") == ["n1", "n2", "n3"]
    assert _col(ex, "outcome") == ["renewed", "churned", "pending"]
    assert ex.value == 0.5
    outcomes = _col(ex, "outcome")
    assert ex.value == outcomes.count("renewed") / (outcomes.count("renewed") + outcomes.count("churned"))
    assert ex.inputs == {"due": 3, "pending": 1, "renewed": 1, "churned": 1}


def test_explain_usage_lists_features_and_active_days_per_account(ds: Dataset) -> None:
    freq = explain(ds, "usage_frequency", JAN)
    # a: reports + alerts on 2 Jan, reports on 9 Jan -> 2 features, 2 days; b: export on 5 Jan -> 1, 1
    assert _col(freq, "account_id") == ["a", "b"]
    assert _col(freq, "features_used") == [2, 1]
    assert _col(freq, "active_days") == [2, 1]
    assert freq.value == 1.5  # (2 + 1) / 2
    assert freq.value == sum(_col(freq, "active_days")) / len(freq.rows)
    adoption = explain(ds, "product_adoption_rate", JAN)
    # catalogue {reports, alerts, export, api} = 4: (2 / 4 + 1 / 4) / 2 = 0.375
    assert adoption.value == 0.375
    assert adoption.value == sum(f / 4 for f in _col(adoption, "features_used")) / len(adoption.rows)


def test_explain_non_recurring_revenue_lists_the_charges_of_the_month(ds: Dataset) -> None:
    ex = explain(ds, "non_recurring_revenue", JAN)
    # c1 100 + c2 50 + c3 30 = 180 (c4 is February)
    assert _col(ex, "charge_id") == ["c1", "c2", "c3"]
    assert _col(ex, "amount") == [100, 50, 30]
    assert ex.value == 180 == sum(_col(ex, "amount"))
    assert (ex.inputs["charges"], ex.inputs["payers"], ex.inputs["nrr_upsell"]) == (3, 2, 130)


def test_explain_a_per_kind_revenue_lists_only_charges_of_that_kind(ds: Dataset) -> None:
    ex = explain(ds, "non_recurring_revenue_upsell", JAN)
    # upsells in January: c1 100 + c3 30 = 130 (c2 is an add-on)
    assert _col(ex, "charge_id") == ["c1", "c3"]
    assert set(_col(ex, "kind")) == {"upsell"}
    assert ex.value == 130 == sum(_col(ex, "amount"))


def test_explain_cs_costs_and_crc_list_the_costs_of_the_month(ds: Dataset) -> None:
    ex = explain(ds, "cs_costs", JAN)
    # k1 300 + k2 150 = 450 (k0 is 31 Dec, k3 1 Feb)
    assert _col(ex, "cost_id") == ["k1", "k2"]
    assert _col(ex, "category") == ["payroll", "tools"]
    assert ex.value == 450 == sum(_col(ex, "amount"))
    crc = explain(ds, "crc", JAN)
    assert _col(crc, "cost_id") == ["k1", "k2"]
    active = explain(ds, "active_customers", JAN)
    # 450 over the 3 paying accounts a, b, c = 150
    assert list(active.rows["account_id"]) == ["a", "b", "c"]
    assert crc.value == 150 == sum(_col(crc, "amount")) / len(active.rows)


def test_explain_cs_costs_of_one_segment_lists_that_segments_costs(ds: Dataset) -> None:
    smb = explain(ds, "cs_costs", JAN, group="smb", by="segment")
    assert _col(smb, "cost_id") == ["k1"]
    assert smb.value == 300 == sum(_col(smb, "amount"))
    crc = explain(ds, "crc", JAN, group="ent", by="segment")
    # ent: k2 150 over its one paying account c
    assert _col(crc, "cost_id") == ["k2"]
    assert crc.value == 150
    # costs have no account_id column: not attributable by account, the value is null and no row makes it up
    by_account = explain(ds, "cs_costs", JAN, group="a", by="account_id")
    assert by_account.value is None and by_account.rows.empty


def test_explain_support_of_one_group_lists_only_its_accounts_tickets(ds: Dataset) -> None:
    ex = explain(ds, "fcr_rate", JAN, group="smb", by="segment")
    # smb = a, b: t1 (first contact) and t2: 1 / 2
    assert _col(ex, "ticket_id") == ["t1", "t2"]
    assert ex.value == 0.5


def test_explain_cli_json_shows_the_renewal_rows(data_dir: Path) -> None:
    res = CliRunner().invoke(app, ["explain", "renewal_rate", "--period", JAN, "--data", str(data_dir),
                                   "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert (doc["metric"], doc["period"], doc["value"]) == ("renewal_rate", JAN, 0.5)
    assert doc["rows_label"] == "renewals due in the period"
    assert [(r["renewal_id"], r["due_on"], r["outcome"]) for r in doc["rows"]] == [
        ("n1", "2025-01-15", "renewed"), ("n2", "2025-01-31", "churned"), ("n3", "2025-01-31", "pending")]


def test_explain_cli_table_shows_the_cost_rows(data_dir: Path) -> None:
    res = CliRunner().invoke(app, ["explain", "cs_costs", "--period", JAN, "--data", str(data_dir)])
    assert res.exit_code == 0, res.output
    assert "costs incurred in the period: 2 row(s)" in res.stdout
    assert "k1" in res.stdout and "k2" in res.stdout and "k3" not in res.stdout and "k0" not in res.stdout
