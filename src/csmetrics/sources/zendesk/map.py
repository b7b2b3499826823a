"""Map raw Zendesk objects to the contract tables accounts, tickets and survey_responses (docs/zendesk.md).

A pure function of the raw objects: DuckDB SQL over the JSON text of each
object. Times are Zendesk's ISO 8601 UTC texts.

Rules, each with its worked example (tests/sources/zendesk/ test every one):

**A1 account per organization.** Each organization becomes an accounts row:
``account_id`` = its ``external_id`` when set (Zendesk's external_id is where
teams keep the CRM company id), else its id as text; name, ``created_at`` (as
a date) and ``zendesk_organization_id`` are copied, no CSM. Organization 101
"Acme Inc" with external_id "A-1" -> account A-1; organization 103 "Umbrella"
with no external_id -> account "103". ``[sources.zendesk] account_id`` picks
the key: ``"external_id"`` (default), ``"id"``, or
``"organization_fields.<key>"`` (an organization field; an organization
without a value falls back to its id). Organizations sharing a key become one
account (the earliest created names it).

**A2 a CRM's account keeps its attributes.** An organization whose account_id
is already an account of another source (a CRM, a CSV ingest) is matched: that
account keeps its name and CSM, the organization only fills its empty
columns. One that matches none is an account of its own (organization name,
no CSM): its tickets count in totals and fall in the group ``(none)`` under
``--by csm``, and ``csmetrics sources`` names it unmatched. Acme Inc (A-1)
keeps the CRM's name "Acme" and CSM Alice; Umbrella (103) is unmatched.

**T1 deleted tickets are left out.** A ticket with status ``deleted`` makes
no tickets row (and none of its ratings count); it is counted as
``count:deleted_tickets`` in ``csmetrics sources``.

**T2 a ticket needs an organization.** A ticket's account is its
organization's (rule A1). A ticket with no ``organization_id``, or one naming
an organization not landed, cannot be given an account (its requester's
organization is not on the ticket either): it is kept as a raw object, left
out of the tickets table and counted as
``count:tickets_without_organization``, with a note after each sync or import.

**T3 opened and resolved.** opened_at = ``created_at``; resolved_at = the
ticket metric's ``solved_at`` when the status is ``solved`` or ``closed``,
else empty. A ticket created 2026-01-05T09:00Z, solved, with solved_at
2026-01-06T10:00Z: resolved 6 January. One reopened (status ``open`` again)
with a solved_at from its first solve: unresolved.

**T4 contacts.** contacts = the metric's ``replies`` (public agent replies),
at least 1 when resolved (a ticket solved without a public reply was handled
in one contact), empty when unresolved with no reply. Solved with 0 replies
-> 1 (first contact resolution); solved with 3 -> 3; open with 0 -> empty;
pending with 2 -> 2.

**T5 agent and channel.** agent = ``assignee_id`` as text (users are not
fetched, so no agent names); channel = ``via.channel`` (``email``, ``web``,
``api``...).

**S1 CSAT answers.** A satisfaction rating scoring ``good`` is the top of
the workspace's CSAT scale (``csat_scale_max``, default 5), ``bad`` its
lowest (1), so csat = good / (good + bad) x 100 whenever ``csat_positive_min``
is above 1: 3 good and 1 bad -> csat 75. ``offered`` and ``unoffered``
ratings are not answers (counted as ``count:ratings_not_answered``).

**S2 a rating's row.** survey = ``csat``, response_id = the rating id,
responded_at = its ``updated_at`` (when the answer was last given), comment =
its comment, ticket_id = its ticket's id, respondent = its ``requester_id``;
the account is its ticket's (rules A1, T2). A rating whose ticket is not
landed, has no organization or is deleted is left out and counted as
``count:ratings_without_account``.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from csmetrics.io.validate import lit

SOURCE = "zendesk"


@dataclass(frozen=True)
class MapSettings:
    account_key: str = "external_id"
    """``external_id``, ``id`` or ``organization_fields.<key>`` (rule A1)."""
    csat_scale_max: float = 5.0
    """The workspace's CSAT scale top: a ``good`` rating's score (rule S1)."""


def _s(path: str, col: str = "body") -> str:
    return f"json_extract_string({col}, {lit(path)})"


def _ts(path: str, col: str = "body") -> str:
    """A time as a UTC TIMESTAMP (what validation stores), whatever offset the text carries."""
    return f"make_timestamp(epoch_us(TRY_CAST({_s(path, col)} AS TIMESTAMPTZ)))"


def _i(path: str, col: str = "body") -> str:
    return f"TRY_CAST({_s(path, col)} AS BIGINT)"


def _key_sql(key: str) -> str:
    if key == "id":
        return "id"
    path = "$.external_id" if key == "external_id" else (
        "$.organization_fields." + '"' + key.removeprefix("organization_fields.").replace('"', '\\"') + '"')
    return f"coalesce(NULLIF(trim({_s(path)}), ''), id)"


def map_tables(con: duckdb.DuckDBPyConnection, raw: str, settings: MapSettings) -> dict[str, str]:
    """Build temp tables ``zendesk_accounts``, ``zendesk_tickets``, ``zendesk_survey_responses`` from ``raw``.

    ``raw`` names a relation (type, id, parent, created, body) of raw objects;
    the connection's session time zone must be UTC. Returns table -> temp
    table name. Also leaves ``z_all_tickets`` and ``z_ratings`` for the counts.
    """
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE z_orgs AS
        SELECT id AS org_id, {_key_sql(settings.account_key)} AS account_id, created, body
        FROM {raw} WHERE type = 'organizations'
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE zendesk_accounts AS
        SELECT account_id, {_s('$.name')} AS name, CAST({_ts('$.created_at')} AS DATE) AS created_at,
               {lit(SOURCE)} AS source, org_id AS zendesk_organization_id
        FROM (SELECT *, row_number() OVER (PARTITION BY account_id ORDER BY created, TRY_CAST(org_id AS BIGINT),
                                           org_id) AS rk FROM z_orgs)
        WHERE rk = 1 ORDER BY account_id
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE z_metrics AS
        SELECT * EXCLUDE (rk) FROM (
            SELECT {_s('$.ticket_id')} AS ticket_id, {_ts('$.solved_at')} AS solved_at,
                   {_i('$.replies')} AS replies,
                   row_number() OVER (PARTITION BY {_s('$.ticket_id')}
                                      ORDER BY {_ts('$.updated_at')} DESC NULLS LAST, TRY_CAST(id AS BIGINT) DESC)
                       AS rk
            FROM {raw} WHERE type = 'ticket_metrics') WHERE rk = 1
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE z_all_tickets AS
        SELECT t.id AS ticket_id, {_s('$.status', 't.body')} AS status, o.account_id,
               {_s('$.organization_id', 't.body')} AS org_id,
               {_ts('$.created_at', 't.body')} AS opened_at,
               CASE WHEN {_s('$.status', 't.body')} IN ('solved', 'closed') THEN m.solved_at END AS resolved_at,
               m.replies, {_s('$.assignee_id', 't.body')} AS agent, {_s('$.via.channel', 't.body')} AS channel
        FROM {raw} t
        LEFT JOIN z_orgs o ON o.org_id = {_s('$.organization_id', 't.body')}
        LEFT JOIN z_metrics m ON m.ticket_id = t.id
        WHERE t.type = 'tickets'
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE zendesk_tickets AS
        SELECT ticket_id, account_id, opened_at, resolved_at,
               CAST(CASE WHEN resolved_at IS NOT NULL THEN greatest(coalesce(replies, 0), 1)
                         WHEN coalesce(replies, 0) > 0 THEN replies END AS BIGINT) AS contacts,
               agent, channel, {lit(SOURCE)} AS source, org_id AS zendesk_organization_id
        FROM z_all_tickets
        WHERE status <> 'deleted' AND account_id IS NOT NULL
        ORDER BY TRY_CAST(ticket_id AS BIGINT), ticket_id
    """)
    scale = float(settings.csat_scale_max)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE z_ratings AS
        SELECT r.id AS response_id, {_s('$.score', 'r.body')} AS score_text, t.account_id,
               t.status AS ticket_status, {_s('$.ticket_id', 'r.body')} AS ticket_id, r.body
        FROM {raw} r LEFT JOIN z_all_tickets t ON t.ticket_id = {_s('$.ticket_id', 'r.body')}
        WHERE r.type = 'satisfaction_ratings'
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE zendesk_survey_responses AS
        SELECT response_id, account_id, 'csat' AS survey,
               CASE score_text WHEN 'good' THEN {scale!r} ELSE 1.0 END AS score,
               {_ts('$.updated_at')} AS responded_at, NULLIF({_s('$.comment')}, '') AS comment, ticket_id,
               {_s('$.requester_id')} AS respondent, {lit(SOURCE)} AS source
        FROM z_ratings
        WHERE score_text IN ('good', 'bad') AND account_id IS NOT NULL AND ticket_status <> 'deleted'
        ORDER BY TRY_CAST(response_id AS BIGINT), response_id
    """)
    return {"accounts": "zendesk_accounts", "tickets": "zendesk_tickets",
            "survey_responses": "zendesk_survey_responses"}


def left_out(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Records kept as raw objects but not mapped (rules T1, T2, S1, S2), after :func:`map_tables`."""
    row = con.execute("""
        SELECT count(*) FILTER (WHERE status = 'deleted'),
               count(*) FILTER (WHERE status <> 'deleted' AND account_id IS NULL)
        FROM z_all_tickets
    """).fetchone()
    rated = con.execute("""
        SELECT count(*) FILTER (WHERE score_text NOT IN ('good', 'bad')),
               count(*) FILTER (WHERE score_text IN ('good', 'bad')
                                AND (account_id IS NULL OR ticket_status = 'deleted'))
        FROM z_ratings
    """).fetchone()
    return {"deleted_tickets": int(row[0] if row else 0), "tickets_without_organization": int(row[1] if row else 0),
            "ratings_not_answered": int(rated[0] if rated else 0),
            "ratings_without_account": int(rated[1] if rated else 0)}


__all__ = ["SOURCE", "MapSettings", "left_out", "map_tables"]
