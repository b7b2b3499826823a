"""A Stripe account of sixteen customers, one per mapping rule, in Stripe's exact object shapes.

Two invoice line shapes are used, as Stripe sends them:

- ``new``: the current API (2025-03-31.basil and later): ``parent.subscription_item_details`` /
  ``parent.invoice_item_details``, ``pricing.price_details``, ``taxes``, ``pretax_credit_amounts``; the
  invoice has ``parent.subscription_details`` and no top-level ``subscription``;
- ``old``: earlier versions: ``type``, ``proration``, ``price`` and ``plan`` objects, ``subscription``,
  ``subscription_item``, ``amount_excluding_tax``, ``tax_amounts``; the invoice has ``subscription``,
  ``charge`` and ``payment_intent``.

Field sets follow Stripe's published fixtures (stripe/openapi ``fixtures3.json``) and the API reference.
``write(dir)`` writes the files ``csmetrics import stripe`` reads; tests/fixtures/stripe/account holds its output.

MRR per customer at each month end of 2025 (USD; rule in brackets, docs/stripe.md):

    cust  rule                              Jan    Feb    Mar    Apr    May    Jun
    A     monthly 100, cancelled at end     100    100    100      0      0      0   [M4, M8]
    B     yearly 1200 (old shape)           100    100    100    100    100    100   [M3: 1200/12]
    C     every 3 months 300, from 1 Feb      0    100    100    100    100    100   [M3: 300/3]
    D     every 4 weeks 1200, to 31 Mar    1300   1300      0      0      0      0   [M3: 1200x52/12/4]
    E     every 30 days 360, to 1 Apr       365    365    365      0      0      0   [M3: 360x365/12/30]
    F     100 - discount 20 (new shape)      80     80     80     80     80     80   [M2]
    G     amount_excluding_tax 80 (old)      80     80     80     80     80     80   [M2, M5 old proration]
    H     120 incl. tax 20, from 1 Apr        0      0      0    100    100    100   [M2 inclusive tax]
    I     100 -> 200 on 15 Feb (prorated)   100    100    200    200    200    200   [M5]
    J     trial 1-15 Jan, then 50            50     50     50     50     50     50   [M6]
    K     metered 30 / 45 / 20 (old)         30     45     20      0      0      0   [M7]
    L     100, cancelled now on 20 Mar        0    100      0      0      0      0   [M8]
    M     paid/void/uncollectible/open/draft 100      0      0    100      0      0   [M1]
    N     15000 JPY x 0.007                 105    105    105    105    105    105   [X1 zero-decimal]
    O     3 items 60+10+5, from 1 Mar         0      0     75     75     75     75   [M9, C1-C4]
    P     no subscription                     0      0      0      0      0      0   [A1]

    mrr                                    2410   2525   1275    990    890    890
    active_customers                         11     12     11     10      9      9

Sums: Jan 100+100+1300+365+80+80+100+50+30+100+105 = 2410 (A B D E F G I J K M N);
Feb 100+100+100+1300+365+80+80+100+50+45+100+105 = 2525 (A B C D E F G I J K L N);
Mar 100+100+100+365+80+80+200+50+20+105+75 = 1275 (A B C E F G I J K N O);
Apr 100+100+80+80+100+200+50+100+105+75 = 990 (B C F G H I J M N O); May and Jun: 990 - 100 (M) = 890.

Movements (m0 = MRR on the day before the month, m1 = on its last day):

    Jan  new 2410 (every payer starts; J's first paid day is 15 Jan, D's 6 Jan)
    Feb  new 200 (C 100, L 100); expansion 15 (K 30 -> 45); churned 100 (M: February invoice void)
         2410 + 200 + 15 - 100 = 2525
    Mar  new 75 (O); expansion 100 (I 100 -> 200); contraction 25 (K 45 -> 20);
         churned 1400 (D 1300 ends 31 Mar, L 100 ends 20 Mar)
         2525 + 75 + 100 - 25 - 1400 = 1275
    Apr  new 100 (H); reactivation 100 (M: April invoice open); churned 485 (A 100, E 365, K 20)
         1275 + 100 + 100 - 485 = 990
    May  churned 100 (M: May invoice still a draft)            990 - 100 = 890
    Jun  nothing moves                                          890

Non-recurring revenue: March 400 (O's 500.00 setup fee, 100.00 credited by credit note; a void
credit note of 50.00 does nothing) [C1, C3]; April 150 (O's standalone 200.00 charge, refunded
50.00) [C2, C4]. Invoice payments (B's old-shape ``charge.invoice``, O's ``payments``) and their
refunds are not charges.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
from pathlib import Path
from typing import Any

MONTHS = ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06"]

EXPECTED: dict[str, list[float]] = {
    "mrr": [2410, 2525, 1275, 990, 890, 890],
    "active_customers": [11, 12, 11, 10, 9, 9],
    "new_mrr": [2410, 200, 75, 100, 0, 0],
    "expansion_mrr": [0, 15, 100, 0, 0, 0],
    "contraction_mrr": [0, 0, 25, 0, 0, 0],
    "churned_mrr": [0, 100, 1400, 485, 100, 0],
    "reactivation_mrr": [0, 0, 0, 100, 0, 0],
    "non_recurring_revenue": [0, 0, 400, 150, 0, 0],
}
"""Hand-computed monthly values of 2025 (module docstring)."""

CUSTOMER_MRR: dict[str, list[float]] = {
    "cus_A": [100, 100, 100, 0, 0, 0], "cus_B": [100] * 6, "cus_C": [0, 100, 100, 100, 100, 100],
    "cus_D": [1300, 1300, 0, 0, 0, 0], "cus_E": [365, 365, 365, 0, 0, 0], "cus_F": [80] * 6,
    "cus_G": [80] * 6, "cus_H": [0, 0, 0, 100, 100, 100], "cus_I": [100, 100, 200, 200, 200, 200],
    "cus_J": [50] * 6, "cus_K": [30, 45, 20, 0, 0, 0], "cus_L": [0, 100, 0, 0, 0, 0],
    "cus_M": [100, 0, 0, 100, 0, 0], "cus_N": [105] * 6, "cus_O": [0, 0, 75, 75, 75, 75], "cus_P": [0] * 6,
}

FX_RATES_CSV = "currency,date,rate\nJPY,2024-12-01,0.007\n"


def ts(day: str, hour: int = 0) -> int:
    d = dt.date.fromisoformat(day)
    return calendar.timegm((d.year, d.month, d.day, hour, 0, 0))


def _list(data: list[dict[str, Any]], url: str, has_more: bool = False) -> dict[str, Any]:
    return {"object": "list", "data": data, "has_more": has_more, "total_count": len(data), "url": url}


def customer(cid: str, name: str, created: str, metadata: dict[str, str], currency: str = "usd") -> dict[str, Any]:
    return {
        "id": cid, "object": "customer", "address": None, "balance": 0, "created": ts(created),
        "currency": currency, "default_source": None, "delinquent": False, "description": None, "discount": None,
        "email": f"billing@{name.lower().replace(' ', '')}.example", "invoice_prefix": cid[-4:].upper() + "01",
        "invoice_settings": {"custom_fields": None, "default_payment_method": None, "footer": None,
                             "rendering_options": None},
        "livemode": False, "metadata": metadata, "name": name, "next_invoice_sequence": 2, "phone": None,
        "preferred_locales": [], "shipping": None, "tax_exempt": "none", "test_clock": None,
    }


def product(pid: str, name: str) -> dict[str, Any]:
    return {"id": pid, "object": "product", "active": True, "created": ts("2024-11-01"), "default_price": None,
            "description": None, "images": [], "livemode": False, "marketing_features": [], "metadata": {},
            "name": name, "package_dimensions": None, "shippable": None, "statement_descriptor": None,
            "tax_code": None, "unit_label": None, "updated": ts("2024-11-01"), "url": None}


def price(pid: str, prod: str, amount: int, interval: str | None, count: int = 1, currency: str = "usd",
          usage: str = "licensed") -> dict[str, Any]:
    recurring = None if interval is None else {
        "aggregate_usage": None, "interval": interval, "interval_count": count, "meter": None,
        "trial_period_days": None, "usage_type": usage}
    return {"id": pid, "object": "price", "active": True, "billing_scheme": "per_unit", "created": ts("2024-11-01"),
            "currency": currency, "custom_unit_amount": None, "livemode": False, "lookup_key": None, "metadata": {},
            "nickname": None, "product": prod, "recurring": recurring,
            "tax_behavior": "unspecified", "tiers_mode": None, "transform_quantity": None,
            "type": "one_time" if interval is None else "recurring",
            "unit_amount": amount, "unit_amount_decimal": str(amount)}


def plan_of(p: dict[str, Any]) -> dict[str, Any]:
    r = p["recurring"]
    return {"id": p["id"], "object": "plan", "active": True, "aggregate_usage": None, "amount": p["unit_amount"],
            "amount_decimal": str(p["unit_amount"]), "billing_scheme": "per_unit", "created": p["created"],
            "currency": p["currency"], "interval": r["interval"], "interval_count": r["interval_count"],
            "livemode": False, "metadata": {}, "meter": None, "nickname": None, "product": p["product"],
            "tiers_mode": None, "transform_usage": None, "trial_period_days": None, "usage_type": r["usage_type"]}


PRODUCTS = [product("prod_core", "Core"), product("prod_seats", "Seats"), product("prod_api", "API calls"),
            product("prod_setup", "Onboarding")]
PRICES = {p["id"]: p for p in [
    price("price_month100", "prod_core", 10000, "month"),
    price("price_year1200", "prod_core", 120000, "year"),
    price("price_quarter300", "prod_core", 30000, "month", 3),
    price("price_4weeks1200", "prod_core", 120000, "week", 4),
    price("price_30days360", "prod_core", 36000, "day", 30),
    price("price_month120", "prod_core", 12000, "month"),
    price("price_month200", "prod_core", 20000, "month"),
    price("price_month50", "prod_core", 5000, "month"),
    price("price_metered", "prod_api", 0, "month", usage="metered"),
    price("price_jpy", "prod_core", 15000, "month", currency="jpy"),
    price("price_seat20", "prod_seats", 2000, "month"),
    price("price_addon10", "prod_core", 1000, "month"),
    price("price_addon5", "prod_api", 500, "month"),
    price("price_setup500", "prod_setup", 50000, None),
]}


def line_new(lid: str, invoice: str, sub: str, item: str | None, price_id: str, amount: int, start: int, end: int,
             quantity: int = 1, proration: bool = False, discounts: int = 0, taxes: list[dict[str, Any]] | None = None,
             invoice_item: str | None = None, currency: str = "usd",
             metadata: dict[str, str] | None = None) -> dict[str, Any]:
    """A line in the current API's shape (parent / pricing / taxes)."""
    p = PRICES[price_id]
    if item is not None:
        parent = {"invoice_item_details": None, "subscription_item_details": {
            "invoice_item": invoice_item, "proration": proration, "proration_details": {"credited_items": None},
            "subscription": sub, "subscription_item": item}, "type": "subscription_item_details"}
    else:
        parent = {"invoice_item_details": {"invoice": invoice, "invoice_item": invoice_item, "proration": proration,
                                           "proration_details": {"credited_items": None}, "subscription": sub},
                  "subscription_item_details": None, "type": "invoice_item_details"}
    discount_amounts = [{"amount": discounts, "discount": "di_" + lid[3:]}] if discounts else []
    return {
        "id": lid, "object": "line_item", "amount": amount, "currency": currency,
        "description": f"{quantity} x {p['product']}", "discount_amounts": discount_amounts,
        "discountable": not proration, "discounts": [d["discount"] for d in discount_amounts], "invoice": invoice,
        "livemode": False, "metadata": metadata or {}, "parent": parent, "period": {"end": end, "start": start},
        "pretax_credit_amounts": [{"amount": d["amount"], "credit_balance_transaction": None,
                                   "discount": d["discount"], "type": "discount"} for d in discount_amounts],
        "pricing": {"price_details": {"price": price_id, "product": p["product"]}, "type": "price_details",
                    "unit_amount_decimal": str(p["unit_amount"])},
        "quantity": quantity, "taxes": taxes or [],
    }


