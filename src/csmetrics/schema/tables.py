"""Table contracts of SPEC section 4: columns, types, keys, enums, ranges.

One place declares every input table. The loader validates against these
declarations and the metrics read the typed columns they describe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ColumnType = Literal["string", "date", "timestamp", "double", "integer"]


@dataclass(frozen=True)
class Column:
    """One column of an input table.

    ``type`` ``date`` accepts ISO dates or timestamps (a timestamp counts on
    its UTC date); ``timestamp`` is stored as a UTC timestamp without zone.
    """

    name: str
    type: ColumnType = "string"
    required: bool = False
    default: str | float | int | None = None
    choices: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False
    lower_case: bool = False

    @property
    def short(self) -> str:
        """What a cell must hold, in a few words (for an empty required cell)."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        return {
            "string": "a text",
            "date": "a date, YYYY-MM-DD",
            "timestamp": "an ISO 8601 timestamp",
            "double": "a number",
            "integer": "a whole number",
        }[self.type]

    @property
    def expected(self) -> str:
        """Human description of what a cell must hold, for error messages."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        base = {
            "string": "a non-empty text",
            "date": "a date (expected YYYY-MM-DD)",
            "timestamp": "a timestamp (expected ISO 8601, e.g. 2025-01-31T14:00:00Z)",
            "double": "a number",
            "integer": "a whole number",
        }[self.type]
        if self.min is not None and self.max is not None:
            return f"{base} between {self.min:g} and {self.max:g}"
        if self.min is not None:
            return f"{base} {'>' if self.min_exclusive else '>='} {self.min:g}"
        return base


@dataclass(frozen=True)
class ForeignKey:
    column: str
    table: str
    ref_column: str


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    # (start column, end column): end must not be before start.
    ordered: tuple[tuple[str, str], ...] = ()
    description: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)


def _fk_account() -> ForeignKey:
    return ForeignKey("account_id", "accounts", "account_id")


INTERVALS = ("month", "quarter", "year", "week")
CHARGE_KINDS = ("upsell", "cross_sell", "add_on", "loyalty", "purchase", "other")
SURVEYS = ("nps", "csat", "ces")
RENEWAL_OUTCOMES = ("renewed", "churned", "pending")
COST_CATEGORIES = ("payroll", "programs", "services", "training", "marketing", "tools", "other")

TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        TableSpec(
            "accounts",
            (
                Column("account_id", required=True),
                Column("name"),
                Column("created_at", "date"),
                Column("segment"),
                Column("csm"),
                Column("plan"),
                Column("region"),
                Column("industry"),
                Column("seats", "integer", min=0),
            ),
            primary_key=("account_id",),
            description="One row per customer account; extra columns become grouping dimensions.",
        ),
        TableSpec(
            "subscriptions",
            (
                Column("subscription_id", required=True),
                Column("account_id", required=True),
                Column("started_at", "date", required=True),
                Column("ended_at", "date"),
                Column("amount", "double", required=True, min=0),
                Column("interval", default="month", choices=INTERVALS, lower_case=True),
                Column("quantity", "double", default=1, min=0),
                Column("discount", "double", default=0, min=0, max=1),
                Column("currency"),
                Column("plan"),
            ),
            primary_key=("subscription_id",),
            foreign_keys=(_fk_account(),),
            ordered=(("started_at", "ended_at"),),
            description="Recurring contracts; ended_at is exclusive.",
        ),
        TableSpec(
            "charges",
            (
                Column("charge_id", required=True),
                Column("account_id", required=True),
                Column("charged_at", "date", required=True),
                Column("amount", "double", required=True, min=0),
                Column("currency"),
                Column("kind", default="other", choices=CHARGE_KINDS, lower_case=True),
            ),
            primary_key=("charge_id",),
            foreign_keys=(_fk_account(),),
            description="One-off (non-recurring) purchases.",
        ),
        TableSpec(
            "tickets",
            (
                Column("ticket_id", required=True),
                Column("account_id", required=True),
                Column("opened_at", "timestamp", required=True),
                Column("resolved_at", "timestamp"),
                Column("contacts", "integer", min=1),
                Column("agent"),
                Column("channel"),
            ),
            primary_key=("ticket_id",),
            foreign_keys=(_fk_account(),),
            ordered=(("opened_at", "resolved_at"),),
            description="Support tickets; contacts = customer interactions until resolved.",
        ),
        TableSpec(
            "survey_responses",
            (
                Column("response_id", required=True),
                Column("account_id", required=True),
                Column("survey", required=True, choices=SURVEYS, lower_case=True),
                Column("score", "double", required=True),
                Column("responded_at", "timestamp", required=True),
                Column("comment"),
                Column("ticket_id"),
                Column("respondent"),
            ),
            primary_key=("response_id",),
            foreign_keys=(_fk_account(),),
            description="NPS (0-10), CSAT (1..csat_scale_max) and CES (1-7) answers.",
        ),
        TableSpec(
            "usage_events",
            (
                Column("account_id", required=True),
                Column("occurred_at", "timestamp", required=True),
                Column("feature", required=True),
                Column("user_id"),
            ),
            foreign_keys=(_fk_account(),),
            description="Product usage; no key, identical rows are de-duplicated on ingest.",
        ),
        TableSpec(
            "renewals",
            (
                Column("renewal_id", required=True),
                Column("account_id", required=True),
                Column("due_on", "date", required=True),
                Column("outcome", required=True, choices=RENEWAL_OUTCOMES, lower_case=True),
            ),
            primary_key=("renewal_id",),
            foreign_keys=(_fk_account(),),
            description="Contract renewals and their outcome.",
        ),
        TableSpec(
            "costs",
            (
                Column("cost_id", required=True),
                Column("incurred_on", "date", required=True),
                Column("amount", "double", required=True, min=0),
                Column("category", default="other", choices=COST_CATEGORIES, lower_case=True),
            ),
            primary_key=("cost_id",),
            description="Customer-success costs (for retention cost).",
        ),
        TableSpec(
            "fx_rates",
            (
                Column("currency", required=True),
                Column("date", "date", required=True),
                Column("rate", "double", required=True, min=0, min_exclusive=True),
            ),
            primary_key=("currency", "date"),
            description="Units of base currency for one unit of currency, from date on.",
        ),
    )
}

# Score ranges per survey; csat's upper bound comes from csmetrics.toml.
SURVEY_RANGES: dict[str, tuple[float, float]] = {"nps": (0, 10), "ces": (1, 7), "csat": (1, 5)}

# The order tables are validated and written in (parents before children).
TABLE_ORDER: tuple[str, ...] = tuple(TABLES)
