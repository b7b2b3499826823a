"""Map raw Stripe objects to the contract tables accounts, subscriptions and charges (docs/stripe.md).

A pure function of the raw objects: DuckDB SQL over the JSON text of each
object, so 200k invoices map in seconds. Amounts are Stripe's minor units
(cents) until the last step, which divides by 100 (1 for Stripe's
zero-decimal currencies such as JPY, 1000 for the three-decimal ones).

Rules, each with its worked example (tests/sources/stripe/ test every one):

**A1 account per customer.** ``account_id`` = the customer id (``cus_A``), or
the value of a metadata key when ``[sources.stripe] account_id =
"metadata.account_id"`` (a customer without that key keeps its customer id and
counts as unmatched). name, email, ``created`` (as created_at), currency and
``stripe_customer_id`` are copied; each metadata key becomes a column
(``metadata.segment = "smb"`` fills ``segment``; ``metadata.tier = "gold"``
adds a column ``tier``, usable with ``--by tier``). Deleted customers are skipped.

**M1 only paid and open invoices.** Lines of invoices whose status is
``paid`` or ``open`` make MRR; ``draft``, ``void`` and ``uncollectible``
invoices make none (a May invoice still in draft: no MRR in May).

**M2 net of discounts, excluding tax.** A line's net amount is
``amount_excluding_tax`` when the line has it (older API versions; already net
of discounts, not reduced again), else ``amount - sum(discount_amounts) -
sum(inclusive taxes)``: amount 10000 with a 2000 discount -> 8000 (80.00/month);
amount 12000 with an inclusive tax of 2000 -> 10000. Exclusive taxes are
never in ``amount``.

**M3 one month.** The net amount is normalised by the price's interval:
month ``/ count``, year ``/ (12 x count)``, week ``x 52 / 12 / count``, day
``x 365 / 12 / count``: 1200.00 a year -> 100.00; 1200.00 every 4 weeks ->
1300.00; 360.00 every 30 days -> 365.00. The interval comes from the line's
``price.recurring`` or ``plan`` (older shapes), else from prices.json by
``pricing.price_details.price``, else from the subscription's items.

**M4 over the line's period.** The MRR holds on [period.start, period.end) as
UTC dates: a line for 2025-01-15 .. 2025-02-15 is MRR from 15 January
through 14 February.

**M5 prorations are not MRR.** Lines with ``proration`` true (on
``parent.subscription_item_details`` / ``parent.invoice_item_details`` or the
older top-level field) are left out, and are not charges either: an upgrade
from 100 to 200 on 15 February shows as 200 from the next regular line (1
March), an expansion of March.

**M6 trials and zero lines.** Lines with a net amount <= 0 (a trial's 0.00
line) give no MRR.

**M7 metered lines.** A usage-based line counts like any other over the
period it measured: usage of January billed 30.00 on 1 February is MRR 30.00
from 1 January to 31 January; 45.00 for February is then an expansion of 15.00.

**M8 end.** MRR ends at the end of the last invoiced period, or at the
subscription's ``ended_at`` when that comes first (cancelled immediately on 20
March during a period paid to 1 April: MRR ends on 20 March).

**M9 one row per run.** Lines of one subscription item whose periods follow
each other without a gap, with the same monthly amount and currency, become
one contract subscription row: subscription_id ``<item>@<first day>``,
amount the monthly amount (interval ``month``, quantity 1, discount 0), plan
the product's name, and the Stripe ids behind it in ``stripe_subscription``,
``stripe_item`` and ``stripe_lines`` (``invoice/line`` pairs, shown by
``csmetrics explain mrr``).

**C1 one-off lines are charges.** Non-proration invoice-item lines of paid
and open invoices go to charges (``charge_id`` ``<invoice>/<line>``, charged on
the invoice's ``created`` day, kind from metadata ``kind`` when it is a
contract kind, else ``purchase``), never to MRR.

**C2 standalone charges.** Succeeded charges tied to no invoice (no
``invoice`` field, and not the ``charge``/``payment_intent`` of any invoice or
of its ``payments``) are charges too; a charge paying an invoice is not.

**C3 credit notes.** A credit note that is not void reduces the one-off line
it credits (``invoice_line_item``), net of its discounts: a 500.00 setup fee
credited 100.00 is a 400.00 charge. Credit notes on subscription lines do not
change MRR.

**C4 refunds.** Succeeded or pending refunds reduce the standalone charge they
refund, in that charge's period: 200.00 refunded 50.00 is a 150.00 charge.
Refunds of invoice payments change neither MRR nor charges. A charge reduced
to 0 is left out.

**X1 currencies.** Amounts are divided by 100, by 1 for zero-decimal
currencies (15000 JPY is 15000.00 JPY) and by 1000 for three-decimal ones;
the currency code is upper-cased and converted by the workspace's fx_rates.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from csmetrics.io.validate import lit, q
from csmetrics.schema.tables import CHARGE_KINDS, TABLES
from csmetrics.sources.stripe.objects import THREE_DECIMAL, ZERO_DECIMAL

SOURCE = "stripe"

ACCOUNT_METADATA_COLUMNS = ("segment", "csm", "plan", "region", "industry", "seats")
"""Contract account columns a customer's metadata key of the same name fills."""