def line_old(lid: str, sub: str | None, item: str | None, price_id: str, amount: int, start: int, end: int,
             quantity: int = 1, proration: bool = False, excl_tax: int | None = None, discounts: int = 0,
             tax_amounts: list[dict[str, Any]] | None = None, kind: str = "subscription",
             invoice_item: str | None = None) -> dict[str, Any]:
    """A line in the shape of API versions before 2025-03-31 (type / proration / price / plan)."""
    p = PRICES[price_id]
    discount_amounts = [{"amount": discounts, "discount": "di_" + lid[3:]}] if discounts else []
    return {
        "id": lid, "object": "line_item", "amount": amount,
        "amount_excluding_tax": amount - discounts if excl_tax is None else excl_tax, "currency": p["currency"],
        "description": None, "discount_amounts": discount_amounts, "discountable": True,
        "discounts": [d["discount"] for d in discount_amounts], "invoice_item": invoice_item, "livemode": False,
        "metadata": {}, "period": {"end": end, "start": start},
        "plan": plan_of(p) if p["recurring"] else None, "price": p, "proration": proration,
        "proration_details": {"credited_items": None}, "quantity": quantity, "subscription": sub,
        "subscription_item": item, "tax_amounts": tax_amounts or [], "tax_rates": [], "type": kind,
        "unit_amount_excluding_tax": str(p["unit_amount"]),
    }


