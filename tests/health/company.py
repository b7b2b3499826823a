"""A tiny hand-made company for the health tests, scored as of 2025-06-30.

Accounts a, b, c (segment smb) and e (enterprise), all paying 100 a month since
2025-01-01. MODEL weighs csat (linear 40..90, weight 2), open tickets
(thresholds, weight 1) and active days (percentile within segment, weight 1);
enterprise overrides the weights (csat 0, tickets 1, usage 3) and colours
(green >= 60, yellow >= 30). Hand-computed results are in test_scoring.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.metrics.helpers import sub, write_dir

AS_OF = "2025-06-30"

MODEL = """
[model]
segment_by = "segment"
min_coverage = 0.6

[colors]
green = 70
yellow = 40

[windows]
usage = 30

[components.csat]
signal = "csat"
weight = 2
rule = "linear"
worst = 40
best = 90

[components.tickets]
signal = "open_tickets"
weight = 1
rule = "thresholds"
bands = [{ at_most = 0, score = 100 }, { at_most = 2, score = 50 }]
otherwise = 0

[components.usage]
signal = "active_days"
weight = 1
rule = "percentile"

[segments.enterprise]
weights = { csat = 0, usage = 3 }
colors = { green = 60, yellow = 30 }
"""


def usage(account: str, days: list[str], feature: str = "reports") -> list[dict[str, Any]]:
    return [{"account_id": account, "occurred_at": f"{d}T10:00:00Z", "feature": feature} for d in days]


def answer(rid: str, account: str, survey: str, score: float, day: str, respondent: str | None = None
           ) -> dict[str, Any]:
    return {"response_id": rid, "account_id": account, "survey": survey, "score": score,
            "responded_at": f"{day}T09:00:00Z", "respondent": respondent}


def ticket(tid: str, account: str, opened: str, resolved: str | None = None, contacts: int | None = 1
           ) -> dict[str, Any]:
    return {"ticket_id": tid, "account_id": account, "opened_at": f"{opened}T08:00:00Z",
            "resolved_at": f"{resolved}T08:00:00Z" if resolved else None, "contacts": contacts}


def tables() -> dict[str, list[dict[str, Any]]]:
    june = [f"2025-06-{d:02d}" for d in range(1, 31)]
    return {
        "accounts": [{"account_id": a, "name": f"Account {a.upper()}", "segment": s, "csm": c}
                     for a, s, c in [("a", "smb", "ann"), ("b", "smb", "bob"), ("c", "smb", "ann"),
                                     ("e", "enterprise", "bob")]],
        "subscriptions": [sub(f"s{a}", a, "2025-01-01", None, 100) for a in "abce"],
        # active days in the 30 days to 2025-06-30: a 10, b 5, c 0 (used in March), e 5
        "usage_events": usage("a", june[:10]) + usage("b", june[10:15]) + usage("c", ["2025-03-01"])
        + usage("e", june[:5]),
        # csat: a 2 positive of 4 = 50%, b 2 of 2 = 100%, c none, e 0 of 1
        "survey_responses": [answer("r1", "a", "csat", 5, "2025-05-01"), answer("r2", "a", "csat", 4, "2025-05-02"),
                             answer("r3", "a", "csat", 2, "2025-05-03"), answer("r4", "a", "csat", 1, "2025-05-04"),
                             answer("r5", "b", "csat", 5, "2025-04-01"), answer("r6", "b", "csat", 5, "2025-04-02"),
                             answer("r7", "e", "csat", 1, "2025-04-02")],
        # open on 2025-06-30: a 0, b 2 (t3 is resolved only after the as-of day), c 3, e 0
        "tickets": [ticket("t1", "a", "2025-06-01", "2025-06-02"),
                    ticket("t2", "b", "2025-06-10"), ticket("t3", "b", "2025-06-20", "2025-07-05"),
                    ticket("t4", "b", "2025-05-01", "2025-05-02"),
                    ticket("t5", "c", "2025-06-01"), ticket("t6", "c", "2025-06-02"), ticket("t7", "c", "2025-06-03")],
    }


def make(root: Path, model: bool = True, **extra: list[dict[str, Any]]) -> Path:
    """Write the company (plus ``extra`` rows appended per table) and, if ``model``, its health.toml."""
    t = tables()
    for name, rows in extra.items():
        t[name] = t.get(name, []) + rows
    d = write_dir(root, **t)
    if model:
        (d / "health.toml").write_text(MODEL, encoding="utf-8")
    return d