RESERVED = {"account_id", "name", "created_at", "email", "currency", "source", "stripe_customer_id", "__row"}


@dataclass(frozen=True)
class MapSettings:
    account_key: str = "id"
    """``id`` (the customer id) or ``metadata.<key>``."""

    @property
    def metadata_key(self) -> str | None:
        return self.account_key.removeprefix("metadata.") if self.account_key.startswith("metadata.") else None


def _s(path: str, col: str = "body") -> str:
    """JSON string at ``path`` of ``col`` (an id also when the field holds the expanded object)."""
    return (f"CASE json_type({col}, {lit(path)}) WHEN 'OBJECT' THEN json_extract_string({col}, {lit(path + '.id')}) "
            f"ELSE json_extract_string({col}, {lit(path)}) END")


def _i(path: str, col: str = "body") -> str:
    return f"TRY_CAST(json_extract_string({col}, {lit(path)}) AS BIGINT)"


def _day(epoch_sql: str) -> str:
    return f"CAST(to_timestamp({epoch_sql}) AS DATE)"


def divisor_sql(currency_sql: str) -> str:
    zero = ", ".join(lit(c) for c in sorted(ZERO_DECIMAL))
    three = ", ".join(lit(c) for c in sorted(THREE_DECIMAL))
    return (f"(CASE WHEN {currency_sql} IN ({zero}) THEN 1.0 WHEN {currency_sql} IN ({three}) THEN 1000.0 "
            "ELSE 100.0 END)")


def _net(col: str) -> str:
    """Rule M2 on a line (or credit note line) held in JSON column ``col``, in minor units."""
    discounts = f"coalesce(list_sum(CAST(json_extract({col}, '$.discount_amounts[*].amount') AS BIGINT[])), 0)"
    inclusive_new = (f"coalesce(list_sum([CAST(json_extract_string(t, '$.amount') AS BIGINT) FOR t IN "
                     f"json_extract({col}, '$.taxes[*]') "
                     "IF json_extract_string(t, '$.tax_behavior') = 'inclusive']), 0)")
    inclusive_old = (f"coalesce(list_sum([CAST(json_extract_string(t, '$.amount') AS BIGINT) FOR t IN "
                     f"json_extract({col}, '$.tax_amounts[*]') IF json_extract_string(t, '$.inclusive') = 'true']), 0)")
    return (f"coalesce({_i('$.amount_excluding_tax', col)}, "
            f"{_i('$.amount', col)} - {discounts} - {inclusive_new} - {inclusive_old})")


def map_tables(con: duckdb.DuckDBPyConnection, raw: str, settings: MapSettings) -> dict[str, str]:
    """Build temp tables ``stripe_accounts``, ``stripe_subscriptions``, ``stripe_charges`` from ``raw``.

    ``raw`` names a relation (type, id, parent, created, body) of raw objects;
    the connection's session time zone must be UTC. Returns table -> temp
    table name. Nothing outside the connection's temp schema is touched.
    """
    _customers(con, raw, settings)
    _lines(con, raw)
    out = {"accounts": "stripe_accounts"}
    _accounts(con)
    _subscriptions(con, raw)
    out["subscriptions"] = "stripe_subscriptions"
    _charges(con, raw)
    out["charges"] = "stripe_charges"
    return out


