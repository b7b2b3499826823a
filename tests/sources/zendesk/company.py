"""A small company's Zendesk account, in Zendesk's documented response shapes, with its hand-computed metrics.

Object shapes follow developer.zendesk.com's API reference examples (Tickets and the incremental ticket
export, Ticket Metrics, Organizations, Satisfaction Ratings). ``write(dir)`` writes the import directory
``tests/fixtures/zendesk/company`` (a test checks that it is this module's output).

The CRM (accounts.csv, ingested first) knows A-1 Acme (CSM Alice), A-2 Globex (CSM Bob) and A-3 Initech
(CSM Alice, no Zendesk organization). Organizations: 101 Acme Inc (external_id A-1), 102 Globex Corporation
(external_id A-2), 103 Umbrella (no external_id: account "103", unmatched, group ``(none)``).

| ticket | org | opened | status | solved_at | replies | -> resolved | contacts | FCR |
|---|---|---|---|---|---|---|---|---|
| 1 | 101 | 2026-01-05 | solved | 2026-01-06 | 1 | yes | 1 | yes |
| 2 | 101 | 2026-01-10 | closed | 2026-01-12 | 3 | yes | 3 | no |
| 3 | 102 | 2026-01-15 | open | - | 0 | no | empty | no |
| 4 | 102 | 2026-01-20 | solved | 2026-01-21 | 0 | yes | 1 (at least 1) | yes |
| 5 | 103 | 2026-01-25 | solved | 2026-02-02 | 1 | yes | 1 | yes |
| 6 | 101 | 2026-02-03 | pending | - | 2 | no | 2 | no |
| 7 | 101 | 2026-02-10 | deleted | - | - | left out | | |
| 8 | none | 2026-02-12 | solved | 2026-02-13 | 1 | left out | | |
| 9 | 102 | 2026-02-20 | solved | 2026-02-25 | 2 | yes | 2 | no |
| 10 | 103 | 2026-02-22 | hold | - | 1 | no | 1 | no |
| 11 | 101 | 2026-02-26 | open (reopened) | 2026-02-27 | 1 | no | 1 | no |

Satisfaction ratings (responded = updated_at): 5001 t1 good 2026-01-07, 5002 t2 bad 2026-01-13, 5003 t4 good
2026-01-22, 5004 t5 good created 2026-02-02 updated 2026-02-03 (February), 5005 t6 offered, 5006 t8 good (ticket
without organization: left out), 5007 t9 bad 2026-02-26, 5008 t3 unoffered, 5009 t7 good (deleted ticket: left out).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MONTHS = ["2026-01", "2026-02"]
ACCOUNTS_CSV = "account_id,name,csm\nA-1,Acme,Alice\nA-2,Globex,Bob\nA-3,Initech,Alice\n"
SUBDOMAIN = "example"
URL = f"https://{SUBDOMAIN}.zendesk.com/api/v2"

# Jan: 5 tickets (1-5), resolved 1, 2, 4, 5; FCR 1, 4, 5 -> 3 / 5. CSAT: 5001 good, 5002 bad, 5003 good -> 2 / 3.
# Feb: 4 tickets (6, 9, 10, 11: 7 deleted, 8 no organization), resolved 9; FCR none. CSAT: 5004 good, 5007 bad.
EXPECTED: dict[str, list[float | None]] = {
    "tickets": [5, 4],
    "tickets_resolved": [4, 1],
    "fcr_rate": [0.6, 0.0],
    "csat": [round(200 / 3, 6), 50.0],
    "csat_responses": [3, 2],
}
# Alice = A-1 (tickets 1, 2 | 6, 11; ratings 5001 good, 5002 bad); Bob = A-2 (3, 4 | 9; 5003 good | 5007 bad);
# (none) = Umbrella, 103 (5 | 10; - | 5004 good).
EXPECTED_BY_CSM: dict[str, dict[str, list[float | None]]] = {
    "Alice": {"tickets": [2, 2], "tickets_resolved": [2, 0], "fcr_rate": [0.5, 0.0], "csat": [50.0, None],
              "csat_responses": [2, 0]},
    "Bob": {"tickets": [2, 1], "tickets_resolved": [1, 1], "fcr_rate": [0.5, 0.0], "csat": [100.0, 0.0],
            "csat_responses": [1, 1]},
    "(none)": {"tickets": [1, 1], "tickets_resolved": [1, 0], "fcr_rate": [1.0, 0.0], "csat": [None, 100.0],
               "csat_responses": [0, 1]},
}
LEFT_OUT = {"deleted_tickets": 1, "tickets_without_organization": 1, "ratings_not_answered": 2,
            "ratings_without_account": 2}


def organization(oid: int, name: str, external_id: str | None, created: str,
                 fields: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"url": f"{URL}/organizations/{oid}.json", "id": oid, "name": name, "shared_tickets": False,
            "shared_comments": False, "external_id": external_id, "created_at": created, "updated_at": created,
            "domain_names": [], "details": "", "notes": "", "group_id": None, "tags": [],
            "organization_fields": fields or {}}


def ticket(tid: int, org: int | None, created: str, updated: str, status: str, assignee: int | None = 9001,
           channel: str = "email") -> dict[str, Any]:
    return {"url": f"{URL}/tickets/{tid}.json", "id": tid, "external_id": None,
            "via": {"channel": channel, "source": {"from": {}, "to": {}, "rel": None}},
            "created_at": created, "updated_at": updated, "generated_timestamp": 0, "type": "question",
            "subject": f"Help with case {tid}", "raw_subject": f"Help with case {tid}",
            "description": "The customer's first message.", "priority": "normal", "status": status,
            "recipient": None, "requester_id": 20000 + tid, "submitter_id": 20000 + tid, "assignee_id": assignee,
            "organization_id": org, "group_id": 360001, "collaborator_ids": [], "follower_ids": [],
            "email_cc_ids": [], "forum_topic_id": None, "problem_id": None, "has_incidents": False,
            "is_public": True, "due_at": None, "tags": [], "custom_fields": [], "satisfaction_rating": None,
            "sharing_agreement_ids": [], "custom_status_id": 1, "fields": [], "followup_ids": [],
            "ticket_form_id": 360000001, "brand_id": 360000002, "allow_channelback": False,
            "allow_attachments": True, "from_messaging_channel": False}


def metric(mid: int, tid: int, created: str, updated: str, solved: str | None, replies: int,
           reopens: int = 0) -> dict[str, Any]:
    minutes = {"calendar": 0, "business": 0}
    return {"url": f"{URL}/ticket_metrics/{mid}.json", "id": mid, "ticket_id": tid, "created_at": created,
            "updated_at": updated, "group_stations": 1, "assignee_stations": 1, "reopens": reopens,
            "replies": replies, "assignee_updated_at": updated, "requester_updated_at": created,
            "status_updated_at": updated, "initially_assigned_at": created, "assigned_at": created,
            "solved_at": solved, "latest_comment_added_at": updated,
            "reply_time_in_minutes": dict(minutes), "first_resolution_time_in_minutes": dict(minutes),
            "full_resolution_time_in_minutes": dict(minutes), "agent_wait_time_in_minutes": dict(minutes),
            "requester_wait_time_in_minutes": dict(minutes), "on_hold_time_in_minutes": dict(minutes),
            "custom_status_updated_at": updated}


def rating(rid: int, tid: int, score: str, created: str, updated: str, comment: str | None = None
           ) -> dict[str, Any]:
    return {"url": f"{URL}/satisfaction_ratings/{rid}.json", "id": rid, "assignee_id": 9001, "group_id": 360001,
            "requester_id": 20000 + tid, "ticket_id": tid, "score": score, "created_at": created,
            "updated_at": updated, "comment": comment, "reason": None, "reason_id": None, "reason_code": None}


def build() -> dict[str, list[dict[str, Any]]]:
    """The account's objects by type, in the order the API lists them."""
    orgs = [organization(101, "Acme Inc", "A-1", "2025-06-01T10:00:00Z"),
            organization(102, "Globex Corporation", "A-2", "2025-07-01T10:00:00Z"),
            organization(103, "Umbrella", None, "2025-08-01T10:00:00Z", {"crm_id": "A-3"})]
    # (id, org, created, status, solved_at, replies, reopens, channel, last update)
    rows: list[tuple[int, int | None, str, str, str | None, int, int, str, str]] = [
        (1, 101, "2026-01-05T09:00:00Z", "solved", "2026-01-06T10:00:00Z", 1, 0, "email", "2026-01-06T10:00:00Z"),
        (2, 101, "2026-01-10T12:00:00Z", "closed", "2026-01-12T08:00:00Z", 3, 0, "web", "2026-01-16T08:00:00Z"),
        (3, 102, "2026-01-15T15:30:00Z", "open", None, 0, 0, "email", "2026-01-15T15:30:00Z"),
        (4, 102, "2026-01-20T08:00:00Z", "solved", "2026-01-21T09:15:00Z", 0, 0, "api", "2026-01-21T09:15:00Z"),
        (5, 103, "2026-01-25T10:00:00Z", "solved", "2026-02-02T11:00:00Z", 1, 0, "web", "2026-02-02T11:00:00Z"),
        (6, 101, "2026-02-03T11:00:00Z", "pending", None, 2, 0, "email", "2026-02-05T11:00:00Z"),
        (7, 101, "2026-02-10T09:00:00Z", "deleted", None, 0, 0, "email", "2026-02-10T10:00:00Z"),
        (8, None, "2026-02-12T14:00:00Z", "solved", "2026-02-13T14:00:00Z", 1, 0, "email", "2026-02-13T14:00:00Z"),
        (9, 102, "2026-02-20T10:00:00Z", "solved", "2026-02-25T10:00:00Z", 2, 0, "web", "2026-02-25T10:00:00Z"),
        (10, 103, "2026-02-22T16:00:00Z", "hold", None, 1, 0, "email", "2026-02-23T16:00:00Z"),
        (11, 101, "2026-02-26T09:00:00Z", "open", "2026-02-27T09:00:00Z", 1, 1, "email", "2026-02-28T09:00:00Z"),
    ]
    tickets = [ticket(t, o, c, u, s, channel=ch) for t, o, c, s, _, _, _, ch, u in rows]
    metrics = [metric(30000 + t, t, c, u, solved, replies, reopens)
               for t, _, c, _, solved, replies, reopens, _, u in rows if t != 7]
    ratings = [rating(5001, 1, "good", "2026-01-07T09:00:00Z", "2026-01-07T09:00:00Z", "Quick and friendly"),
               rating(5002, 2, "bad", "2026-01-13T09:00:00Z", "2026-01-13T09:00:00Z", "Took two weeks"),
               rating(5003, 4, "good", "2026-01-22T09:00:00Z", "2026-01-22T09:00:00Z"),
               rating(5004, 5, "good", "2026-02-02T12:00:00Z", "2026-02-03T09:00:00Z", ""),
               rating(5005, 6, "offered", "2026-02-05T12:00:00Z", "2026-02-05T12:00:00Z"),
               rating(5006, 8, "good", "2026-02-14T09:00:00Z", "2026-02-14T09:00:00Z"),
               rating(5007, 9, "bad", "2026-02-26T09:00:00Z", "2026-02-26T09:00:00Z", "Not fixed"),
               rating(5008, 3, "unoffered", "2026-01-15T16:00:00Z", "2026-01-15T16:00:00Z"),
               rating(5009, 7, "good", "2026-02-10T09:30:00Z", "2026-02-10T09:30:00Z")]
    return {"organizations": orgs, "tickets": tickets, "ticket_metrics": metrics, "satisfaction_ratings": ratings}