def invoice(iid: str, cus: str, sub: str | None, status: str, created: int, lines: list[dict[str, Any]],
            shape: str = "new", currency: str = "usd", extra: dict[str, Any] | None = None) -> dict[str, Any]:
    subtotal = sum(line["amount"] for line in lines)
    paid = status == "paid"
    inv: dict[str, Any] = {
        "id": iid, "object": "invoice", "account_country": "US", "account_name": "Example SaaS",
        "amount_due": subtotal, "amount_overpaid": 0, "amount_paid": subtotal if paid else 0,
        "amount_remaining": 0 if paid else subtotal, "attempt_count": 1 if paid else 0, "attempted": paid,
        "auto_advance": status in ("draft", "open"), "billing_reason": "subscription_cycle" if sub else "manual",
        "collection_method": "charge_automatically", "created": created, "currency": currency, "customer": cus,
        "customer_email": None, "customer_name": None, "default_payment_method": None, "description": None,
        "discounts": [], "due_date": None, "ending_balance": 0 if status != "draft" else None,
        "hosted_invoice_url": None, "lines": _list(lines, f"/v1/invoices/{iid}/lines"), "livemode": False,
        "metadata": {}, "number": None if status == "draft" else iid[3:].upper(), "period_end": created,
        "period_start": created, "status": status,
        "status_transitions": {"finalized_at": None if status == "draft" else created,
                               "marked_uncollectible_at": created if status == "uncollectible" else None,
                               "paid_at": created if paid else None,
                               "voided_at": created if status == "void" else None},
        "subtotal": subtotal, "total": subtotal, "webhooks_delivered_at": created,
    }
    if shape == "new":
        inv["parent"] = None if sub is None else {
            "quote_details": None, "subscription_details": {"metadata": {}, "subscription": sub},
            "type": "subscription_details"}
        inv["total_excluding_tax"] = subtotal
        inv["total_pretax_credit_amounts"] = []
        inv["total_taxes"] = []
    else:
        inv.update({"subscription": sub, "charge": None, "payment_intent": None, "paid": paid, "tax": None,
                    "total_excluding_tax": subtotal, "total_tax_amounts": []})
    inv.update(extra or {})
    return inv


