"""A tiny hand-made company for the alert tests, evaluated as of T = 2026-06-15 (the suite's pinned day).

Accounts (every one pays from 2025-01-01; amounts are MRR a month, USD):

| account | name | csm | MRR on T | what is planted |
|---|---|---|---|---|
| A1 | Acme | Ana Ruiz | 1000 | NPS 3 "Too slow" (R1, 06-12); NPS 9 (R2, 06-10); renewal N1 due 07-01, healthy |
| A2 | Beta | Bo Chen | 500 | CSAT 2 "Waited days" on ticket T1 (R3, 06-14); CSAT 4 (R4, positive: min 4) |
| A3 | Gamma | (none) | 300 | usage 100 events 2026-04-17..05-16, 40 events 05-17..06-15: down 60% |
| A4 | Delta | Ana Ruiz | 200 | usage 100 then 60: down 40% |
| A5 | Epsilon | Bo Chen | 500 | 800 until 2026-06-10, 500 from then: contraction 300 in 2026-06 |
| A6 | Zeta | Bo Chen | 450 | 500 until 2026-06-10, 450 from then: contraction 50 |
| A7 | Eta | Ana Ruiz | 100 | one ticket opened 2026-06-12, open on T: health green -> yellow on 06-12 |
| A8 | Theta | Bo Chen | 700 | two tickets opened 2026-06-11, open on T: score 100 -> 0; renewal N2 due 2026-07-01 |

Health model :data:`HEALTH`: one component, open tickets (0 -> 100, 1 -> 60, more -> 0);
green >= 70, yellow >= 40. Every account without an open ticket scores 100 (green).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from csmetrics.io.dataset import ingest
from csmetrics.models.health import parse_config
from tests.metrics.helpers import sub, write_dir

T = dt.date(2026, 6, 15)

HEALTH_TOML = """
[model]
segment_by = ""
min_coverage = 0

[colors]
green = 70
yellow = 40

[components.tickets]
signal = "open_tickets"
weight = 1
rule = "thresholds"
bands = [{ at_most = 0, score = 100 }, { at_most = 1, score = 60 }]
otherwise = 0
"""


def health():  # type: ignore[no-untyped-def]
    import tomllib

    return parse_config(tomllib.loads(HEALTH_TOML), "tests")


def _events(account: str, first: dt.date, days: int, n: int) -> list[dict[str, Any]]:
    """``n`` events spread over ``days`` days from ``first`` (round robin; distinct users, as ingest
    stores a repeated usage row once)."""
    return [{"account_id": account, "occurred_at": f"{first + dt.timedelta(days=i % days)}T10:00:00Z",
             "feature": "reports", "user_id": f"u{i}"} for i in range(n)]


def company_rows() -> dict[str, list[dict[str, Any]]]:
    accounts = [("A1", "Acme", "Ana Ruiz"), ("A2", "Beta", "Bo Chen"), ("A3", "Gamma", ""),
                ("A4", "Delta", "Ana Ruiz"), ("A5", "Epsilon", "Bo Chen"), ("A6", "Zeta", "Bo Chen"),
                ("A7", "Eta", "Ana Ruiz"), ("A8", "Theta", "Bo Chen")]
    subs = [sub("S1", "A1", "2025-01-01", amount=1000), sub("S2", "A2", "2025-01-01", amount=500),
            sub("S3", "A3", "2025-01-01", amount=300), sub("S4", "A4", "2025-01-01", amount=200),
            sub("S5a", "A5", "2025-01-01", "2026-06-10", amount=800), sub("S5b", "A5", "2026-06-10", amount=500),
            sub("S6a", "A6", "2025-01-01", "2026-06-10", amount=500), sub("S6b", "A6", "2026-06-10", amount=450),
            sub("S7", "A7", "2025-01-01", amount=100), sub("S8", "A8", "2025-01-01", amount=700)]
    prior, recent = dt.date(2026, 4, 17), dt.date(2026, 5, 17)
    usage = (_events("A3", prior, 30, 100) + _events("A3", recent, 30, 40)
             + _events("A4", prior, 30, 100) + _events("A4", recent, 30, 60))
    tickets = [
        {"ticket_id": "T1", "account_id": "A2", "opened_at": "2026-06-13T09:00:00Z",
         "resolved_at": "2026-06-13T17:00:00Z", "contacts": 1},
        {"ticket_id": "T7", "account_id": "A7", "opened_at": "2026-06-12T09:00:00Z", "resolved_at": None,
         "contacts": 1},
        {"ticket_id": "T8a", "account_id": "A8", "opened_at": "2026-06-11T09:00:00Z", "resolved_at": None,
         "contacts": 1},
        {"ticket_id": "T8b", "account_id": "A8", "opened_at": "2026-06-11T10:00:00Z", "resolved_at": None,
         "contacts": 1},
    ]
    answers = [
        {"response_id": "R1", "account_id": "A1", "survey": "nps", "score": 3,
         "responded_at": "2026-06-12T12:00:00Z", "comment": "Too slow", "ticket_id": None},
        {"response_id": "R2", "account_id": "A1", "survey": "nps", "score": 9,
         "responded_at": "2026-06-10T12:00:00Z", "comment": "", "ticket_id": None},
        {"response_id": "R3", "account_id": "A2", "survey": "csat", "score": 2,
         "responded_at": "2026-06-14T12:00:00Z", "comment": "Waited days", "ticket_id": "T1"},
        {"response_id": "R4", "account_id": "A2", "survey": "csat", "score": 4,
         "responded_at": "2026-06-14T13:00:00Z", "comment": "", "ticket_id": "T1"},
    ]
    renewals = [{"renewal_id": "N1", "account_id": "A1", "due_on": "2026-07-01", "outcome": "pending"},
                {"renewal_id": "N2", "account_id": "A8", "due_on": "2026-07-01", "outcome": "pending"},
                {"renewal_id": "N3", "account_id": "A8", "due_on": "2026-09-01", "outcome": "pending"}]
    return {"accounts": [{"account_id": a, "name": n, "csm": c} for a, n, c in accounts],
            "subscriptions": subs, "usage_events": usage, "tickets": tickets, "survey_responses": answers,
            "renewals": renewals}


def make_workspace(root: Path, extra: dict[str, list[dict[str, Any]]] | None = None) -> Path:
    """Write the company (plus ``extra`` rows per table) to ``root/data`` and ingest it into ``root/ws``."""
    rows = company_rows()
    for name, more in (extra or {}).items():
        rows[name] = rows.get(name, []) + more
    data = write_dir(root / "data", **rows)
    ws = root / "ws" / "workspace.duckdb"
    ingest(data, ws)
    return ws
