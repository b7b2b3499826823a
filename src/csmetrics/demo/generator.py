"""The synthetic demo company: every table of SPEC section 4, with known behaviour planted.

:func:`generate` writes ``accounts``, ``subscriptions``, ``charges``, ``tickets``,
``survey_responses``, ``usage_events``, ``renewals``, ``costs``, ``fx_rates`` and a
``csmetrics.toml`` (base currency USD) into a directory, as CSV or Parquet.

The company: SaaS accounts in three segments (smb, mid_market, enterprise), eight
CSMs, four regions, ten industries, seven plan tiers billed monthly, quarterly or
annually; about 45% of the accounts are already customers when the window opens
and the rest sign up over it (the company grows). About 15% of the accounts pay
in EUR (monthly ``fx_rates`` rows start before the first subscription).
Subscriptions are upgraded and downgraded (a new row replaces the old one, which
ends the day the new one starts), churn at the end of a billing term, and some
churned accounts come back after a gap (reactivation). Quantity and discount are
used on some rows; one-off charges come in every kind.

Planted behaviour (the truth later analytics should find; also in ``PLANTED``
and docs/demo.md):

1. **Latent risk.** Each account has a hidden risk ``z ~ N(0, 1)``. Churn hazard
   grows as ``exp(0.75 z)``; riskier accounts open more tickets with more
   contacts, answer NPS lower (detractors 0-6 for the riskiest) and CSAT lower.
   Usage falls over the last ~90 days before a churn (to ~8% of normal), and
   NPS/CSAT answers in the last ~150 days before a churn drop sharply.
2. **Comment themes.** Complaints (on detractor and low CSAT/CES answers)
   each belong to one theme and contain its key phrases: billing (invoice,
   charged twice, refund), performance (slow, loading, timeout), onboarding
   (setup, documentation, confusing), support (response time, waiting, no
   answer). Praise on promoters says "easy to use", "great support", "love the
   dashboards". A few outliers contradict their score: a top score with a
   clearly negative comment (``OUTLIER_NEGATIVE``) and a bottom score with a
   clearly positive one (``OUTLIER_POSITIVE``).
3. **A bad book.** The accounts of CSM ``Henry Walsh`` churn with 2.6x the
   hazard of the others.
4. **Adoption.** Accounts use 1-12 of the 12 features; hazard falls by ~15%
   per extra feature adopted (``exp(-0.16 (features - 6))``), so accounts using
   few features churn more.

Output is deterministic for the same arguments: accounts are simulated in fixed
batches of ``BATCH`` with one NumPy Generator per batch (seeded from
``(seed, batch number)``), and memory stays bounded by a batch.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from csmetrics import clock
from csmetrics.demo import activity, lifecycle
from csmetrics.demo import catalog as C
from csmetrics.demo.dates import month_index, month_start, to_days
from csmetrics.demo.lifecycle import Window
from csmetrics.demo.writer import FORMATS, TableWriter

BATCH = 20_000
TABLES = ("accounts", "subscriptions", "charges", "tickets", "survey_responses", "usage_events",
          "renewals", "costs", "fx_rates")
DEFAULT_EVENTS_PER_ACCOUNT = 100

PLANTED: dict[str, Any] = {
    "risk": {
        "description": "latent z ~ N(0,1) per account; churn hazard * exp(0.75 z)",
        "hazard_weight": lifecycle.RISK_WEIGHT,
        "usage_decline_days": activity.DECLINE_DAYS,
        "survey_sour_days": activity.NEAR_CHURN_DAYS,
        "detractor_max": 6,
    },
    "themes": dict(C.THEME_KEYWORDS),
    "theme_share": dict(zip(C.THEMES, C.THEME_SHARE, strict=True)),
    "praise_keywords": C.PRAISE_KEYWORDS,
    "outliers": {"negative_comments": C.OUTLIER_NEGATIVE, "positive_comments": C.OUTLIER_POSITIVE,
                 "negative_on": "nps 9-10, csat 5, ces 7", "positive_on": "nps 0-3, csat 1, ces 1"},
    "bad_csm": C.BAD_CSM,
    "bad_csm_hazard_multiplier": lifecycle.BAD_CSM_MULT,
    "csms": C.CSMS,
    "adoption": {"features": C.FEATURES, "hazard_per_feature": float(np.exp(-lifecycle.ADOPTION_SLOPE)),
                 "low_adoption_max_features": 3},
    "segments": C.SEGMENTS,
    "second_currency": "EUR",
}

Progress = Callable[[int, int], None]


def default_end(today: dt.date | None = None) -> dt.date:
    """The first day of the current month (UTC): the data stops before today."""
    today = today or clock.today()
    return today.replace(day=1)


def window_start(end: dt.date, months: int) -> dt.date:
    """``end`` moved back ``months`` calendar months (day clamped to the month's length)."""
    year, month0 = divmod(end.year * 12 + end.month - 1 - months, 12)
    return dt.date(year, month0 + 1, min(end.day, calendar.monthrange(year, month0 + 1)[1]))


def _fx_table(rng: np.random.Generator, first_day: int, end: int) -> pa.Table:
    """Monthly EUR rates (USD per EUR) from the month before ``first_day`` until ``end``."""
    m0 = int(month_index(np.array([first_day]))[0]) - 1
    m1 = int(month_index(np.array([end - 1]))[0])
    months = np.arange(m0, m1 + 1)
    steps = rng.normal(0, 0.012, len(months))
    rate = np.clip(1.08 * np.exp(np.cumsum(steps) - steps[0]), 0.9, 1.3)
    return pa.table({
        "currency": pa.array(["EUR"] * len(months), pa.string()),
        "date": pa.array(month_start(months).astype(np.int32), pa.date32()),
        "rate": pa.array(np.round(rate, 4), pa.float64()),
    })


def _costs_table(rng: np.random.Generator, start: int, end: int, accounts: int) -> pa.Table:
    """Monthly customer-success costs per category, scaled to the company's size and growth."""
    months = np.arange(int(month_index(np.array([start]))[0]), int(month_index(np.array([end - 1]))[0]) + 1)
    k = len(C.COST_CATEGORIES)
    growth = 1.0 + 0.35 * np.arange(len(months)) / max(len(months) - 1, 1)
    base = np.array(C.COST_BASE)[None, :] * (accounts / 2000.0) * growth[:, None]
    amount = np.round(base * np.exp(rng.normal(0, 0.08, (len(months), k))), 2).ravel()
    days = np.repeat(month_start(months), k)
    cat = np.tile(np.arange(k), len(months))
    return pa.table({
        "cost_id": lifecycle.seq_ids("K", 1, len(amount), 6),
        "incurred_on": pa.array(days.astype(np.int32), pa.date32()),
        "amount": pa.array(amount, pa.float64()),
        "category": lifecycle.categories(C.COST_CATEGORIES, cat),
    })


def generate(
    out: Path,
    accounts: int = 2000,
    seed: int = 0,
    months: int = 24,
    end: dt.date | None = None,
    fmt: str = "csv",
    events_per_account: int | None = None,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Write a synthetic company of ``accounts`` accounts into ``out``; return rows per table.

    ``months`` of activity end (exclusively) at ``end``, by default the first day
    of the current month (UTC). ``fmt`` is ``csv`` or ``parquet``.
    ``events_per_account`` is the mean number of usage events per account
    (default 100). ``progress(done, total)`` is called after each batch of accounts.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if accounts < 1:
        raise ValueError("accounts must be at least 1")
    if months < 1:
        raise ValueError("months must be at least 1")
    end = end or default_end()
    E = to_days(end)
    W0 = to_days(window_start(end, months))
    win = Window(start=W0, end=E, events_per_account=float(
        DEFAULT_EVENTS_PER_ACCOUNT if events_per_account is None else events_per_account))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    id_width = max(6, len(str(accounts)))
    writers = {name: TableWriter(out, name, fmt) for name in TABLES}
    counters = dict.fromkeys(("subscriptions", "charges", "tickets", "survey_responses", "renewals"), 1)
    schemas: dict[str, pa.Schema] = {}

    def put(name: str, table: pa.Table) -> None:
        schemas.setdefault(name, table.schema)
        if table.num_rows:
            writers[name].write(table)
        if name in counters:
            counters[name] += table.num_rows

    try:
        for first in range(0, accounts, BATCH):
            n = min(BATCH, accounts - first)
            rng = np.random.default_rng(np.random.SeedSequence([seed, first // BATCH, 1]))
            b = lifecycle.simulate_accounts(rng, first + 1, n, win, id_width)
            lives = lifecycle.life_windows(b, win)
            put("accounts", lifecycle.accounts_table(b, rng))
            put("subscriptions", lifecycle.subscriptions_table(b, counters["subscriptions"]))
            put("renewals", lifecycle.renewals_table(b, win, counters["renewals"]))
            put("charges", lifecycle.charges_table(b, rng, lives, counters["charges"]))
            tickets, facts = activity.tickets(b, rng, lives, win, counters["tickets"])
            put("tickets", tickets)
            put("survey_responses", activity.surveys(b, rng, lives, win, facts, counters["survey_responses"]))
            put("usage_events", activity.usage(b, rng, lives, win))
            if progress is not None:
                progress(first + n, accounts)
        grng = np.random.default_rng(np.random.SeedSequence([seed, 0, 2]))
        # Installed-base subscriptions start at most 730 days before the window.
        put("fx_rates", _fx_table(grng, W0 - 731, E))
        put("costs", _costs_table(grng, W0, E, accounts))
    finally:
        for name, w in writers.items():
            w.close(schemas.get(name))
    (out / "csmetrics.toml").write_text(
        "# Settings of the csmetrics demo company (SPEC section 4).\nbase_currency = \"USD\"\n", encoding="utf-8")
    return {name: writers[name].rows for name in TABLES}