def subscription(sid: str, cus: str, created: str, items: list[tuple[str, str, int]], status: str = "active",
                 ended_at: int | None = None, canceled_at: int | None = None,
                 trial: tuple[int, int] | None = None) -> dict[str, Any]:
    return {
        "id": sid, "object": "subscription", "application": None, "billing_cycle_anchor": ts(created),
        "cancel_at": None, "cancel_at_period_end": False, "canceled_at": canceled_at,
        "collection_method": "charge_automatically", "created": ts(created), "currency": "usd", "customer": cus,
        "days_until_due": None, "default_payment_method": None, "description": None, "discounts": [],
        "ended_at": ended_at,
        "items": _list([{"id": item, "object": "subscription_item", "created": ts(created), "discounts": [],
                         "metadata": {}, "price": PRICES[pid], "quantity": qty, "subscription": sid,
                         "tax_rates": []} for item, pid, qty in items],
                       f"/v1/subscription_items?subscription={sid}"),
        "latest_invoice": None, "livemode": False, "metadata": {}, "start_date": ts(created), "status": status,
        "trial_end": trial[1] if trial else None, "trial_start": trial[0] if trial else None,
    }


def _monthly(day: str, n: int) -> list[tuple[int, int]]:
    """n monthly periods from ``day``."""
    d = dt.date.fromisoformat(day)
    out = []
    for _ in range(n):
        nxt = dt.date(d.year + (d.month == 12), d.month % 12 + 1, d.day)
        out.append((ts(d.isoformat()), ts(nxt.isoformat())))
        d = nxt
    return out