def _customers(con: duckdb.DuckDBPyConnection, raw: str, settings: MapSettings) -> None:
    key = settings.metadata_key
    keyed = (f"NULLIF(trim(json_extract_string(body, {lit('$.metadata.' + _json_key(key))})), '')"
             if key else "NULL")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE s_customers AS
        SELECT id AS customer_id, coalesce({keyed}, id) AS account_id, {keyed} IS NOT NULL AS keyed,
               created, body
        FROM {raw} WHERE type = 'customers'
          AND coalesce(json_extract_string(body, '$.deleted'), 'false') <> 'true'
    """)


def _json_key(key: str) -> str:
    return '"' + key.replace('"', '\\"') + '"'


def _accounts(con: duckdb.DuckDBPyConnection) -> None:
    keys = [r[0] for r in con.execute(
        "SELECT DISTINCT k FROM (SELECT unnest(json_keys(body, '$.metadata')) AS k FROM s_customers) ORDER BY k"
    ).fetchall()]
    contract = set(TABLES["accounts"].column_names)
    cols = []
    for k in keys:
        if k in RESERVED or not k.strip():
            continue
        value = f"NULLIF(trim(json_extract_string(body, {lit('$.metadata.' + _json_key(k))})), '')"
        if k in contract and k not in ACCOUNT_METADATA_COLUMNS:
            continue
        cols.append(f"{value} AS {q(k)}")
    extra = (", " + ", ".join(cols)) if cols else ""
    # One row per account: customers sharing a metadata account id collapse into the earliest.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE stripe_accounts AS
        SELECT account_id, json_extract_string(body, '$.name') AS name, {_day('created')} AS created_at,
               json_extract_string(body, '$.email') AS email,
               upper(json_extract_string(body, '$.currency')) AS currency,
               {lit(SOURCE)} AS source, customer_id AS stripe_customer_id{extra}
        FROM (SELECT *, row_number() OVER (PARTITION BY account_id ORDER BY created, customer_id) AS rk
              FROM s_customers)
        WHERE rk = 1 ORDER BY account_id
    """)


