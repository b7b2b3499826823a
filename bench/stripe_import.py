"""`make bench` stage: `csmetrics import stripe` of 10k customers and 200k invoices (docs/stripe.md#scale).

    .venv/bin/python bench/stripe_import.py [--customers 10000] [--invoices 200000]

Writes a deterministic Stripe-shaped account (seed 42) as JSON lines under
``.bench/stripe/<customers>x<invoices>/`` (reused while this file is unchanged):
customers with metadata, one subscription per customer with a monthly, yearly
or weekly price, and invoices in the current API's line shape (every fifth in
the older ``price`` / ``type`` shape), about 1 in 20 with a one-off line, 1 in
50 void. Then it runs ``csmetrics import stripe`` into a fresh workspace as a
child process and prints one JSON object: seconds, peak RSS (MB) and the rows
written. ``bench/run.py`` runs it last and keeps the figures in its report.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
T0 = 1704067200  # 2024-01-01T00:00:00Z
DAY = 86400
PRICES = [("price_m", "month", 1, 4900), ("price_m2", "month", 1, 19900), ("price_y", "year", 1, 499000),
          ("price_w", "week", 2, 2500)]


def _period(start: int, interval: str, count: int) -> int:
    return start + {"month": 30, "year": 365, "week": 7}[interval] * count * DAY


def generate(out: Path, customers: int, invoices: int, seed: int = 42) -> None:
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "prices.json").open("w") as f:
        for pid, interval, count, amount in PRICES:
            f.write(json.dumps({"id": pid, "object": "price", "currency": "usd", "product": "prod_1",
                                "recurring": {"interval": interval, "interval_count": count,
                                              "usage_type": "licensed"}, "unit_amount": amount}) + "\n")
    (out / "products.json").write_text(json.dumps({"id": "prod_1", "object": "product", "name": "Core"}) + "\n")
    plans = [PRICES[rng.randrange(len(PRICES))] for _ in range(customers)]
    starts = [T0 + rng.randrange(365) * DAY for _ in range(customers)]
    with (out / "customers.json").open("w") as f, (out / "subscriptions.json").open("w") as s:
        for i in range(customers):
            f.write(json.dumps({"id": f"cus_{i:06d}", "object": "customer", "created": starts[i] - DAY,
                                "email": f"c{i}@example.com", "name": f"Customer {i}", "currency": "usd",
                                "metadata": {"segment": rng.choice(["smb", "mid", "enterprise"])}}) + "\n")
            s.write(json.dumps({"id": f"sub_{i:06d}", "object": "subscription", "customer": f"cus_{i:06d}",
                                "status": "active", "created": starts[i], "ended_at": None}) + "\n")
    per = invoices // customers
    with (out / "invoices.json").open("w") as f:
        n = 0
        for i in range(customers):
            pid, interval, count, amount = plans[i]
            start = starts[i]
            for _ in range(per + (1 if i < invoices - per * customers else 0)):
                end = _period(start, interval, count)
                iid = f"in_{n:07d}"
                qty = 1 + (i % 5)
                if n % 5:
                    line = {"id": f"il_{n:07d}", "object": "line_item", "amount": amount * qty, "currency": "usd",
                            "discount_amounts": [], "invoice": iid, "metadata": {},
                            "parent": {"type": "subscription_item_details", "subscription_item_details": {
                                "subscription": f"sub_{i:06d}", "subscription_item": f"si_{i:06d}",
                                "proration": False, "invoice_item": None}},
                            "period": {"start": start, "end": end},
                            "pricing": {"type": "price_details", "price_details": {"price": pid, "product": "prod_1"},
                                        "unit_amount_decimal": str(amount)},
                            "quantity": qty, "taxes": []}
                else:
                    line = {"id": f"il_{n:07d}", "object": "line_item", "amount": amount * qty,
                            "amount_excluding_tax": amount * qty, "currency": "usd", "discount_amounts": [],
                            "metadata": {}, "period": {"start": start, "end": end}, "proration": False,
                            "price": {"id": pid, "object": "price", "recurring": {"interval": interval,
                                                                                   "interval_count": count}},
                            "quantity": qty, "subscription": f"sub_{i:06d}", "subscription_item": f"si_{i:06d}",
                            "tax_amounts": [], "type": "subscription"}
                lines = [line]
                if n % 20 == 7:
                    lines.append({"id": f"il_{n:07d}x", "object": "line_item", "amount": 15000, "currency": "usd",
                                  "discount_amounts": [], "invoice": iid, "metadata": {},
                                  "parent": {"type": "invoice_item_details", "invoice_item_details": {
                                      "invoice_item": f"ii_{n}", "proration": False, "subscription": None}},
                                  "period": {"start": start, "end": start}, "quantity": 1, "taxes": []})
                status = "void" if n % 50 == 3 else "paid"
                f.write(json.dumps({"id": iid, "object": "invoice", "customer": f"cus_{i:06d}", "status": status,
                                    "created": start, "currency": "usd",
                                    "lines": {"object": "list", "data": lines, "has_more": False,
                                              "url": f"/v1/invoices/{iid}/lines"}}) + "\n")
                start = end
                n += 1


def run(customers: int, invoices: int) -> dict[str, object]:
    key = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
    data = ROOT / ".bench" / "stripe" / f"{customers}x{invoices}"
    stamp = data / ".source"
    if not stamp.exists() or stamp.read_text() != key:
        shutil.rmtree(data, ignore_errors=True)
        t = time.perf_counter()
        generate(data, customers, invoices)
        stamp.write_text(key)
        print(f"  generated {data} in {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)
    ws = data.parent / f"{customers}x{invoices}.duckdb"
    ws.unlink(missing_ok=True)
    t = time.perf_counter()
    proc = subprocess.run([str(BIN / "csmetrics"), "import", "stripe", str(data), "--workspace", str(ws)],
                          capture_output=True, text=True)
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    size = sum(p.stat().st_size for p in data.glob("*.json"))
    return {"customers": customers, "invoices": invoices, "json_mb": round(size / 2**20, 1),
            "seconds": round(seconds, 2), "peak_rss_mb": round(peak, 1), "ok": proc.returncode == 0,
            **({} if proc.returncode == 0 else {"output": (proc.stdout + proc.stderr)[-600:]})}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--customers", type=int, default=10_000)
    ap.add_argument("--invoices", type=int, default=200_000)
    args = ap.parse_args()
    result = run(args.customers, args.invoices)
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
