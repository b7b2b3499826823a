"""The mapping rules of csmetrics.sources.zendesk.map, one by one, each with its docstring example."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csmetrics.schema.errors import DataError
from csmetrics.sources.workspace import RAW_COLUMNS
from csmetrics.sources.zendesk.map import MapSettings, left_out, map_tables
from csmetrics.sources.zendesk.objects import to_raw
from csmetrics.sources.zendesk.pipeline import ZendeskSettings
from tests.sources.zendesk.company import metric, organization, rating, ticket

ORGS = [organization(101, "Acme Inc", "A-1", "2025-06-01T10:00:00Z"),
        organization(103, "Umbrella", None, "2025-08-01T10:00:00Z", {"crm_id": "A-3"})]


def mapped(objs: dict[str, list[dict[str, Any]]], settings: MapSettings | None = None
           ) -> tuple[dict[str, list[dict[str, Any]]], dict[str, int]]:
    """The contract rows (by table, as dicts keyed by column) and the left-out counts of some raw objects."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE TABLE raw ({RAW_COLUMNS})")
    for kind, items in objs.items():
        for o in items:
            r = to_raw(kind, o)
            con.execute("INSERT INTO raw VALUES (?, ?, ?, ?, ?)", [r.type, r.id, r.parent, r.created, r.body])
    tables = map_tables(con, "raw", settings or MapSettings())
    out = {}
    for table, temp in tables.items():
        cur = con.execute(f"SELECT * FROM {temp}")
        cols = [d[0] for d in cur.description]
        out[table] = [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
    counts = left_out(con)
    con.close()
    return out, counts


def one_ticket(status: str, solved: str | None, replies: int | None, org: int | None = 101) -> dict[str, Any]:
    t = ticket(1, org, "2026-01-05T09:00:00Z", "2026-01-06T10:00:00Z", status)
    objs: dict[str, list[dict[str, Any]]] = {"organizations": ORGS, "tickets": [t], "ticket_metrics": []}
    if replies is not None:
        objs["ticket_metrics"].append(metric(30001, 1, t["created_at"], t["updated_at"], solved, replies))
    rows, _ = mapped(objs)
    return rows["tickets"][0]


def test_a1_external_id_names_the_account_else_the_organization_id() -> None:
    rows, _ = mapped({"organizations": ORGS})
    accounts = {a["account_id"]: a for a in rows["accounts"]}
    assert set(accounts) == {"A-1", "103"}
    assert accounts["A-1"]["name"] == "Acme Inc" and accounts["A-1"]["zendesk_organization_id"] == "101"
    assert str(accounts["103"]["created_at"]) == "2025-08-01" and accounts["103"]["source"] == "zendesk"


def test_a1_the_key_can_be_the_id_or_an_organization_field() -> None:
    rows, _ = mapped({"organizations": ORGS}, MapSettings("id"))
    assert sorted(a["account_id"] for a in rows["accounts"]) == ["101", "103"]
    rows, _ = mapped({"organizations": ORGS}, MapSettings("organization_fields.crm_id"))
    assert sorted(a["account_id"] for a in rows["accounts"]) == ["101", "A-3"]  # 101 has no crm_id: its id


def test_a1_organizations_sharing_a_key_are_one_account_named_by_the_earliest() -> None:
    twin = organization(105, "Acme EMEA", "A-1", "2025-09-01T10:00:00Z")
    t = ticket(1, 105, "2026-01-05T09:00:00Z", "2026-01-05T09:00:00Z", "open")
    rows, _ = mapped({"organizations": [*ORGS, twin], "tickets": [t]})
    assert [(a["account_id"], a["name"]) for a in rows["accounts"]] == [("103", "Umbrella"), ("A-1", "Acme Inc")]
    assert rows["tickets"][0]["account_id"] == "A-1"


@pytest.mark.parametrize(("text", "key"), [
    ('account_id = "id"', "id"), ('account_id = "organization_fields.crm_id"', "organization_fields.crm_id"),
    ("", "external_id")])
def test_a1_the_key_is_a_setting(tmp_path: Path, text: str, key: str) -> None:
    toml = tmp_path / "csmetrics.toml"
    toml.write_text(f'[sources.zendesk]\nsubdomain = "acme"\n{text}\n', encoding="utf-8")
    s = ZendeskSettings.load(toml)
    assert s.account_id == key and s.subdomain == "acme"


def test_a1_a_bad_key_setting_names_the_file_line_and_key(tmp_path: Path) -> None:
    toml = tmp_path / "csmetrics.toml"
    toml.write_text('[sources.zendesk]\n\naccount_id = "name"\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"csmetrics.toml line 3, setting sources.zendesk.account_id: 'name' "
                                        r"is not external_id, id or organization_fields.<key>"):
        ZendeskSettings.load(toml)


def test_t1_deleted_tickets_are_left_out_and_counted() -> None:
    t = ticket(7, 101, "2026-02-10T09:00:00Z", "2026-02-10T10:00:00Z", "deleted")
    rows, counts = mapped({"organizations": ORGS, "tickets": [t]})
    assert rows["tickets"] == [] and counts["deleted_tickets"] == 1


def test_t2_a_ticket_without_an_organization_is_left_out_and_counted() -> None:
    no_org = ticket(8, None, "2026-02-12T14:00:00Z", "2026-02-13T14:00:00Z", "solved")
    unknown = ticket(9, 999, "2026-02-12T14:00:00Z", "2026-02-13T14:00:00Z", "open")
    rows, counts = mapped({"organizations": ORGS, "tickets": [no_org, unknown]})
    assert rows["tickets"] == [] and counts["tickets_without_organization"] == 2


def test_t3_resolved_at_is_solved_at_when_solved_or_closed() -> None:
    solved = one_ticket("solved", "2026-01-06T10:00:00Z", 1)
    assert str(solved["opened_at"]) == "2026-01-05 09:00:00" and str(solved["resolved_at"]) == "2026-01-06 10:00:00"
    assert str(one_ticket("closed", "2026-01-06T10:00:00Z", 1)["resolved_at"]) == "2026-01-06 10:00:00"


@pytest.mark.parametrize("status", ["new", "open", "pending", "hold"])
def test_t3_a_ticket_not_solved_is_unresolved_even_with_a_solved_at_from_before_a_reopen(status: str) -> None:
    assert one_ticket(status, "2026-01-06T10:00:00Z", 1)["resolved_at"] is None


@pytest.mark.parametrize(("status", "solved", "replies", "contacts"), [
    ("solved", "2026-01-06T10:00:00Z", 0, 1),  # solved without a public reply: at least 1
    ("solved", "2026-01-06T10:00:00Z", 3, 3),
    ("open", None, 0, None),  # unresolved, no reply: unknown
    ("pending", None, 2, 2),
    ("solved", None, None, None),  # no metrics at all: unresolved (no solved_at), no reply known
])
def test_t4_contacts_are_replies_at_least_1_when_resolved_empty_when_unresolved_without_reply(
        status: str, solved: str | None, replies: int | None, contacts: int | None) -> None:
    assert one_ticket(status, solved, replies)["contacts"] == contacts


def test_t5_agent_is_the_assignee_id_and_channel_the_via_channel() -> None:
    t = ticket(1, 101, "2026-01-05T09:00:00Z", "2026-01-05T09:00:00Z", "open", assignee=9002, channel="web")
    unassigned = ticket(2, 101, "2026-01-05T09:00:00Z", "2026-01-05T09:00:00Z", "new", assignee=None)
    rows, _ = mapped({"organizations": ORGS, "tickets": [t, unassigned]})
    got = {r["ticket_id"]: (r["agent"], r["channel"]) for r in rows["tickets"]}
    assert got == {"1": ("9002", "web"), "2": (None, "email")}


def test_s1_good_is_the_top_of_the_scale_bad_the_lowest_and_offered_unoffered_are_not_answers() -> None:
    t = ticket(1, 101, "2026-01-05T09:00:00Z", "2026-01-06T10:00:00Z", "solved")
    ratings = [rating(1, 1, "good", "2026-01-07T09:00:00Z", "2026-01-07T09:00:00Z"),
               rating(2, 1, "bad", "2026-01-07T09:00:00Z", "2026-01-07T09:00:00Z"),
               rating(3, 1, "offered", "2026-01-07T09:00:00Z", "2026-01-07T09:00:00Z"),
               rating(4, 1, "unoffered", "2026-01-07T09:00:00Z", "2026-01-07T09:00:00Z")]
    for scale in (5.0, 10.0):
        rows, counts = mapped({"organizations": ORGS, "tickets": [t], "satisfaction_ratings": ratings},
                              MapSettings(csat_scale_max=scale))
        assert {r["response_id"]: r["score"] for r in rows["survey_responses"]} == {"1": scale, "2": 1.0}
        assert counts["ratings_not_answered"] == 2


def test_s2_a_ratings_row_comes_through_its_ticket() -> None:
    t = ticket(5, 103, "2026-01-25T10:00:00Z", "2026-02-02T11:00:00Z", "solved")
    deleted = ticket(7, 101, "2026-02-10T09:00:00Z", "2026-02-10T10:00:00Z", "deleted")
    ratings = [rating(5004, 5, "good", "2026-02-02T12:00:00Z", "2026-02-03T09:00:00Z", "Thanks!"),
               rating(5009, 7, "good", "2026-02-10T09:30:00Z", "2026-02-10T09:30:00Z"),
               rating(5010, 42, "bad", "2026-02-10T09:30:00Z", "2026-02-10T09:30:00Z")]  # ticket not landed
    rows, counts = mapped({"organizations": ORGS, "tickets": [t, deleted], "satisfaction_ratings": ratings})
    (row,) = rows["survey_responses"]
    assert row == {"response_id": "5004", "account_id": "103", "survey": "csat", "score": 5.0,
                   "responded_at": row["responded_at"], "comment": "Thanks!", "ticket_id": "5",
                   "respondent": "20005", "source": "zendesk"}
    assert str(row["responded_at"]) == "2026-02-03 09:00:00"  # updated_at, not created_at
    assert counts["ratings_without_account"] == 2


STATUSES = ["new", "open", "pending", "hold", "solved", "closed", "deleted"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(STATUSES), st.sampled_from([101, 103, None, 999]),
                          st.one_of(st.none(), st.integers(0, 5)), st.booleans(),
                          st.sampled_from(["good", "bad", "offered", "unoffered", None])),
                min_size=1, max_size=12))
