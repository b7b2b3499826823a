"""Data shapes that `csmetrics demo` does not make, written as Parquet for `make bench`.

    .venv/bin/python bench/shapes.py SHAPE OUT_DIR [--accounts 200000] [--seed 7]
    .venv/bin/python bench/shapes.py --validate DATA_DIR     # validation only, as ingest runs it (timed)

Each shape is a company of ``accounts`` accounts generated with numpy and
pyarrow (vectorised: 200k accounts and 20M usage events in well under a
minute), deterministic for a seed:

- ``churny``: many subscriptions per account (plan changes every few months,
  about 5 per account), 1.2M tickets, 3M survey answers (NPS, CSAT, CES,
  half with a comment), 600k charges, 20M usage events over 25 features,
  24 months;
- ``wide``: a catalogue of 80 features (more than the 62 of the bit-mask
  path), five years of history (60 months), 20M usage events, 2
  subscriptions and 5 tickets per account;
- ``whale``: one huge account among ordinary ones: ``A1`` has 5M of
  the 20M usage events, 300 subscriptions (a plan change every few days),
  50k tickets and 100k survey answers; the others have 75 events, 2
  subscriptions and 5 tickets each, over 24 months (skew: one group, one
  partition or one key far larger than the rest).

Sizes scale with ``accounts``; at 200k the figures above hold. Dates end on
2026-01-01, like the demo company of the benchmark. Types are what an export
usually holds: dates as ``date32``, timestamps as UTC seconds, ids and
categories as (dictionary-encoded) strings, amounts as doubles.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

END = dt.date(2026, 1, 1)
EPOCH = dt.date(1970, 1, 1)
DAY = 86_400


@dataclass(frozen=True)
class Shape:
    name: str
    months: int
    features: int
    subs_per_account: float
    tickets_per_account: float
    answers_per_account: float
    charges_per_account: float
    events_per_account: float
    description: str
    # One huge account (A1): its usage events, subscriptions, tickets and survey answers.
    whale_events: int = 0
    whale_subs: int = 0
    whale_tickets: int = 0
    whale_answers: int = 0


SHAPES = {
    "churny": Shape("churny", 24, 25, 5.0, 6.0, 15.0, 3.0, 100.0,
                    "~5 subscriptions per account (frequent plan changes), 6 tickets and 15 survey answers "
                    "per account, 24 months, 25 features"),
    "wide": Shape("wide", 60, 80, 2.0, 5.0, 3.0, 3.0, 100.0,
                  "80 features, 60 months of history, 2 subscriptions and 5 tickets per account"),
    "whale": Shape("whale", 24, 25, 2.0, 5.0, 3.0, 3.0, 75.0,
                   "one account with 5M usage events, 300 subscriptions, 50k tickets and 100k answers; "
                   "the others 75 events, 2 subscriptions and 5 tickets each, 24 months",
                   whale_events=5_000_000, whale_subs=300, whale_tickets=50_000, whale_answers=100_000),
}


def _ids(prefix: str, n: int) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(np.arange(1, n + 1)), pa.string()), "")


def _dict(indices: np.ndarray, values: list[str] | pa.Array) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(indices.astype(np.int32)), pa.array(values, pa.string()))


def _days(days: np.ndarray) -> pa.Array:
    return pa.array(days.astype(np.int32), pa.date32())


def _seconds(secs: np.ndarray) -> pa.Array:
    return pa.array(secs.astype(np.int64), pa.timestamp("s", tz="UTC"))


def generate(shape: Shape, out: Path, accounts: int, seed: int = 7) -> dict[str, int]:
    """Write the shape's tables as ``out/<table>.parquet``; returns rows per table."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    end = (END - EPOCH).days
    start = end - round(shape.months * 30.44)
    n = accounts
    rows: dict[str, int] = {}

    def write(name: str, table: pa.Table) -> None:
        pq.write_table(table, out / f"{name}.parquet", row_group_size=1 << 20)
        rows[name] = table.num_rows

    account_ids = _ids("A", n)
    created = rng.integers(start - 365, end - 30, n)
    if shape.whale_events:
        created[0] = start - 365  # the whale is a customer over the whole history
    segs, csms = ["smb", "mid", "enterprise"], [f"csm{i:02d}" for i in range(40)]
    plans = ["starter", "team", "business", "enterprise"]
    write("accounts", pa.table({
        "account_id": account_ids,
        "name": pc.binary_join_element_wise("Company ", account_ids, ""),
        "created_at": _days(created),
        "segment": _dict(rng.integers(0, 3, n), segs),
        "csm": _dict(rng.integers(0, len(csms), n), csms),
        "plan": _dict(rng.integers(0, 4, n), plans),
        "region": _dict(rng.integers(0, 4, n), ["emea", "amer", "apac", "latam"]),
        "industry": _dict(rng.integers(0, 6, n), ["saas", "retail", "health", "finance", "media", "edu"]),
        "seats": pa.array(rng.integers(1, 500, n)),
    }))

    # Subscriptions: each account a chain of contracts, one after the other (plan changes);
    # the last is open-ended unless the account churned.
    k = np.maximum(1, rng.poisson(shape.subs_per_account, n))
    if shape.whale_subs:
        k[0] = shape.whale_subs
    acct = np.repeat(np.arange(n), k)
    first = np.repeat(np.cumsum(k) - k, k)
    pos = np.arange(acct.size) - first
    begin = np.maximum(created, start)[acct]
    span = np.maximum(end - begin, 30)
    # Chain boundaries: sorted uniform cut points within the account's span.
    cuts = rng.random(acct.size)
    cuts[pos == 0] = 0.0
    order = np.lexsort((cuts, acct))
    cuts = cuts[order]
    s_at = begin + (cuts * span * 0.95).astype(np.int64)
    last = np.r_[acct[1:] != acct[:-1], True]
    nxt = np.r_[s_at[1:], 0]
    churned = rng.random(n) < 0.2
    e_at = np.where(last, np.where(churned[acct], np.minimum(s_at + rng.integers(30, 400, acct.size), end), -1),
                    np.maximum(nxt, s_at))
    ended = pa.array(e_at.astype(np.int32), pa.date32(), mask=e_at < 0)
    ns = acct.size
    write("subscriptions", pa.table({
        "subscription_id": _ids("S", ns),
        "account_id": account_ids.take(pa.array(acct)),
        "started_at": _days(s_at),
        "ended_at": ended,
        "amount": np.round(rng.gamma(2.0, 150.0, ns), 2),
        "interval": _dict(rng.choice(4, ns, p=[0.7, 0.1, 0.18, 0.02]), ["month", "quarter", "year", "week"]),
        "quantity": rng.integers(1, 20, ns).astype(np.float64),
        "discount": np.where(rng.random(ns) < 0.2, 0.1, 0.0),
        "currency": _dict(np.zeros(ns, dtype=np.int32), ["USD"]),
        "plan": _dict(rng.integers(0, 4, ns), plans),
    }))

    def per_account(rate: float, whale: int = 0) -> np.ndarray:
        counts = rng.poisson(rate, n)
        if whale:
            counts[0] = whale
        return np.repeat(np.arange(n), counts)

    def days_in_life(a: np.ndarray) -> np.ndarray:
        lo = np.maximum(created, start)[a]
        return lo + (rng.random(a.size) * (end - lo)).astype(np.int64)

    a = per_account(shape.charges_per_account)
    write("charges", pa.table({
        "charge_id": _ids("C", a.size),
        "account_id": account_ids.take(pa.array(a)),
        "charged_at": _days(days_in_life(a)),
        "amount": np.round(rng.gamma(1.5, 80.0, a.size), 2),
        "currency": _dict(np.zeros(a.size, dtype=np.int32), ["USD"]),
        "kind": _dict(rng.integers(0, 6, a.size), ["upsell", "cross_sell", "add_on", "loyalty", "purchase", "other"]),
    }))

    a = per_account(shape.tickets_per_account, shape.whale_tickets)
    opened = days_in_life(a) * DAY + rng.integers(0, DAY, a.size)
    resolved = opened + rng.exponential(DAY * 2, a.size).astype(np.int64)
    agents = [f"agent{i:03d}" for i in range(200)]
    ticket_ids = _ids("T", a.size)
    write("tickets", pa.table({
        "ticket_id": ticket_ids,
        "account_id": account_ids.take(pa.array(a)),
        "opened_at": _seconds(opened),
        "resolved_at": pa.array(resolved, pa.timestamp("s", tz="UTC"), mask=rng.random(a.size) < 0.05),
        "contacts": pa.array(1 + rng.poisson(1.0, a.size)),
        "agent": _dict(rng.integers(0, len(agents), a.size), agents),
        "channel": _dict(rng.integers(0, 3, a.size), ["email", "chat", "phone"]),
    }))

    a = per_account(shape.answers_per_account, shape.whale_answers)
    survey = rng.choice(3, a.size, p=[0.5, 0.35, 0.15])
    hi = np.array([10, 5, 7])[survey]
    lo = np.array([0, 1, 1])[survey]
    score = lo + np.minimum(rng.binomial(hi - lo, 0.75), hi - lo)
    comments = ["great support", "too slow", "love the new dashboard", "pricing is confusing",
                "onboarding was smooth", "missing integrations", "the app crashes on export", "fine"]
    write("survey_responses", pa.table({
        "response_id": _ids("R", a.size),
        "account_id": account_ids.take(pa.array(a)),
        "survey": _dict(survey, ["nps", "csat", "ces"]),
        "score": score.astype(np.float64),
        "responded_at": _seconds(days_in_life(a) * DAY + rng.integers(0, DAY, a.size)),
        "comment": pa.DictionaryArray.from_arrays(
            pa.array(rng.integers(0, len(comments), a.size).astype(np.int32), mask=rng.random(a.size) < 0.5),
            pa.array(comments)),
        "ticket_id": pa.array([None] * a.size, pa.string()),
        "respondent": pa.array([None] * a.size, pa.string()),
    }))

    # Usage: written in row groups of ~1M so the generator's memory stays small.
    features = [f"feature_{i:03d}" for i in range(shape.features)]
    weights = 1.0 / np.arange(1, shape.features + 1)
    weights /= weights.sum()
    users_per_account = 5
    schema = pa.schema([("account_id", pa.string()), ("occurred_at", pa.timestamp("s", tz="UTC")),
                        ("feature", pa.dictionary(pa.int32(), pa.string())),
                        ("user_id", pa.dictionary(pa.int32(), pa.string()))])
    counts = rng.poisson(shape.events_per_account, n)
    if shape.whale_events:
        counts[0] = shape.whale_events  # (written in the first row groups, with its slice's accounts)
    users = pc.binary_join_element_wise(
        pc.binary_join_element_wise("U", pc.cast(pa.array(np.repeat(np.arange(n), users_per_account)), pa.string()),
                                    ""),
        pc.cast(pa.array(np.tile(np.arange(users_per_account), n)), pa.string()), "-")
    total = 0
    with pq.ParquetWriter(out / "usage_events.parquet", schema) as w:
        step = max(1, (1 << 20) // max(1, int(shape.events_per_account)))
        for lo_a in range(0, n, step):
            sl = slice(lo_a, min(n, lo_a + step))
            a = lo_a + np.repeat(np.arange(sl.stop - sl.start), counts[sl])
            ts = days_in_life(a) * DAY + rng.integers(0, DAY, a.size)
            user = a * users_per_account + rng.integers(0, users_per_account, a.size)
            w.write_table(pa.table({
                "account_id": pc.cast(account_ids.take(pa.array(a)), pa.string()),
                "occurred_at": _seconds(ts),
                "feature": _dict(rng.choice(shape.features, a.size, p=weights), features),
                # (the dictionary of a row group holds its own accounts' users only: with every user in every
                # row group, 2M accounts made a 20 GB file)
                "user_id": pa.DictionaryArray.from_arrays(
                    pa.array((user - sl.start * users_per_account).astype(np.int32)),
                    users.slice(sl.start * users_per_account, (sl.stop - sl.start) * users_per_account)),
            }, schema=schema))
            total += a.size
    rows["usage_events"] = total

    a = np.arange(n)[rng.random(n) < 0.6]
    write("renewals", pa.table({
        "renewal_id": _ids("N", a.size),
        "account_id": account_ids.take(pa.array(a)),
        "due_on": _days(days_in_life(a)),
        "outcome": _dict(rng.choice(3, a.size, p=[0.75, 0.15, 0.1]), ["renewed", "churned", "pending"]),
    }))
    m = shape.months * 4
    write("costs", pa.table({
        "cost_id": _ids("K", m),
        "incurred_on": _days(start + np.arange(m) * (end - start) // m),
        "amount": np.round(rng.gamma(3.0, 2000.0 * max(1, n // 20_000), m), 2),
        "category": _dict(rng.integers(0, 7, m),
                          ["payroll", "programs", "services", "training", "marketing", "tools", "other"]),
    }))
    (out / "csmetrics.toml").write_text('base_currency = "USD"\n', encoding="utf-8")
    return rows


def validate_only(data: Path) -> dict[str, object]:
    """Validate ``data`` as ``csmetrics ingest`` does (same memory cap), writing nothing."""
    import duckdb

    from csmetrics.io.dataset import _inputs, cap_memory
    from csmetrics.io.validate import validate

    t0 = time.perf_counter()
    files, config, settings_defects = _inputs(data)
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        cap_memory(con, con)
        validate(con, files, config, settings_defects=settings_defects)
    finally:
        con.close()
    return {"validated": str(data), "seconds": round(time.perf_counter() - t0, 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("shape", nargs="?", choices=sorted(SHAPES))
    ap.add_argument("out", nargs="?", type=Path)
    ap.add_argument("--accounts", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--validate", type=Path, help="only validate this data directory (timed)")
    args = ap.parse_args()
    if args.validate is not None:
        print(json.dumps(validate_only(args.validate)))
        return 0
    if args.shape is None or args.out is None:
        ap.error("give SHAPE and OUT_DIR, or --validate DATA_DIR")
    t0 = time.perf_counter()
    rows = generate(SHAPES[args.shape], args.out, args.accounts, args.seed)
    print(json.dumps({"shape": args.shape, "rows": rows, "seconds": round(time.perf_counter() - t0, 2)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