def _lines(con: duckdb.DuckDBPyConnection, raw: str) -> None:
    """All invoice lines (embedded, plus those paged separately), with their invoice's fields."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE s_invoices AS
        SELECT id AS invoice_id, {_s('$.customer')} AS customer_id, json_extract_string(body, '$.status') AS status,
               created, upper(json_extract_string(body, '$.currency')) AS currency, body
        FROM {raw} WHERE type = 'invoices'
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE s_lines AS
        WITH emb AS (
            SELECT invoice_id, unnest(json_extract(body, '$.lines.data[*]')) AS line, 0 AS src FROM s_invoices
        ), paged AS (
            SELECT parent AS invoice_id, CAST(body AS JSON) AS line, 1 AS src FROM {raw} WHERE type = 'invoice_lines'
        ), both_ AS (
            SELECT *, json_extract_string(line, '$.id') AS line_id
            FROM (SELECT * FROM emb UNION ALL SELECT * FROM paged)
        )
        SELECT invoice_id, line_id, line FROM (
            SELECT *, row_number() OVER (PARTITION BY invoice_id, line_id ORDER BY src) AS rk FROM both_
        ) WHERE rk = 1
    """)
    parent_type = "json_extract_string(line, '$.parent.type')"
    proration = ("coalesce(json_extract_string(line, '$.parent.subscription_item_details.proration'), "
                 "json_extract_string(line, '$.parent.invoice_item_details.proration'), "
                 "json_extract_string(line, '$.proration'), 'false') = 'true'")
    kind = (f"CASE WHEN {parent_type} = 'subscription_item_details' THEN 'subscription' "
            f"WHEN {parent_type} = 'invoice_item_details' THEN 'invoiceitem' "
            "WHEN json_extract_string(line, '$.type') IN ('subscription', 'invoiceitem') "
            "THEN json_extract_string(line, '$.type') "
            "WHEN json_extract_string(line, '$.subscription_item') IS NOT NULL THEN 'subscription' "
            "ELSE 'invoiceitem' END")
    subscription = (f"coalesce(json_extract_string(line, '$.parent.subscription_item_details.subscription'), "
                    f"json_extract_string(line, '$.parent.invoice_item_details.subscription'), "
                    f"{_s('$.subscription', 'line')})")
    item = (f"coalesce(json_extract_string(line, '$.parent.subscription_item_details.subscription_item'), "
            f"{_s('$.subscription_item', 'line')})")
    price = f"coalesce({_s('$.pricing.price_details.price', 'line')}, {_s('$.price.id', 'line')}, " \
            f"{_s('$.plan.id', 'line')})"
    product = (f"coalesce({_s('$.pricing.price_details.product', 'line')}, {_s('$.price.product', 'line')}, "
               f"{_s('$.plan.product', 'line')})")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE s_lines_x AS
        SELECT l.invoice_id, l.line_id, i.customer_id, i.status, i.created AS invoice_created,
               upper(coalesce(json_extract_string(line, '$.currency'), i.currency)) AS currency,
               {kind} AS kind, {proration} AS proration, {subscription} AS subscription, {item} AS item,
               {price} AS price, {product} AS product, {_net('line')} AS net,
               {_day(_i('$.period.start', 'line'))} AS period_start, {_day(_i('$.period.end', 'line'))} AS period_end,
               coalesce(json_extract_string(line, '$.price.recurring.interval'),
                        json_extract_string(line, '$.plan.interval')) AS interval,
               coalesce({_i('$.price.recurring.interval_count', 'line')},
                        {_i('$.plan.interval_count', 'line')}) AS interval_count,
               json_extract_string(line, '$.metadata.kind') AS meta_kind
        FROM s_lines l JOIN s_invoices i USING (invoice_id)
    """)


def _subscriptions(con: duckdb.DuckDBPyConnection, raw: str) -> None:
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE s_subs AS
        SELECT id AS subscription, {_day(_i('$.ended_at'))} AS ended_at, body FROM {raw} WHERE type = 'subscriptions'
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE s_prices AS
        SELECT id AS price, json_extract_string(body, '$.recurring.interval') AS interval,
               {_i('$.recurring.interval_count')} AS interval_count, {_s('$.product')} AS product
        FROM {raw} WHERE type = 'prices'
        UNION ALL BY NAME
        SELECT price, interval, interval_count, product FROM (
            SELECT {_s('$.price.id', 'it')} AS price, json_extract_string(it, '$.price.recurring.interval') AS interval,
                   {_i('$.price.recurring.interval_count', 'it')} AS interval_count,
                   {_s('$.price.product', 'it')} AS product
            FROM (SELECT unnest(json_extract(body, '$.items.data[*]')) AS it FROM s_subs))
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE s_prices1 AS
        SELECT price, first(interval ORDER BY interval IS NULL) AS interval,
               first(interval_count ORDER BY interval_count IS NULL) AS interval_count,
               first(product ORDER BY product IS NULL) AS product
        FROM s_prices WHERE price IS NOT NULL GROUP BY price
    """)
    factor = ("CASE x.interval WHEN 'month' THEN 1.0 / x.interval_count WHEN 'year' THEN 1.0 / (12 * x.interval_count) "
              "WHEN 'week' THEN 52.0 / 12 / x.interval_count WHEN 'day' THEN 365.0 / 12 / x.interval_count END")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE s_mrr_lines AS
        SELECT x.*, coalesce(c.account_id, x.customer_id) AS account_id,
               round(x.net * {factor} / {divisor_sql('x.currency')}, 9) AS mrr,
               CASE WHEN s.ended_at IS NOT NULL AND s.ended_at < x.period_end THEN s.ended_at ELSE x.period_end END
                   AS until,
               coalesce(x.item, x.subscription || '/' || x.price, x.invoice_id || '/' || x.line_id) AS item_key,
               coalesce(pr.name, x.product_id, x.price) AS plan
        FROM (SELECT l.* EXCLUDE (interval, interval_count, product),
                     coalesce(l.interval, p.interval) AS interval,
                     coalesce(l.interval_count, p.interval_count, 1) AS interval_count,
                     coalesce(l.product, p.product) AS product_id
              FROM s_lines_x l LEFT JOIN s_prices1 p USING (price)
              WHERE l.kind = 'subscription' AND NOT l.proration AND l.status IN ('paid', 'open') AND l.net > 0) x
        LEFT JOIN s_customers c USING (customer_id)
        LEFT JOIN s_subs s USING (subscription)
        LEFT JOIN (SELECT id AS product_id, json_extract_string(body, '$.name') AS name
                   FROM {raw} WHERE type = 'products') pr USING (product_id)
    """)
    # Rule M9: gaps and islands per subscription item.
    con.execute("""
        CREATE OR REPLACE TEMP TABLE stripe_subscriptions AS
        WITH kept AS (
            SELECT * FROM s_mrr_lines WHERE until > period_start AND mrr IS NOT NULL
        ), marked AS (
            SELECT *, CASE WHEN lag(until) OVER w = period_start AND lag(mrr) OVER w = mrr
                            AND lag(currency) OVER w = currency THEN 0 ELSE 1 END AS starts
            FROM kept WINDOW w AS (PARTITION BY item_key ORDER BY period_start, until, invoice_id, line_id)
        ), runs AS (
            SELECT *, sum(starts) OVER (PARTITION BY item_key ORDER BY period_start, until, invoice_id, line_id)
                      AS run
            FROM marked
        )
        SELECT item_key || '@' || strftime(min(period_start), '%Y-%m-%d') AS subscription_id,
               first(account_id) AS account_id, min(period_start) AS started_at, max(until) AS ended_at,
               first(mrr) AS amount, 'month' AS interval, 1.0 AS quantity, 0.0 AS discount,
               first(currency) AS currency, first(plan) AS plan, 'stripe' AS source,
               first(subscription) AS stripe_subscription, first(item) AS stripe_item,
               string_agg(invoice_id || '/' || line_id, ' ' ORDER BY period_start, invoice_id, line_id)
                   AS stripe_lines
        FROM runs GROUP BY item_key, run ORDER BY subscription_id
    """)


def _charges(con: duckdb.DuckDBPyConnection, raw: str) -> None:
    kinds = ", ".join(lit(k) for k in CHARGE_KINDS)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE s_credited AS
        SELECT {_s('$.invoice', 'cn.body')} AS invoice_id, json_extract_string(l, '$.invoice_line_item') AS line_id,
               sum({_net('l')}) AS credited
        FROM (SELECT body, unnest(json_extract(body, '$.lines.data[*]')) AS l FROM {raw}
              WHERE type = 'credit_notes' AND json_extract_string(body, '$.status') <> 'void') cn
        WHERE json_extract_string(l, '$.invoice_line_item') IS NOT NULL
        GROUP BY ALL
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE s_invoice_payments AS
        SELECT DISTINCT ref FROM (
            SELECT unnest([{_s('$.charge')}, {_s('$.payment_intent')}]) AS ref FROM s_invoices
            UNION ALL
            SELECT unnest([{_s('$.payment.charge', 'p')}, {_s('$.payment.payment_intent', 'p')}])
            FROM (SELECT unnest(json_extract(body, '$.payments.data[*]')) AS p FROM s_invoices)
        ) WHERE ref IS NOT NULL
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE s_refunded AS
        SELECT {_s('$.charge')} AS charge_id, sum({_i('$.amount')}) AS refunded
        FROM {raw} WHERE type = 'refunds' AND coalesce(json_extract_string(body, '$.status'), 'succeeded')
              IN ('succeeded', 'pending')
        GROUP BY ALL
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE s_charges AS
        SELECT l.invoice_id || '/' || l.line_id AS charge_id, l.customer_id, {_day('l.invoice_created')} AS charged_at,
               l.net - coalesce(cr.credited, 0) AS minor, l.currency, l.meta_kind,
               l.invoice_id AS stripe_invoice, l.line_id AS stripe_line, NULL AS stripe_charge
        FROM s_lines_x l LEFT JOIN s_credited cr USING (invoice_id, line_id)
        WHERE l.kind = 'invoiceitem' AND NOT l.proration AND l.status IN ('paid', 'open') AND l.net > 0
        UNION ALL
        SELECT c.id, {_s('$.customer', 'c.body')}, {_day('c.created')},
               coalesce({_i('$.amount_captured', 'c.body')}, {_i('$.amount', 'c.body')})
                   - greatest(coalesce(r.refunded, 0), coalesce({_i('$.amount_refunded', 'c.body')}, 0)),
               upper(json_extract_string(c.body, '$.currency')), json_extract_string(c.body, '$.metadata.kind'),
               NULL, NULL, c.id
        FROM {raw} c LEFT JOIN s_refunded r ON r.charge_id = c.id
        WHERE c.type = 'charges' AND json_extract_string(c.body, '$.status') = 'succeeded'
          AND coalesce(json_extract_string(c.body, '$.paid'), 'true') = 'true'
          AND {_s('$.invoice', 'c.body')} IS NULL
          AND c.id NOT IN (SELECT ref FROM s_invoice_payments)
          AND coalesce({_s('$.payment_intent', 'c.body')}, '') NOT IN (SELECT ref FROM s_invoice_payments)
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE stripe_charges AS
        SELECT x.charge_id, coalesce(cu.account_id, x.customer_id) AS account_id, x.charged_at,
               round(x.minor / {divisor_sql('x.currency')}, 9) AS amount, x.currency,
               CASE WHEN lower(x.meta_kind) IN ({kinds}) THEN lower(x.meta_kind) ELSE 'purchase' END AS kind,
               'stripe' AS source, x.stripe_invoice, x.stripe_line, x.stripe_charge
        FROM s_charges x LEFT JOIN s_customers cu USING (customer_id)
        WHERE x.minor > 0 AND x.customer_id IS NOT NULL
        ORDER BY x.charge_id
    """)


def unmatched_charges(con: duckdb.DuckDBPyConnection) -> int:
    """Standalone charges with no customer: kept out of the charges table (no account) and counted."""
    row = con.execute("SELECT count(*) FROM s_charges WHERE customer_id IS NULL AND minor > 0").fetchone()
    return int(row[0]) if row else 0


__all__ = ["MapSettings", "divisor_sql", "map_tables", "unmatched_charges"]