def test_every_ticket_and_rating_is_mapped_or_counted(
        spec: list[tuple[str, int | None, int | None, bool, str | None]]) -> None:
    tickets, metrics, ratings = [], [], []
    for i, (status, org, replies, has_solved_at, score) in enumerate(spec, start=1):
        tickets.append(ticket(i, org, "2026-01-05T09:00:00Z", "2026-01-06T10:00:00Z", status))
        if replies is not None:
            metrics.append(metric(30000 + i, i, "2026-01-05T09:00:00Z", "2026-01-06T10:00:00Z",
                                  "2026-01-06T10:00:00Z" if has_solved_at else None, replies))
        if score is not None:
            ratings.append(rating(5000 + i, i, score, "2026-01-07T09:00:00Z", "2026-01-07T09:00:00Z"))
    rows, counts = mapped({"organizations": ORGS, "tickets": tickets, "ticket_metrics": metrics,
                           "satisfaction_ratings": ratings})
    assert len(rows["tickets"]) + counts["deleted_tickets"] + counts["tickets_without_organization"] == len(spec)
    answered = sum(1 for s in spec if s[4] in ("good", "bad"))
    assert len(rows["survey_responses"]) + counts["ratings_without_account"] == answered
    assert counts["ratings_not_answered"] == sum(1 for s in spec if s[4] in ("offered", "unoffered"))
    for r in rows["tickets"]:
        status, _, replies, has_solved_at, _ = spec[int(r["ticket_id"]) - 1]
        resolved = status in ("solved", "closed") and replies is not None and has_solved_at
        assert (r["resolved_at"] is not None) == resolved
        if resolved:
            assert r["contacts"] == max(replies or 0, 1)
        else:
            assert r["contacts"] == (replies if replies else None)
