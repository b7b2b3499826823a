"""A four-account company with two CSMs, small enough to compute every scoped figure by hand.

=======  =========  ==========  ===================================  ====================
account  csm        segment     subscription (per month)             survey answers (May)
=======  =========  ==========  ===================================  ====================
A1       Ann        smb         100 from 2026-01-01                  NPS 10 "ann likes it"
A2       Ann        enterprise  50 from 2026-01-01                   NPS 3
B1       Bob        smb         200 from 2026-01-01                  NPS 9 "bob secret"
B2       Bob        mid-market  300 from 2026-01-01 to 2026-03-01    -
=======  =========  ==========  ===================================  ====================

MRR at the end of 2026-05: company 100 + 50 + 200 = 350; Ann's book 150; Bob's 200.
Active customers at the end of May: company 3 (A1, A2, B1); Ann 2; Bob 1.
NPS of May (promoters 9-10, detractors 0-6): company 10, 3, 9 -> (2 - 1) / 3 = 33.3;
Ann 10, 3 -> (1 - 1) / 2 = 0; Bob 9 -> 100.
Costs (company level): 1,000 in May, hidden from CSM tokens.
"""

from __future__ import annotations

import csv
from pathlib import Path

ANN, BOB = "Ann", "Bob"
BOOK = {ANN: ("A1", "A2"), BOB: ("B1", "B2")}
MAY = "2026-05"
MRR_MAY = {None: 350.0, ANN: 150.0, BOB: 200.0}
ACTIVE_MAY = {None: 3.0, ANN: 2.0, BOB: 1.0}


def _w(path: Path, header: list[str], rows: list[list[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def make_book_company(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    _w(out / "accounts.csv", ["account_id", "name", "created_at", "segment", "csm"], [
        ["A1", "Ann One", "2026-01-01", "smb", ANN],
        ["A2", "Ann Two", "2026-01-01", "enterprise", ANN],
        ["B1", "Bob One", "2026-01-01", "smb", BOB],
        ["B2", "Bob Two", "2026-01-01", "mid-market", BOB],
    ])
    _w(out / "subscriptions.csv", ["subscription_id", "account_id", "started_at", "ended_at", "amount", "interval"], [
        ["SA1", "A1", "2026-01-01", "", 100, "month"],
        ["SA2", "A2", "2026-01-01", "", 50, "month"],
        ["SB1", "B1", "2026-01-01", "", 200, "month"],
        ["SB2", "B2", "2026-01-01", "2026-03-01", 300, "month"],
    ])
    _w(out / "tickets.csv", ["ticket_id", "account_id", "opened_at", "resolved_at", "contacts", "agent", "channel"], [
        ["TA1", "A1", "2026-05-02T09:00:00Z", "2026-05-02T17:00:00Z", 1, "agent0", "email"],
        ["TB1", "B1", "2026-05-03T09:00:00Z", "2026-05-03T17:00:00Z", 2, "agent1", "email"],
    ])
    _w(out / "survey_responses.csv",
       ["response_id", "account_id", "survey", "score", "responded_at", "comment", "ticket_id"], [
        ["RA1", "A1", "nps", 10, "2026-05-10T12:00:00Z", "ann likes it", ""],
        ["RA2", "A2", "nps", 3, "2026-05-11T12:00:00Z", "", ""],
        ["RB1", "B1", "nps", 9, "2026-05-12T12:00:00Z", "bob secret", ""],
    ])
    _w(out / "costs.csv", ["cost_id", "incurred_on", "amount", "category"], [["C1", "2026-05-01", 1000, "payroll"]])
    return out
