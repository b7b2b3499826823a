"""Map raw HubSpot companies and owners to the contract table ``accounts`` (docs/crm.md#hubspot).

A pure function of the raw objects: DuckDB SQL over the JSON text of each
object. HubSpot is a system of record for account attributes (the connector's
``authority``): when a company's id is an account another source stored first
(a help-desk organization, a Stripe customer keyed by ``metadata.account_id``),
HubSpot's non-empty values replace theirs, in whichever order the sources
were synced (module docs of :mod:`csmetrics.sources.workspace`).

Rules, each with its worked example (tests/sources/hubspot/ test every one):

**H1 account per company.** ``account_id`` = the company's ``id``
(``"18200000001"``), ``name`` = ``properties.name`` (trimmed; an empty name is
empty), ``domain`` = ``properties.domain``. A company with ``id`` 18200000001
and ``properties.name`` "Acme Analytics" is the account 18200000001 named
"Acme Analytics".

**H2 created_at.** The UTC day of ``properties.createdate``, else of the
object's ``createdAt``: ``"2025-01-06T23:30:00.000Z"`` -> 2025-01-06 (a
createdate in epoch milliseconds, as older exports hold, is read too).

**H3 csm = the owner's name.** ``properties.hubspot_owner_id`` is looked up
in the owners (``/crm/v3/owners``, active and archived): csm = "firstName
lastName" trimmed, the email when both are empty. Owner 61000001 = Ana
Silva -> csm "Ana Silva". A company without an owner, or whose owner is not
among the owners, has an empty csm (group ``(none)`` in ``--by csm``).

**H4 segment and industry.** ``segment`` = the property named by
``[sources.hubspot] segment_property`` (default ``segment``, a custom property:
HubSpot has no built-in segment); ``industry`` = ``properties.industry`` as
HubSpot stores it (``COMPUTER_SOFTWARE``). With ``segment_property =
"hs_ideal_customer_profile"``, a company with ``tier_1`` there has segment
``tier_1``.

**H5 extra properties.** Each property of ``[sources.hubspot] properties``
becomes an account column of the same name, usable with ``--by``:
``properties = ["tier"]`` and ``"tier": "gold"`` -> column ``tier`` = gold. A
property named like a contract column (``plan``, ``region``, ``seats``) fills
that column. Empty texts are empty (null).

**H6 archived companies are left out.** A company with ``archived: true``
(in HubSpot's recycling bin) is no account; it is counted as
``count:archived_companies`` in ``csmetrics sources``.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from csmetrics.io.validate import lit, q

SOURCE = "hubspot"

MAPPED = ("account_id", "name", "domain", "created_at", "segment", "csm", "industry", "source")
"""Account columns the rules H1-H4 fill; an extra property may not be named like one of them."""


@dataclass(frozen=True)
class MapSettings:
    segment_property: str = "segment"
    properties: tuple[str, ...] = ()

    @property
    def wanted(self) -> tuple[str, ...]:
        """The company properties the mapping reads (and a sync asks for), in a stable order."""
        base = ("name", "domain", "createdate", "hubspot_owner_id", "industry", self.segment_property)
        return tuple(dict.fromkeys(base + self.properties))


def _prop(name: str, col: str = "body") -> str:
    """A property as trimmed text, NULL when absent, null or empty."""
    path = '$.properties."' + name.replace('"', '\\"') + '"'
    return f"NULLIF(trim(json_extract_string({col}, {lit(path)})), '')"


def _time(text_sql: str) -> str:
    """An ISO 8601 text or epoch milliseconds as a UTC TIMESTAMP (rule H2)."""
    return (f"CASE WHEN regexp_full_match({text_sql}, '[0-9]+') THEN make_timestamp(CAST({text_sql} AS BIGINT) * 1000) "
            f"ELSE make_timestamp(epoch_us(TRY_CAST({text_sql} AS TIMESTAMPTZ))) END")


def map_tables(con: duckdb.DuckDBPyConnection, raw: str, settings: MapSettings) -> dict[str, str]:
    """Build the temp table ``hubspot_accounts`` from ``raw`` (type, id, parent, created, body).

    The connection's session time zone must be UTC. Returns {"accounts": "hubspot_accounts"}.
    """
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE h_owners AS
        SELECT owner_id, csm FROM (
            SELECT id AS owner_id,
                   coalesce(NULLIF(trim(concat_ws(' ', NULLIF(trim(json_extract_string(body, '$.firstName')), ''),
                                                  NULLIF(trim(json_extract_string(body, '$.lastName')), ''))), ''),
                            NULLIF(trim(json_extract_string(body, '$.email')), '')) AS csm,
                   row_number() OVER (PARTITION BY id ORDER BY
                       coalesce(TRY_CAST(json_extract(body, '$.archived') AS BOOLEAN), false), body) AS rk
            FROM {raw} WHERE type = 'owners')
        WHERE rk = 1
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE h_companies AS
        SELECT id, body, coalesce(TRY_CAST(json_extract(body, '$.archived') AS BOOLEAN), false) AS archived
        FROM {raw} WHERE type = 'companies'
    """)
    created = _time(_prop("createdate"))
    created_at = _time("NULLIF(trim(json_extract_string(body, '$.createdAt')), '')")
    extras = "".join(f", {_prop(p)} AS {q(p)}" for p in settings.properties)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE hubspot_accounts AS
        SELECT c.id AS account_id, {_prop('name')} AS name, {_prop('domain')} AS domain,
               CAST(coalesce({created}, {created_at}) AS DATE) AS created_at,
               {_prop(settings.segment_property)} AS segment, o.csm AS csm, {_prop('industry')} AS industry,
               {lit(SOURCE)} AS source{extras}
        FROM h_companies c LEFT JOIN h_owners o ON o.owner_id = {_prop('hubspot_owner_id')}
        WHERE NOT c.archived
        ORDER BY account_id
    """)
    return {"accounts": "hubspot_accounts"}


def archived_companies(con: duckdb.DuckDBPyConnection) -> int:
    """Companies left out by rule H6 (after :func:`map_tables`)."""
    row = con.execute("SELECT count(*) FROM h_companies WHERE archived").fetchone()
    return int(row[0]) if row else 0


def unknown_owners(con: duckdb.DuckDBPyConnection) -> int:
    """Mapped companies whose owner id is not among the owners (their csm is empty, rule H3)."""
    row = con.execute(f"""
        SELECT count(*) FROM h_companies c
        WHERE NOT c.archived AND {_prop('hubspot_owner_id', 'c.body')} IS NOT NULL
          AND {_prop('hubspot_owner_id', 'c.body')} NOT IN (SELECT owner_id FROM h_owners)
    """).fetchone()
    return int(row[0]) if row else 0


__all__ = ["MAPPED", "SOURCE", "MapSettings", "archived_companies", "map_tables", "unknown_owners"]
