"""Edges of the MRR movements that mutation testing found untested (docs/testing.md, "Mutation testing").

Amounts of 1 and 0.5 sit on and below the `> 0` boundaries of metrics.revenue, so a condition
moved from `> 0` to `> 1` changes a result; the arithmetic is in the comments.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from csmetrics.registry import load_all
from tests.metrics.helpers import sub, values, write_dir

REVENUE = "mrr,starting_mrr,new_mrr,reactivation_mrr,expansion_mrr,contraction_mrr,churned_mrr,net_new_mrr," \
    "active_customers,customers_start,new_customers,churned_customers,customer_retention_rate," \
    "arpa,mrr_churn_rate,gross_revenue_retention,net_revenue_retention"
ADDITIVE = {"mrr", "starting_mrr", "new_mrr", "reactivation_mrr", "expansion_mrr", "contraction_mrr",
            "churned_mrr", "net_new_mrr"}


def five_small_accounts(root: Path) -> Path:
    """One account per MRR movement in March 2025, every amount 1 or 0.5.

    MRR at the start of March (28 Feb) and at its end (31 March):
      churner      1   -> 0     churned 1
      downgrader   1   -> 0.5   contraction 0.5
      upgrader     0.5 -> 1     expansion 0.5
      newcomer     0   -> 1     new 1 (first payment ever on 5 March)
      returner     0   -> 1     reactivation 1 (paid in January, back on 15 March)
    """
    return write_dir(root, accounts=[{"account_id": a, "csm": c} for a, c in [
        ("churner", "ann"), ("downgrader", "ann"), ("upgrader", "bob"), ("newcomer", "bob"), ("returner", "cy"),
    ]], subscriptions=[
        sub("s1", "churner", "2025-01-01", "2025-03-01", 1),
        sub("s2", "downgrader", "2025-01-01", "2025-03-10", 1),
        sub("s3", "downgrader", "2025-03-10", None, 0.5),
        sub("s4", "upgrader", "2025-01-01", "2025-03-10", 0.5),
        sub("s5", "upgrader", "2025-03-10", None, 1),
        sub("s6", "newcomer", "2025-03-05", None, 1),
        sub("s7", "returner", "2025-01-01", "2025-02-01", 1),
        sub("s8", "returner", "2025-03-15", None, 1),
    ])


def test_one_and_half_unit_mrr_move_like_any_amount(tmp_path: Path) -> None:
    v = values(five_small_accounts(tmp_path), REVENUE)
    march = {m: v[(m, "2025-03", None)] for m in REVENUE.split(",")}
    assert march == {
        "starting_mrr": 2.5,  # churner 1 + downgrader 1 + upgrader 0.5
        "mrr": 3.5,  # downgrader 0.5 + upgrader 1 + newcomer 1 + returner 1
        "new_mrr": 1,
        "reactivation_mrr": 1,
        "expansion_mrr": 0.5,  # 1 - 0.5
        "contraction_mrr": 0.5,  # 1 - 0.5
        "churned_mrr": 1,
        "net_new_mrr": 1,  # 1 + 1 + 0.5 - 0.5 - 1 = 3.5 - 2.5
        "active_customers": 4,  # all but the churner
        "customers_start": 3,  # churner, downgrader, upgrader
        "new_customers": 1,
        "churned_customers": 1,
        "customer_retention_rate": pytest.approx(2 / 3),  # downgrader and upgrader of the 3 at the start
        "arpa": 0.875,  # 3.5 / 4
        "mrr_churn_rate": 0.6,  # (1 + 0.5) / 2.5
        "gross_revenue_retention": pytest.approx(0.4),  # 1 - 0.6
        "net_revenue_retention": 0.6,  # (2.5 - 1 - 0.5 + 0.5) / 2.5
    }


def test_reactivation_adds_to_net_new_mrr(tmp_path: Path) -> None:
    # r pays 1 in January, nothing in February, 1 again from 15 March:
    # March is reactivation 1 and nothing else, so net new MRR is +1.
    d = write_dir(tmp_path, subscriptions=[
        sub("s1", "r", "2025-01-01", "2025-02-01", 1),
        sub("s2", "r", "2025-03-15", None, 1),
    ])
    v = values(d, "reactivation_mrr,net_new_mrr")
    assert (v[("reactivation_mrr", "2025-03", None)], v[("net_new_mrr", "2025-03", None)]) == (1, 1)
    # January: new 1; February: churned 1, so net new -1.
    assert (v[("net_new_mrr", "2025-01", None)], v[("net_new_mrr", "2025-02", None)]) == (1, -1)


def test_money_metrics_are_declared_additive_and_their_groups_sum_to_the_total(tmp_path: Path) -> None:
    declared = {m.name for m in load_all().values() if m.family == "revenue" and m.additive}
    assert declared == ADDITIVE
    d = five_small_accounts(tmp_path)
    total = values(d, ",".join(sorted(ADDITIVE)))
    by = values(d, ",".join(sorted(ADDITIVE)), by="csm")
    for (metric, period, _), value in total.items():
        assert sum(x for (m, p, _), x in by.items() if (m, p) == (metric, period)) == value, (metric, period)