def _line(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":")) + "\n"


def write(directory: Path) -> Path:
    """The import directory, each file in another of the shapes ``import zendesk`` reads.

    organizations.json: one pretty-printed page (offset paging, ``next_page`` null); tickets.json: three
    pages of the cursor export as JSON lines; ticket_metrics.json: JSON lines of objects;
    satisfaction_ratings.json: one page on one line.
    """
    objs = build()
    directory.mkdir(parents=True, exist_ok=True)
    page = {"organizations": objs["organizations"], "next_page": None, "previous_page": None,
            "count": len(objs["organizations"])}
    (directory / "organizations.json").write_text(json.dumps(page, indent=2) + "\n", encoding="utf-8")
    tickets = objs["tickets"]
    pages = [tickets[0:4], tickets[4:8], tickets[8:]]
    text = ""
    for i, part in enumerate(pages):
        cursor = f"MTc2NzYwMDAwMC4wfHw{i}fA=="
        text += _line({"tickets": part, "after_url": f"{URL}/incremental/tickets/cursor.json?cursor={cursor}",
                       "after_cursor": cursor, "before_url": None, "before_cursor": None,
                       "end_of_stream": i == len(pages) - 1})
    (directory / "tickets.json").write_text(text, encoding="utf-8")
    (directory / "ticket_metrics.json").write_text("".join(_line(m) for m in objs["ticket_metrics"]),
                                                   encoding="utf-8")
    (directory / "satisfaction_ratings.json").write_text(
        _line({"satisfaction_ratings": objs["satisfaction_ratings"], "next_page": None, "previous_page": None,
               "count": len(objs["satisfaction_ratings"])}), encoding="utf-8")
    return directory


if __name__ == "__main__":
    write(Path(__file__).resolve().parents[2] / "fixtures" / "zendesk" / "company")
