"""A small, deterministic synthetic company for the web tests (SPEC section 4 CSVs).

Used until/unless the demo generator (``csmetrics demo``) is available and fast.
Two years of monthly subscriptions with upgrades, downgrades and churn; tickets,
NPS/CSAT/CES answers with comments, renewals and costs.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

from tests.conftest import TODAY

SEGMENTS = ("smb", "mid-market", "enterprise")
CSMS = ("Alice Ng", "Bruno Diaz", "Chen Li", "Dana Fox")
PRICE = {"smb": 100.0, "mid-market": 500.0, "enterprise": 2000.0}
COMMENTS = (
    "Great support, fast answers",
    "The reporting is slow",
    "Love the new dashboard",
    "Billing was confusing",
    "Onboarding took too long",
    "",
)


def _w(path: Path, header: list[str], rows: list[list[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def make_company(out: Path, accounts: int = 60, seed: int = 7, today: dt.date | None = None) -> Path:
    """Write a company of ``accounts`` accounts into ``out`` and return it.

    Its data ends on ``today`` (default: the suite's pinned :data:`tests.conftest.TODAY`), never on the
    real date, so every test sees the same company whenever it runs.
    """
    rnd = random.Random(seed)
    today = today or TODAY
    first = dt.date(today.year - 2, today.month, 1)
    out.mkdir(parents=True, exist_ok=True)
    acc, subs, tix, surv, ren, costs = [], [], [], [], [], []
    for i in range(accounts):
        aid = f"A{i:04d}"
        seg = SEGMENTS[i % 3]
        csm = CSMS[i % 4]
        start = first + dt.timedelta(days=rnd.randrange(0, 600))
        plan, region = ("pro" if i % 2 else "basic"), ("EU" if i % 5 else "US")
        acc.append([aid, f"Company {i}", start.isoformat(), seg, csm, plan, region])
        amount = PRICE[seg] * rnd.choice((1, 1, 2))
        churn_at = start + dt.timedelta(days=rnd.randrange(120, 900)) if rnd.random() < 0.35 else None
        # One upgrade or downgrade half way for some accounts: two subscriptions back to back.
        if rnd.random() < 0.4:
            mid = start + dt.timedelta(days=rnd.randrange(60, 300))
            end1 = mid if churn_at is None or mid < churn_at else churn_at
            subs.append([f"S{i:04d}a", aid, start.isoformat(), end1.isoformat(), amount, "month"])
            if churn_at is None or mid < churn_at:
                factor = rnd.choice((1.5, 0.5))
                subs.append([f"S{i:04d}b", aid, mid.isoformat(), churn_at.isoformat() if churn_at else "",
                             round(amount * factor, 2), "month"])
        else:
            subs.append([f"S{i:04d}a", aid, start.isoformat(), churn_at.isoformat() if churn_at else "",
                         amount, "month"])
        last_day = min(today, churn_at or today)
        span = max((last_day - start).days, 1)
        for k in range(rnd.randrange(0, 6)):
            opened = start + dt.timedelta(days=rnd.randrange(0, span))
            resolved = opened + dt.timedelta(days=rnd.randrange(0, 3))
            tid = f"T{i:04d}{k}"
            tix.append([tid, aid, opened.isoformat() + "T09:00:00Z", resolved.isoformat() + "T17:00:00Z",
                        rnd.choice((1, 1, 1, 2, 3)), "agent" + str(k % 3), "email"])
            if rnd.random() < 0.6:
                surv.append([f"R{i:04d}c{k}", aid, "csat", rnd.choice((2, 3, 4, 5, 5)),
                             resolved.isoformat() + "T18:00:00Z", rnd.choice(COMMENTS), tid])
        for k in range(rnd.randrange(0, 4)):
            day = start + dt.timedelta(days=rnd.randrange(0, span))
            surv.append([f"R{i:04d}n{k}", aid, "nps", rnd.choice((3, 6, 7, 8, 9, 9, 10)),
                         day.isoformat() + "T12:00:00Z", rnd.choice(COMMENTS), ""])
        due = start + dt.timedelta(days=365)
        if due < today:
            ren.append([f"N{i:04d}", aid, due.isoformat(),
                        "churned" if churn_at and churn_at <= due + dt.timedelta(days=30) else "renewed"])
    m = first
    k = 0
    while m < today:
        costs.append([f"C{k:03d}", m.isoformat(), 5000.0, "payroll"])
        k += 1
        m = dt.date(m.year + (m.month == 12), m.month % 12 + 1, 1)
    _w(out / "accounts.csv", ["account_id", "name", "created_at", "segment", "csm", "plan", "region"], acc)
    _w(out / "subscriptions.csv",
       ["subscription_id", "account_id", "started_at", "ended_at", "amount", "interval"], subs)
    _w(out / "tickets.csv",
       ["ticket_id", "account_id", "opened_at", "resolved_at", "contacts", "agent", "channel"],
       tix)
    _w(out / "survey_responses.csv",
       ["response_id", "account_id", "survey", "score", "responded_at", "comment", "ticket_id"],
       surv)
    _w(out / "renewals.csv", ["renewal_id", "account_id", "due_on", "outcome"], ren)
    _w(out / "costs.csv", ["cost_id", "incurred_on", "amount", "category"], costs)
    return out