def build() -> dict[str, list[dict[str, Any]]]:
    """Every object of the account, by file name."""
    seg = {"A": "smb", "B": "smb", "C": "smb", "D": "smb", "E": "smb", "F": "mid", "G": "mid", "H": "mid",
           "I": "mid", "J": "mid", "K": "enterprise", "L": "enterprise", "M": "enterprise", "N": "enterprise",
           "O": "enterprise"}
    customers = [customer(f"cus_{k}", f"Customer {k}", "2024-12-15",
                          {"segment": s, "tier": "gold" if k in "AFK" else "silver", "account_id": f"ACC-{k}"},
                          currency="jpy" if k == "N" else "usd")
                 for k, s in seg.items()]
    customers.append(customer("cus_P", "Customer P", "2025-02-01", {}))
    subs: list[dict[str, Any]] = []
    invoices: list[dict[str, Any]] = []
    charges: list[dict[str, Any]] = []
    refunds: list[dict[str, Any]] = []
    credit_notes: list[dict[str, Any]] = []

    def monthly_new(k: str, price_id: str, amount: int, periods: list[tuple[int, int]], statuses: list[str],
                    **kw: Any) -> None:
        for n, ((a, b), status) in enumerate(zip(periods, statuses, strict=True), start=1):
            iid = f"in_{k}_{n}"
            invoices.append(invoice(iid, f"cus_{k}", f"sub_{k}", status, a, [
                line_new(f"il_{k}_{n}_1", iid, f"sub_{k}", f"si_{k}", price_id, amount, a, b, **kw)],
                currency=PRICES[price_id]["currency"]))

    def monthly_old(k: str, price_id: str, amount: int, periods: list[tuple[int, int]], statuses: list[str],
                    **kw: Any) -> None:
        for n, ((a, b), status) in enumerate(zip(periods, statuses, strict=True), start=1):
            iid = f"in_{k}_{n}"
            invoices.append(invoice(iid, f"cus_{k}", f"sub_{k}", status, a, [
                line_old(f"il_{k}_{n}_1", f"sub_{k}", f"si_{k}", price_id, amount, a, b, **kw)], shape="old"))

    # A: monthly 100, three paid months, cancelled at period end on 1 April (M4, M8).
    subs.append(subscription("sub_A", "cus_A", "2025-01-01", [("si_A", "price_month100", 1)], "canceled",
                             ended_at=ts("2025-04-01"), canceled_at=ts("2025-03-10")))
    monthly_new("A", "price_month100", 10000, _monthly("2025-01-01", 3), ["paid"] * 3)
    # B: yearly 1200 (old shape): 100 a month through 2025 (M3). Paid by a charge that names the invoice.
    subs.append(subscription("sub_B", "cus_B", "2025-01-01", [("si_B", "price_year1200", 1)]))
    monthly_old("B", "price_year1200", 120000, [(ts("2025-01-01"), ts("2026-01-01"))], ["paid"])
    invoices[-1].update({"charge": "ch_Bpay", "payment_intent": "pi_B1"})
    # C: every 3 months 300 from 1 February: 100 a month (M3).
    subs.append(subscription("sub_C", "cus_C", "2025-02-01", [("si_C", "price_quarter300", 1)]))
    monthly_new("C", "price_quarter300", 30000, [(ts("2025-02-01"), ts("2025-05-01")),
                                                 (ts("2025-05-01"), ts("2025-08-01"))], ["paid", "paid"])
    # D: every 4 weeks 1200 (old shape): 1200 x 52 / 12 / 4 = 1300 a month; ends 31 March (M3).
    subs.append(subscription("sub_D", "cus_D", "2025-01-06", [("si_D", "price_4weeks1200", 1)], "canceled",
                             ended_at=ts("2025-03-31")))
    monthly_old("D", "price_4weeks1200", 120000, [(ts("2025-01-06"), ts("2025-02-03")),
                                                  (ts("2025-02-03"), ts("2025-03-03")),
                                                  (ts("2025-03-03"), ts("2025-03-31"))], ["paid"] * 3)
    # E: every 30 days 360: 360 x 365 / 12 / 30 = 365 a month, to 1 April (M3).
    subs.append(subscription("sub_E", "cus_E", "2025-01-01", [("si_E", "price_30days360", 1)], "canceled",
                             ended_at=ts("2025-04-01")))
    monthly_new("E", "price_30days360", 36000, [(ts("2025-01-01"), ts("2025-01-31")),
                                                (ts("2025-01-31"), ts("2025-03-02")),
                                                (ts("2025-03-02"), ts("2025-04-01"))], ["paid"] * 3)
    # F: 100 less a 20 coupon (discount_amounts, current shape) = 80 (M2).
    subs.append(subscription("sub_F", "cus_F", "2025-01-01", [("si_F", "price_month100", 1)]))
    monthly_new("F", "price_month100", 10000, _monthly("2025-01-01", 6), ["paid"] * 6, discounts=2000)
    # G: old shape, amount 100, amount_excluding_tax 80 (already net of the 20 discount; 16 tax on top is
    # exclusive): 80, not 60 (M2). A +5/-5 proration pair on 15 March is neither MRR nor a charge (M5).
    subs.append(subscription("sub_G", "cus_G", "2025-01-01", [("si_G", "price_month100", 1)]))
    monthly_old("G", "price_month100", 10000, _monthly("2025-01-01", 6), ["paid"] * 6, excl_tax=8000,
                discounts=2000, tax_amounts=[{"amount": 1600, "inclusive": False, "tax_rate": "txr_1",
                                              "taxability_reason": "standard_rated", "taxable_amount": 8000}])
    a, b = ts("2025-03-15"), ts("2025-04-01")
    invoices.append(invoice("in_G_p", "cus_G", "sub_G", "paid", a, [
        line_old("il_G_p_1", "sub_G", "si_G", "price_month100", 500, a, b, proration=True, kind="invoiceitem",
                 invoice_item="ii_G1"),
        line_old("il_G_p_2", "sub_G", "si_G", "price_month100", -500, a, b, proration=True, kind="invoiceitem",
                 invoice_item="ii_G2")], shape="old"))
    # H: 120 including 20 of inclusive tax = 100, from 1 April (M2).
    subs.append(subscription("sub_H", "cus_H", "2025-04-01", [("si_H", "price_month120", 1)]))
    monthly_new("H", "price_month120", 12000, _monthly("2025-04-01", 3), ["paid"] * 3,
                taxes=[{"amount": 2000, "tax_behavior": "inclusive", "tax_rate_details": {"tax_rate": "txr_vat"},
                        "taxability_reason": "standard_rated", "taxable_amount": 10000, "type": "tax_rate_details"}])
    # I: 100 in January and February; upgraded to 200 on 15 February with two proration lines; 200 from the
    # next regular line on 1 March: expansion of March (M5). A credit note on its February line changes no MRR.
    subs.append(subscription("sub_I", "cus_I", "2025-01-01", [("si_I", "price_month200", 1)]))
    for n, (a, b) in enumerate(_monthly("2025-01-01", 6), start=1):
        iid = f"in_I_{n}"
        pid, amt = ("price_month100", 10000) if n <= 2 else ("price_month200", 20000)
        invoices.append(invoice(iid, "cus_I", "sub_I", "paid", a,
                                [line_new(f"il_I_{n}_1", iid, "sub_I", "si_I", pid, amt, a, b)]))
    a, b = ts("2025-02-15"), ts("2025-03-01")
    invoices.append(invoice("in_I_up", "cus_I", "sub_I", "paid", a, [
        line_new("il_I_up_1", "in_I_up", "sub_I", "si_I", "price_month100", -5000, a, b, proration=True,
                 invoice_item="ii_I1"),
        line_new("il_I_up_2", "in_I_up", "sub_I", "si_I", "price_month200", 10000, a, b, proration=True,
                 invoice_item="ii_I2")]))
    credit_notes.append(credit_note("cn_I1", "in_I_2", "il_I_2_1", 2500, ts("2025-02-20"), "cus_I"))
    # J: a trial from 1 to 15 January (a 0.00 line), then 50 a month from 15 January (M6).
    subs.append(subscription("sub_J", "cus_J", "2025-01-01", [("si_J", "price_month50", 1)],
                             trial=(ts("2025-01-01"), ts("2025-01-15"))))
    invoices.append(invoice("in_J_0", "cus_J", "sub_J", "paid", ts("2025-01-01"), [
        line_new("il_J_0_1", "in_J_0", "sub_J", "si_J", "price_month50", 0, ts("2025-01-01"), ts("2025-01-15"))]))
    monthly_new("J", "price_month50", 5000, _monthly("2025-01-15", 6), ["paid"] * 6)
    # K: metered (old shape), billed in arrears: 30 for January, 45 for February, 20 for March; the first
    # invoice's 0.00 line gives nothing; ended 1 April (M7).
    subs.append(subscription("sub_K", "cus_K", "2025-01-01", [("si_K", "price_metered", 1)], "canceled",
                             ended_at=ts("2025-04-01")))
    invoices.append(invoice("in_K_0", "cus_K", "sub_K", "paid", ts("2025-01-01"), [
        line_old("il_K_0_1", "sub_K", "si_K", "price_metered", 0, ts("2025-01-01"), ts("2025-01-01"), quantity=0)],
        shape="old"))
    for n, ((a, b), amt) in enumerate(zip(_monthly("2025-01-01", 3), (3000, 4500, 2000), strict=True), start=1):
        iid = f"in_K_{n}"
        invoices.append(invoice(iid, "cus_K", "sub_K", "paid", b, [
            line_old(f"il_K_{n}_1", "sub_K", "si_K", "price_metered", amt, a, b, quantity=amt // 10)], shape="old"))
    # L: paid 1 February to 1 April, cancelled immediately on 20 March: MRR ends on 20 March (M8).
    subs.append(subscription("sub_L", "cus_L", "2025-02-01", [("si_L", "price_month100", 1)], "canceled",
                             ended_at=ts("2025-03-20", 15), canceled_at=ts("2025-03-20", 15)))
    monthly_new("L", "price_month100", 10000, _monthly("2025-02-01", 2), ["paid"] * 2)
    # M: paid, void, uncollectible, open, draft (old shape): MRR only in January and April (M1).
    subs.append(subscription("sub_M", "cus_M", "2025-01-01", [("si_M", "price_month100", 1)], "past_due"))
    monthly_old("M", "price_month100", 10000, _monthly("2025-01-01", 5),
                ["paid", "void", "uncollectible", "open", "draft"])
    # N: 15000 JPY a month (zero-decimal: 15000 yen, not 150) x 0.007 = 105 USD (X1).
    subs.append(subscription("sub_N", "cus_N", "2025-01-01", [("si_N", "price_jpy", 1)]))
    monthly_new("N", "price_jpy", 15000, _monthly("2025-01-01", 6), ["paid"] * 6, currency="jpy")
    # O: three items (20 x 3 seats, 10, 5) = 75 from 1 March, one row per item (M9); the March invoice also
    # bills a 500.00 one-off setup fee (C1), credited 100.00 (C3; a void credit note of 50.00 does nothing).
    subs.append(subscription("sub_O", "cus_O", "2025-03-01", [("si_O1", "price_seat20", 3),
                                                              ("si_O2", "price_addon10", 1),
                                                              ("si_O3", "price_addon5", 1)]))
    for n, (a, b) in enumerate(_monthly("2025-03-01", 4), start=1):
        iid = f"in_O_{n}"
        lines = [line_new(f"il_O_{n}_1", iid, "sub_O", "si_O1", "price_seat20", 6000, a, b, quantity=3),
                 line_new(f"il_O_{n}_2", iid, "sub_O", "si_O2", "price_addon10", 1000, a, b),
                 line_new(f"il_O_{n}_3", iid, "sub_O", "si_O3", "price_addon5", 500, a, b)]
        if n == 1:
            lines.append(line_new("il_O_1_4", iid, "sub_O", None, "price_setup500", 50000, a, a,
                                  invoice_item="ii_O_setup"))
        total = sum(line["amount"] for line in lines)
        invoices.append(invoice(iid, "cus_O", "sub_O", "paid", a, lines, extra={"payments": _list([{
            "id": f"inpay_O_{n}", "object": "invoice_payment", "amount_paid": total, "amount_requested": total,
            "created": a, "currency": "usd", "invoice": iid, "is_default": True, "livemode": False,
            "payment": {"payment_intent": f"pi_O{n}", "type": "payment_intent"}, "status": "paid",
            "status_transitions": {"canceled_at": None, "paid_at": a}}], f"/v1/invoice_payments?invoice={iid}")}))
        charges.append(charge(f"ch_Opay{n}", "cus_O", total, a, payment_intent=f"pi_O{n}"))
    credit_notes.append(credit_note("cn_O1", "in_O_1", "il_O_1_4", 10000, ts("2025-03-05"), "cus_O"))
    credit_notes.append(credit_note("cn_O2", "in_O_1", "il_O_1_4", 5000, ts("2025-03-06"), "cus_O", status="void"))
    # O's standalone charge of 200.00 on 10 April, 50.00 refunded on 12 April: a 150.00 charge (C2, C4).
    charges.append(charge("ch_Osolo", "cus_O", 20000, ts("2025-04-10", 9), refunded=5000))
    refunds.append(refund("re_O1", "ch_Osolo", 5000, ts("2025-04-12")))
    # B's invoice payment, partly refunded: changes nothing (C4).
    charges.append(charge("ch_Bpay", "cus_B", 120000, ts("2025-01-01"), invoice="in_B_1", payment_intent="pi_B1",
                          refunded=1000))
    refunds.append(refund("re_B1", "ch_Bpay", 1000, ts("2025-01-20")))
    # A failed charge is nothing.
    charges.append(charge("ch_Pfail", "cus_P", 9900, ts("2025-02-02"), status="failed"))
    return {
        "customers": customers, "products": PRODUCTS, "prices": list(PRICES.values()), "coupons": [COUPON],
        "subscriptions": subs, "invoices": invoices, "charges": charges, "refunds": refunds,
        "credit_notes": credit_notes,
    }


COUPON = {"id": "SAVE20", "object": "coupon", "amount_off": 2000, "created": ts("2024-12-01"), "currency": "usd",
          "duration": "forever", "duration_in_months": None, "livemode": False, "max_redemptions": None,
          "metadata": {}, "name": "20 off", "percent_off": None, "redeem_by": None, "times_redeemed": 1,
          "valid": True}


def charge(cid: str, cus: str, amount: int, created: int, status: str = "succeeded", refunded: int = 0,
           invoice: str | None = None, payment_intent: str | None = None) -> dict[str, Any]:
    ch: dict[str, Any] = {
        "id": cid, "object": "charge", "amount": amount, "amount_captured": amount if status == "succeeded" else 0,
        "amount_refunded": refunded, "balance_transaction": None, "billing_details": {"address": None,
                                                                                      "email": None, "name": None,
                                                                                      "phone": None},
        "calculated_statement_descriptor": "EXAMPLE SAAS", "captured": status == "succeeded", "created": created,
        "currency": "usd", "customer": cus, "description": None, "disputed": False, "failure_code": None,
        "failure_message": None, "livemode": False, "metadata": {}, "outcome": None, "paid": status == "succeeded",
        "payment_intent": payment_intent, "payment_method": None, "receipt_url": None,
        "refunded": refunded == amount, "status": status,
    }
    if invoice is not None:
        ch["invoice"] = invoice
    return ch


def refund(rid: str, ch: str, amount: int, created: int) -> dict[str, Any]:
    return {"id": rid, "object": "refund", "amount": amount, "balance_transaction": None, "charge": ch,
            "created": created, "currency": "usd", "metadata": {}, "payment_intent": None, "reason": None,
            "receipt_number": None, "source_transfer_reversal": None, "status": "succeeded",
            "transfer_reversal": None}


def credit_note(cid: str, inv: str, line: str, amount: int, created: int, cus: str,
                status: str = "issued") -> dict[str, Any]:
    return {
        "id": cid, "object": "credit_note", "amount": amount, "amount_shipping": 0, "created": created,
        "currency": "usd", "customer": cus, "customer_balance_transaction": None, "discount_amount": 0,
        "discount_amounts": [], "invoice": inv,
        "lines": _list([{"id": "cnli_" + cid[3:], "object": "credit_note_line_item", "amount": amount,
                         "description": None, "discount_amount": 0, "discount_amounts": [], "invoice_line_item": line,
                         "livemode": False, "quantity": 1, "taxes": [], "type": "invoice_line_item",
                         "unit_amount": None, "unit_amount_decimal": None}], f"/v1/credit_notes/{cid}/lines"),
        "livemode": False, "memo": None, "metadata": {}, "number": cid.upper(), "out_of_band_amount": None,
        "pdf": "", "reason": "order_change", "refunds": [], "status": status, "subtotal": amount,
        "total": amount, "type": "pre_payment", "voided_at": created if status == "void" else None,
    }


def write(directory: Path, jsonl: tuple[str, ...] = ("invoices", "charges")) -> Path:
    """Write the account as Stripe list objects (pretty-printed), and ``jsonl`` files as JSON lines."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, objs in build().items():
        path = directory / f"{name}.json"
        if name in jsonl:
            path.write_text("".join(json.dumps(o, sort_keys=True) + "\n" for o in objs), encoding="utf-8")
        else:
            path.write_text(json.dumps({"object": "list", "data": objs, "has_more": False, "url": f"/v1/{name}"},
                                       indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return directory


if __name__ == "__main__":  # pragma: no cover - regenerates tests/fixtures/stripe/account
    write(Path(__file__).resolve().parents[2] / "fixtures" / "stripe" / "account")
