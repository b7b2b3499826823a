"""Customer-success costs and customer retention cost, overall and attributed to groups with --by.

Costs carry no account (docs/metrics.md): with --by they are attributed by a
costs column named like the --by column, an empty value to the group
(none) as for accounts; without such a column the grouped values are null.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.metrics.helpers import sub, values, write_dir

METRICS = "cs_costs,crc"


@pytest.fixture
def company(tmp_path: Path) -> Path:
    # a, b: smb (csm ann); c: ent (csm bob); d: no segment (csm ann). All pay 100 from 1 Jan; b stops on 15 Feb.
    return write_dir(
        tmp_path,
        accounts=[{"account_id": "a", "segment": "smb", "csm": "ann"},
                  {"account_id": "b", "segment": "smb", "csm": "ann"},
                  {"account_id": "c", "segment": "ent", "csm": "bob"},
                  {"account_id": "d", "segment": "", "csm": "ann"}],
        subscriptions=[sub("s1", "a", "2025-01-01"), sub("s2", "b", "2025-01-01", "2025-02-15"),
                       sub("s3", "c", "2025-01-01"), sub("s4", "d", "2025-01-01")],
        costs=[
            {"cost_id": "k1", "incurred_on": "2025-01-10", "amount": 300, "category": "payroll", "segment": "smb"},
            {"cost_id": "k2", "incurred_on": "2025-01-11", "amount": 500, "category": "programs", "segment": "ent"},
            {"cost_id": "k3", "incurred_on": "2025-01-31", "amount": 100, "category": "tools", "segment": ""},
            {"cost_id": "k4", "incurred_on": "2025-02-01", "amount": 200, "category": "training", "segment": "smb"},
            {"cost_id": "k5", "incurred_on": "2025-03-31", "amount": 80.5, "category": "other", "segment": "ent"},
        ],
    )


def test_cs_costs_sum_the_costs_incurred_in_each_month(company: Path) -> None:
    v = values(company, METRICS, end="2025-05-01")
    assert v[("cs_costs", "2025-01", None)] == 900  # k1 300 + k2 500 + k3 100 (31 Jan is in January)
    assert v[("cs_costs", "2025-02", None)] == 200  # k4
    assert v[("cs_costs", "2025-03", None)] == 80.5  # k5
    assert v[("cs_costs", "2025-04", None)] == 0  # no cost: 0, not null
    # crc = costs / customers paying at the end: January 900 / 4 = 225; February (b gone) 200 / 3 = 66.67
    assert v[("crc", "2025-01", None)] == 225
    assert v[("crc", "2025-02", None)] == pytest.approx(200 / 3)
    assert v[("crc", "2025-03", None)] == pytest.approx(80.5 / 3)  # 26.8333
    assert v[("crc", "2025-04", None)] == 0


def test_cs_costs_by_segment_follow_the_costs_segment_column(company: Path) -> None:
    v = values(company, METRICS, end="2025-04-01", by="segment")
    # January: smb k1 300, ent k2 500, the empty segment k3 100 goes to (none) like account d
    assert v[("cs_costs", "2025-01", "smb")] == 300
    assert v[("cs_costs", "2025-01", "ent")] == 500
    assert v[("cs_costs", "2025-01", "(none)")] == 100
    # February: smb k4 200; March: ent k5 80.5
    assert v[("cs_costs", "2025-02", "smb")] == 200
    assert v[("cs_costs", "2025-02", "ent")] == 0
    assert v[("cs_costs", "2025-03", "ent")] == 80.5
    # the groups add up to the ungrouped total: 300 + 500 + 100 = 900
    assert sum(x for (m, p, _), x in v.items() if m == "cs_costs" and p == "2025-01") == 900


def test_crc_by_segment_divides_each_groups_costs_by_its_own_customers(company: Path) -> None:
    v = values(company, METRICS, end="2025-04-01", by="segment")
    # January: smb 300 / 2 (a, b) = 150; ent 500 / 1 = 500; (none) 100 / 1 (d) = 100
    assert v[("crc", "2025-01", "smb")] == 150
    assert v[("crc", "2025-01", "ent")] == 500
    assert v[("crc", "2025-01", "(none)")] == 100
    # February: b stopped on 15 Feb, so smb ends with a alone: 200 / 1 = 200; ent 0 / 1 = 0
    assert v[("crc", "2025-02", "smb")] == 200
    assert v[("crc", "2025-02", "ent")] == 0


def test_costs_without_a_column_named_like_by_are_not_attributed(company: Path) -> None:
    # costs have no csm column: every grouped value is null, never 0 and never the total
    v = values(company, METRICS, end="2025-03-01", by="csm")
    assert {g for (_, _, g) in v} == {"ann", "bob"}
    assert all(x is None for x in v.values()), v


def test_cs_costs_over_a_quarter_and_a_year(company: Path) -> None:
    q = values(company, "cs_costs,crc", period="quarter", start="2025-01-01", end="2026-01-01")
    # Q1: 900 + 200 + 80.5 = 1180.5; customers at the end of Q1 (31 Mar): a, c, d = 3 -> 393.5
    assert q[("cs_costs", "2025-Q1", None)] == 1180.5
    assert q[("crc", "2025-Q1", None)] == pytest.approx(393.5)
    assert q[("cs_costs", "2025-Q2", None)] == 0
    y = values(company, "cs_costs", period="year", start="2025-01-01", end="2026-01-01")
    assert y[("cs_costs", "2025", None)] == 1180.5
