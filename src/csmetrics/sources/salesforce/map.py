"""Map raw Salesforce Account records to the contract table ``accounts`` (docs/crm.md#salesforce).

A pure function of the raw records: DuckDB SQL over the JSON text of each
record. Salesforce is a system of record for account attributes (the
connector's ``authority``), as HubSpot is: its non-empty values replace those
another source stored for the same ``account_id``, in either order.

Rules, each with its worked example (tests/sources/salesforce/ test every one):

**S1 account per Account.** ``account_id`` = the record's ``Id``
(``0015g00000AbCdEAAV``), ``name`` = ``Name`` (trimmed). An Account
``0015g00000AcmeAAA`` named "Acme Analytics" is the account
0015g00000AcmeAAA named "Acme Analytics".

**S2 created_at.** The UTC day of ``CreatedDate``:
``"2025-01-06T23:30:00.000-0200"`` -> 2025-01-07.

**S3 csm = the owner's name.** ``csm`` = ``Owner.Name`` (the Account owner,
a User, queried through the relationship): ``"Owner": {"Name": "Ana Silva"}``
-> csm "Ana Silva"; a record whose ``Owner`` is null or has no name has an
empty csm (group ``(none)``).

**S4 segment and industry.** ``segment`` = the field named by
``[sources.salesforce] segment_field`` (default ``Type``, the standard Account
Type picklist, e.g. "Customer - Direct"; set it to a custom field such as
``Segment__c``); ``industry`` = ``Industry`` ("Banking").

**S5 extra fields.** Each field of ``[sources.salesforce] fields`` becomes
an account column named after the field, lower-cased, with ``__c`` dropped
and dots as underscores: ``Tier__c`` = "Gold" -> column ``tier`` = Gold;
``Rating`` -> ``rating``; ``Parent.Name`` -> ``parent_name``. A field named
like a contract column (``Region__c`` -> ``region``, ``Seats__c`` ->
``seats``) fills that column.

**S6 deleted Accounts are left out.** A record with ``IsDeleted: true`` (in
the recycle bin: the sync queries ``queryAll``, which returns them) is no
account; it is counted as ``count:deleted_accounts``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from csmetrics.io.validate import lit, q

SOURCE = "salesforce"

MAPPED = ("account_id", "name", "created_at", "segment", "csm", "industry", "source")
BASE_FIELDS = ("Id", "Name", "CreatedDate", "Industry", "Owner.Name", "IsDeleted", "SystemModstamp")
"""Fields every query selects (the segment and extra fields are added)."""


def column_name(field: str) -> str:
    """The account column of an extra field (rule S5): ``Tier__c`` -> ``tier``, ``Parent.Name`` -> ``parent_name``."""
    name = re.sub(r"__c$", "", field.strip()).replace(".", "_")
    return re.sub(r"__c_", "_", name).lower()


@dataclass(frozen=True)
class MapSettings:
    segment_field: str = "Type"
    fields: tuple[str, ...] = ()

    @property
    def wanted(self) -> tuple[str, ...]:
        """The fields the query selects (and the mapping reads), in a stable order."""
        return tuple(dict.fromkeys((*BASE_FIELDS, self.segment_field, *self.fields)))


def _field(path: str, col: str = "body") -> str:
    """A (dotted) field as trimmed text, NULL when absent, null or empty."""
    json_path = "$." + ".".join('"' + p.replace('"', '\\"') + '"' for p in path.split("."))
    return f"NULLIF(trim(json_extract_string({col}, {lit(json_path)})), '')"


def map_tables(con: duckdb.DuckDBPyConnection, raw: str, settings: MapSettings) -> dict[str, str]:
    """Build the temp table ``salesforce_accounts`` from ``raw`` (type, id, parent, created, body)."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE sf_records AS
        SELECT id, body, coalesce(TRY_CAST(json_extract(body, '$.IsDeleted') AS BOOLEAN), false) AS deleted
        FROM {raw} WHERE type = 'accounts'
    """)
    created = f"make_timestamp(epoch_us(TRY_CAST({_field('CreatedDate')} AS TIMESTAMPTZ)))"
    extras = "".join(f", {_field(f)} AS {q(column_name(f))}" for f in settings.fields)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE salesforce_accounts AS
        SELECT id AS account_id, {_field('Name')} AS name, CAST({created} AS DATE) AS created_at,
               {_field(settings.segment_field)} AS segment, {_field('Owner.Name')} AS csm,
               {_field('Industry')} AS industry, {lit(SOURCE)} AS source{extras}
        FROM sf_records WHERE NOT deleted
        ORDER BY account_id
    """)
    return {"accounts": "salesforce_accounts"}


def deleted_accounts(con: duckdb.DuckDBPyConnection) -> int:
    """Records left out by rule S6 (after :func:`map_tables`)."""
    row = con.execute("SELECT count(*) FROM sf_records WHERE deleted").fetchone()
    return int(row[0]) if row else 0


__all__ = ["BASE_FIELDS", "MAPPED", "SOURCE", "MapSettings", "column_name", "deleted_accounts", "map_tables"]
