"""The acceptance company of issue #15: HubSpot + Zendesk (+ Stripe), joined on the HubSpot company id.

``python -m tests.sources.joined.company`` writes tests/fixtures/joined/{hubspot,zendesk,stripe}; a test checks
the files are this module's output. Shapes: the HubSpot, Zendesk and Stripe fixture builders of
tests/sources/{hubspot/portal,zendesk/company,stripe/account}.py (the vendors' documented response shapes).

**HubSpot**: the 8 companies and 3 owners of tests/sources/hubspot/portal.py. CSMs: Ana Silva (18200000001
Acme, ...04 Delta, ...07 Granite), Ben Okafor (...02 Birch, ...05 Evergreen, ...08 Harbor), Chloe Martin
(...03 Cobalt, ...06 Fjord).

**Zendesk**: 6 organizations; 201-205 carry external_id = the HubSpot company id of Acme, Birch, Cobalt,
Delta, Evergreen; 206 "Zeta Labs" has none: account "206", known to no CRM (unmatched, group ``(none)``).
So 9 accounts. CSM by organization: 201 Ana, 202 Ben, 203 Chloe, 204 Ana, 205 Ben, 206 (none).

40 tickets over January-June 2026 (R = resolved: solved/closed; FCR = resolved with contacts 1, contacts =
replies, at least 1 when resolved):

| month | ticket org status (+days to solve, replies)                                   | n | R | FCR |
|-------|-------------------------------------------------------------------------------|---|---|-----|
| Jan | 1 201 solved(+1,1) FCR; 2 202 solved(+2,2); 3 203 closed(+1,1) FCR; 4 206 solved(+3,0) FCR;   | 7 | 6 | 4 |
|     | 5 204 open(0); 6 201 solved(+1,3); 7 205 solved(+5 = 2 Feb,1) FCR                              |   |   |   |
| Feb | 8 202 solved(+1,1) FCR; 9 201 DELETED; 10 203 open, reopened after a solve (1); 11 205 pending | 5 | 3 | 2 |
|     | (2); 12 206 solved(+2,2); 13 204 closed(+1,1) FCR                                              |   |   |   |
| Mar | 14 201 solved(+1,1) FCR; 15 201 solved(+1,1) FCR; 16 202 hold(1); 17 203 solved(+4,2);         | 7 | 5 | 3 |
|     | 18 204 solved again after a reopen (+1,2); 19 205 solved(+2,0) FCR; 20 206 open(1)             |   |   |   |
| Apr | 21 202 solved(+1,1) FCR; 22 203 solved(+1,1) FCR; 23 201 closed(+2,2); 24 205 open(0);         | 7 | 6 | 4 |
|     | 25 206 solved(+1,1) FCR; 26 204 solved(+3,3); 27 202 solved(+3 = 2 May,1) FCR                  |   |   |   |
| May | 28 201 solved(+1,1) FCR; 29 203 open, reopened (2); 30 204 solved(+1,1) FCR; 31 205 solved     | 6 | 4 | 3 |
|     | (+2,2); 32 206 pending(1); 33 202 solved(+1,1) FCR                                             |   |   |   |
| Jun | 34 201 solved(+1,1) FCR; 35 202 open(0); 36 203 solved(+1,1) FCR; 37 204 solved(+2,2);         | 7 | 4 | 3 |
|     | 38 205 new(0); 39 206 solved(+1,1) FCR; 40 201 hold(1)                                         |   |   |   |

CSAT ratings (good = 5, bad = 1 on the default 1-5 scale, positive from 4; the month of ``updated_at``):
Jan 6001 t1 good, 6002 t2 bad, 6003 t6 good; 6005 t4 offered (never answered).
Feb 6004 t7 good (created 31 Jan, answered 3 Feb), 6006 t8 good, 6007 t12 bad; 6008 t9 good (deleted ticket:
left out). Mar 6009 t14 good, 6010 t15 good, 6011 t17 good; 6012 t19 offered. Apr 6013 t21 good, 6014 t23 bad,
6015 t25 bad; 6016 t26 offered. May 6017 t28 good, 6018 t31 bad, 6019 t33 good. Jun 6020 t34 good,
6021 t37 bad; 6022 t39 offered.

**Stripe**: cus_J1 (metadata.account_id 18200000001, 200.00/month), cus_J2 (18200000002, 100.00/month),
cus_J3 (18200000003, 50.00/month), each paid monthly from 1 January 2026 through June.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from tests.sources.hubspot import portal
from tests.sources.stripe import account as stripe
from tests.sources.zendesk.company import metric, organization, rating, ticket

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "joined"
MONTHS = ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"]
ACME, BIRCH, COBALT, DELTA, EVERGREEN = (f"1820000000{i}" for i in range(1, 6))
CSM = {ACME: "Ana Silva", BIRCH: "Ben Okafor", COBALT: "Chloe Martin", DELTA: "Ana Silva",
       EVERGREEN: "Ben Okafor", "18200000006": "Chloe Martin", "18200000007": "Ana Silva",
       "18200000008": "Ben Okafor", "206": None}
"""Every account of the joined workspace and its CSM (HubSpot's owner names; 206 is Zendesk's alone)."""

ORGS = [(201, "Acme Analytics Inc", ACME), (202, "Birch Logistics Ltd", BIRCH), (203, "Cobalt Health Group", COBALT),
        (204, "Delta Foods", DELTA), (205, "Evergreen Schools", EVERGREEN), (206, "Zeta Labs", None)]

# (ticket, organization, opened (2026-MM-DD), status, days to solve or None, replies, reopens)
TICKETS: list[tuple[int, int, str, str, int | None, int, int]] = [
    (1, 201, "01-03", "solved", 1, 1, 0),
    (2, 202, "01-05", "solved", 2, 2, 0),
    (3, 203, "01-08", "closed", 1, 1, 0),
    (4, 206, "01-12", "solved", 3, 0, 0),
    (5, 204, "01-15", "open", None, 0, 0),
    (6, 201, "01-20", "solved", 1, 3, 0),
    (7, 205, "01-28", "solved", 5, 1, 0),
    (8, 202, "02-02", "solved", 1, 1, 0),
    (9, 201, "02-04", "deleted", None, 0, 0),
    (10, 203, "02-09", "open", 1, 1, 1),
    (11, 205, "02-14", "pending", None, 2, 0),
    (12, 206, "02-18", "solved", 2, 2, 0),
    (13, 204, "02-25", "closed", 1, 1, 0),
    (14, 201, "03-02", "solved", 1, 1, 0),
    (15, 201, "03-05", "solved", 1, 1, 0),
    (16, 202, "03-09", "hold", None, 1, 0),
    (17, 203, "03-11", "solved", 4, 2, 0),
    (18, 204, "03-16", "solved", 1, 2, 1),
    (19, 205, "03-20", "solved", 2, 0, 0),
    (20, 206, "03-27", "open", None, 1, 0),
    (21, 202, "04-01", "solved", 1, 1, 0),
    (22, 203, "04-03", "solved", 1, 1, 0),
    (23, 201, "04-08", "closed", 2, 2, 0),
    (24, 205, "04-12", "open", None, 0, 0),
    (25, 206, "04-15", "solved", 1, 1, 0),
    (26, 204, "04-22", "solved", 3, 3, 0),
    (27, 202, "04-29", "solved", 3, 1, 0),
    (28, 201, "05-04", "solved", 1, 1, 0),
    (29, 203, "05-06", "open", 1, 2, 1),
    (30, 204, "05-11", "solved", 1, 1, 0),
    (31, 205, "05-13", "solved", 2, 2, 0),
    (32, 206, "05-19", "pending", None, 1, 0),
    (33, 202, "05-26", "solved", 1, 1, 0),
    (34, 201, "06-01", "solved", 1, 1, 0),
    (35, 202, "06-02", "open", None, 0, 0),
    (36, 203, "06-03", "solved", 1, 1, 0),
    (37, 204, "06-05", "solved", 2, 2, 0),
    (38, 205, "06-08", "new", None, 0, 0),
    (39, 206, "06-09", "solved", 1, 1, 0),
    (40, 201, "06-10", "hold", None, 1, 0),
]

# (rating, ticket, score, created (2026-MM-DD), answered = updated_at)
RATINGS = [(6001, 1, "good", "01-05", "01-05"),
           (6002, 2, "bad", "01-08", "01-08"),
           (6003, 6, "good", "01-22", "01-22"),
           (6004, 7, "good", "01-31", "02-03"),
           (6005, 4, "offered", "01-16", "01-16"),
           (6006, 8, "good", "02-04", "02-04"),
           (6007, 12, "bad", "02-21", "02-21"),
           (6008, 9, "good", "02-06", "02-06"),
           (6009, 14, "good", "03-04", "03-04"),
           (6010, 15, "good", "03-07", "03-07"),
           (6011, 17, "good", "03-16", "03-16"),
           (6012, 19, "offered", "03-23", "03-23"),
           (6013, 21, "good", "04-03", "04-03"),
           (6014, 23, "bad", "04-11", "04-11"),
           (6015, 25, "bad", "04-17", "04-17"),
           (6016, 26, "offered", "04-26", "04-26"),
           (6017, 28, "good", "05-06", "05-06"),
           (6018, 31, "bad", "05-16", "05-16"),
           (6019, 33, "good", "05-28", "05-28"),
           (6020, 34, "good", "06-03", "06-03"),
           (6021, 37, "bad", "06-08", "06-08"),
           (6022, 39, "offered", "06-11", "06-11")]

# Totals per month, from the tables above.
# tickets: Jan 1-7 = 7; Feb 8, 10-13 = 5 (9 deleted); Mar 14-20 = 7; Apr 21-27 = 7; May 28-33 = 6; Jun 34-40 = 7.
# resolved (opened in the month, resolved at any time): Jan 1,2,3,4,6,7 = 6; Feb 8,12,13 = 3 (10 was reopened);
#   Mar 14,15,17,18,19 = 5; Apr 21,22,23,25,26,27 = 6; May 28,30,31,33 = 4; Jun 34,36,37,39 = 4.
# FCR: Jan 1,3,4,7 -> 4/7; Feb 8,13 -> 2/5 = 0.4; Mar 14,15,19 -> 3/7; Apr 21,22,25,27 -> 4/7; May 28,30,33 -> 3/6;
#   Jun 34,36,39 -> 3/7.
# CSAT = 100 x good / answered: Jan 2/3; Feb 6004, 6006 good, 6007 bad -> 2/3; Mar 3/3 = 100; Apr 1/3; May 2/3;
#   Jun 1/2 = 50. Offered ratings are not answers; 6008's ticket is deleted.
EXPECTED: dict[str, list[float | None]] = {
    "tickets": [7, 5, 7, 7, 6, 7],
    "tickets_resolved": [6, 3, 5, 6, 4, 4],
    "fcr_rate": [round(4 / 7, 6), 0.4, round(3 / 7, 6), round(4 / 7, 6), 0.5, round(3 / 7, 6)],
    "csat": [round(200 / 3, 6), round(200 / 3, 6), 100.0, round(100 / 3, 6), round(200 / 3, 6), 50.0],
    "csat_responses": [3, 3, 3, 3, 3, 2],
}

# By CSM: Ana = 201 + 204, Ben = 202 + 205, Chloe = 203, (none) = 206.
# Ana   tickets Jan 1,5,6 (R 1,6; FCR 1) | Feb 13 (9 deleted) | Mar 14,15,18 (R all; FCR 14,15) | Apr 23,26 (R both,
#       FCR none) | May 28,30 (FCR both) | Jun 34,37,40 (R 34,37; FCR 34). CSAT Jan 6001, 6003 good | Feb - |
#       Mar 6009, 6010 good | Apr 6014 bad | May 6017 good | Jun 6020 good, 6021 bad.
# Ben   Jan 2,7 (R both; FCR 7) | Feb 8,11 (R 8; FCR 8) | Mar 16,19 (R 19; FCR 19) | Apr 21,24,27 (R 21,27; FCR 21,27)
#       | May 31,33 (R both; FCR 33) | Jun 35,38 (none). CSAT Jan 6002 bad | Feb 6004, 6006 good | Apr 6013 good |
#       May 6018 bad, 6019 good.
# Chloe Jan 3 (FCR) | Feb 10 (reopened: unresolved) | Mar 17 (R, 2 contacts) | Apr 22 (FCR) | May 29 (reopened) |
#       Jun 36 (FCR). CSAT Mar 6011 good.
# (none) Jan 4 (FCR, 0 replies -> 1 contact) | Feb 12 (R, 2 contacts) | Mar 20 (open) | Apr 25 (FCR) | May 32
#       (pending) | Jun 39 (FCR). CSAT Feb 6007 bad | Apr 6015 bad.
EXPECTED_BY_CSM: dict[str, dict[str, list[float | None]]] = {
    "Ana Silva": {"tickets": [3, 1, 3, 2, 2, 3], "tickets_resolved": [2, 1, 3, 2, 2, 2],
                  "fcr_rate": [round(1 / 3, 6), 1.0, round(2 / 3, 6), 0.0, 1.0, round(1 / 3, 6)],
                  "csat": [100.0, None, 100.0, 0.0, 100.0, 50.0], "csat_responses": [2, 0, 2, 1, 1, 2]},
    "Ben Okafor": {"tickets": [2, 2, 2, 3, 2, 2], "tickets_resolved": [2, 1, 1, 2, 2, 0],
                   "fcr_rate": [0.5, 0.5, 0.5, round(2 / 3, 6), 0.5, 0.0],
                   "csat": [0.0, 100.0, None, 100.0, 50.0, None], "csat_responses": [1, 2, 0, 1, 2, 0]},
    "Chloe Martin": {"tickets": [1, 1, 1, 1, 1, 1], "tickets_resolved": [1, 0, 1, 1, 0, 1],
                     "fcr_rate": [1.0, 0.0, 0.0, 1.0, 0.0, 1.0],
                     "csat": [None, None, 100.0, None, None, None], "csat_responses": [0, 0, 1, 0, 0, 0]},
    "(none)": {"tickets": [1, 1, 1, 1, 1, 1], "tickets_resolved": [1, 1, 0, 1, 0, 1],
               "fcr_rate": [1.0, 0.0, 0.0, 1.0, 0.0, 1.0],
               "csat": [None, 0.0, None, 0.0, None, None], "csat_responses": [0, 1, 0, 1, 0, 0]},
}

STRIPE_MRR = {ACME: 200.0, BIRCH: 100.0, COBALT: 50.0}
"""Monthly revenue per account, every month January-June 2026."""
STRIPE_CUSTOMERS = [("cus_J1", "Acme Analytics", ACME, "price_month200", 20000),
                    ("cus_J2", "Birch Logistics", BIRCH, "price_month100", 10000),
                    ("cus_J3", "Cobalt Health", COBALT, "price_month50", 5000)]
STRIPE_TOML = '[sources.stripe]\naccount_id = "metadata.account_id"\n'


def _at(day: str, hour: int = 9) -> str:
    return f"2026-{day}T{hour:02d}:00:00Z"


def _plus(day: str, days: int, hour: int = 9) -> str:
    d = dt.date.fromisoformat(f"2026-{day}") + dt.timedelta(days=days)
    return f"{d.isoformat()}T{hour:02d}:00:00Z"


def zendesk() -> dict[str, list[dict[str, Any]]]:
    orgs = [organization(oid, name, ext, "2025-09-01T10:00:00Z") for oid, name, ext in ORGS]
    tickets, metrics = [], []
    for tid, org, day, status, solve, replies, reopens in TICKETS:
        opened = _at(day)
        solved = None if solve is None else _plus(day, solve)
        updated = _plus(day, (solve or 0) + (2 if reopens and status == "open" else 0))
        tickets.append(ticket(tid, org, opened, updated, status))
        if status != "deleted":
            metrics.append(metric(40000 + tid, tid, opened, updated, solved, replies, reopens))
    ratings = [rating(rid, tid, score, _at(created, 12), _at(answered, 12),
                      {"good": "Thanks!", "bad": "Still broken"}.get(score))
               for rid, tid, score, created, answered in RATINGS]
    return {"organizations": orgs, "tickets": tickets, "ticket_metrics": metrics, "satisfaction_ratings": ratings}


def stripe_objects() -> dict[str, list[dict[str, Any]]]:
    customers, subs, invoices = [], [], []
    for n, (cid, name, acct, price_id, amount) in enumerate(STRIPE_CUSTOMERS, start=1):
        customers.append(stripe.customer(cid, name, "2025-12-20", {"account_id": acct}))
        sid, item = f"sub_J{n}", f"si_J{n}"
        subs.append(stripe.subscription(sid, cid, "2026-01-01", [(item, price_id, 1)]))
        for m, (start, end) in enumerate(stripe._monthly("2026-01-01", 6), start=1):
            iid = f"in_J{n}_{m}"
            line = stripe.line_new(f"il_J{n}_{m}", iid, sid, item, price_id, amount, start, end)
            invoices.append(stripe.invoice(iid, cid, sid, "paid", start, [line]))
    return {"customers": customers, "subscriptions": subs, "invoices": invoices,
            "prices": [stripe.PRICES[p] for p in sorted({c[3] for c in STRIPE_CUSTOMERS})],
            "products": [p for p in stripe.PRODUCTS if p["id"] == "prod_core"]}


def write(directory: Path = FIXTURE) -> Path:
    """tests/fixtures/joined: hubspot/ (one page per file), zendesk/ (one page per file), stripe/ (list objects)."""
    portal.write(directory / "hubspot")
    z = directory / "zendesk"
    z.mkdir(parents=True, exist_ok=True)
    for kind, objs in zendesk().items():
        page: dict[str, Any] = {kind: objs, "next_page": None, "previous_page": None, "count": len(objs)}
        if kind == "tickets":
            page = {"tickets": objs, "after_url": None, "after_cursor": None, "before_url": None,
                    "before_cursor": None, "end_of_stream": True}
        (z / f"{kind}.json").write_text(json.dumps(page, indent=1) + "\n", encoding="utf-8")
    s = directory / "stripe"
    s.mkdir(parents=True, exist_ok=True)
    for name, objs in stripe_objects().items():
        (s / f"{name}.json").write_text(json.dumps({"object": "list", "data": objs, "has_more": False,
                                                    "url": f"/v1/{name}"}, indent=1, sort_keys=True) + "\n",
                                        encoding="utf-8")
    return directory


if __name__ == "__main__":  # pragma: no cover - regenerates tests/fixtures/joined
    write()
