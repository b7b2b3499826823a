"""Accounts and their commercial life: subscriptions, renewals and one-off charges.

One batch of accounts is simulated at a time with whole-array NumPy draws.
Each account has a latent risk ``z`` (standard normal) that drives its churn
hazard together with its CSM and its feature adoption (see PLANTED in
:mod:`csmetrics.demo.generator`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from csmetrics.demo import catalog as C
from csmetrics.demo.dates import NO_END, Days, add_months, clamp_dom28, whole_months

F = npt.NDArray[np.float64]
I = npt.NDArray[np.int64]  # noqa: E741
B = npt.NDArray[np.bool_]

MONTH_D = 30.4375
# Churn hazard per month by segment before the multipliers (mean multiplier ~1).
BASE_HAZARD = np.array([0.030, 0.014, 0.006])
RISK_WEIGHT = 0.75  # hazard *= exp(RISK_WEIGHT * z)
BAD_CSM_MULT = 2.6
ADOPTION_SLOPE = 0.16  # hazard *= exp(-ADOPTION_SLOPE * (features - 6))
INSTALLED_SHARE = 0.45  # accounts already customers when the window opens
CHANGE_RATE = np.array([0.024, 0.032, 0.040])  # plan changes per month by segment
REACTIVATION_P = 0.22


@dataclass(frozen=True)
class Window:
    """The simulated period: activity in [start, end) (days since epoch)."""

    start: int
    end: int
    events_per_account: float


def _ids(prefix: str, numbers: I, width: int) -> pa.Array:
    digits = pc.utf8_lpad(pa.array(numbers, pa.int64()).cast(pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, digits, "")


def seq_ids(prefix: str, start: int, n: int, width: int = 9) -> pa.Array:
    """``prefix`` + zero-padded numbers start..start+n-1."""
    return _ids(prefix, np.arange(start, start + n, dtype=np.int64), width)


def sigmoid(x: F) -> F:
    return np.asarray(1.0 / (1.0 + np.exp(-x)), dtype=np.float64)


@dataclass
class Batch:
    """Per-account state of one batch (arrays of length n), plus subscription rows."""

    n: int
    ids: pa.Array
    segment: I
    csm: I
    region: I
    industry: I
    eur: B
    seats: I
    users: I
    z: F
    features: I  # number of features adopted (1..12)
    feature_order: I  # (n, 12) feature indices, adopted ones first
    theme: I  # the account's usual complaint theme
    s0: I
    created: I
    # life 1 and the optional reactivated life 2, as [start, end) with NO_END when open
    e1: I
    react: B
    r0: I
    e2: I
    final_tier: I
    # subscription rows, flattened account-major
    sub_acc: I
    sub_start: I
    sub_end: I
    sub_tier: I
    sub_interval: I
    sub_quantity: I
    sub_discount: F
    sub_churn_end: B  # the row's end is a churn (not a plan change)


def simulate_accounts(rng: np.random.Generator, first: int, n: int, win: Window, id_width: int) -> Batch:
    """Draw ``n`` accounts numbered from ``first`` and their subscription history."""
    W0, E = win.start, win.end
    nums = np.arange(first, first + n, dtype=np.int64)
    ids = _ids("A", nums, id_width)
    segment = rng.choice(3, size=n, p=C.SEGMENT_SHARE).astype(np.int64)
    csm = rng.integers(0, len(C.CSMS), size=n)
    region = rng.choice(len(C.REGIONS), size=n, p=C.REGION_SHARE).astype(np.int64)
    industry = rng.integers(0, len(C.INDUSTRIES), size=n)
    eur = (region == C.REGIONS.index("emea")) & (rng.random(n) < C.EUR_SHARE_IN_EMEA)
    seat_mu = np.log(np.array([8.0, 45.0, 300.0]))[segment]
    seats = np.maximum(1, np.round(np.exp(seat_mu + rng.normal(0, 0.5, n)))).astype(np.int64)
    users = np.clip(np.round(seats * rng.uniform(0.3, 0.9, n)), 1, 250).astype(np.int64)
    z = rng.standard_normal(n)
    features = np.clip(np.round(6.0 - 1.6 * z + 1.2 * (segment == 2) + rng.normal(0, 1.4, n)), 1, 12).astype(np.int64)
    keys = np.log(np.array(C.FEATURE_POPULARITY))[None, :] + rng.gumbel(size=(n, len(C.FEATURES)))
    feature_order = np.argsort(-keys, axis=1).astype(np.int64)
    theme = rng.choice(len(C.THEMES), size=n, p=C.THEME_SHARE).astype(np.int64)

    # -- start of the first subscription ---------------------------------
    installed = rng.random(n) < INSTALLED_SHARE
    span = E - W0
    x = -1.0 + np.sqrt(1.0 + 3.0 * rng.random(n))  # density 1 + t: the company grows
    new_start = W0 + np.floor(x * (span - 3)).astype(np.int64)
    old_start = W0 - 1 - np.floor(rng.random(n) * 730).astype(np.int64)
    s0 = clamp_dom28(np.where(installed, old_start, new_start))
    created = s0 - rng.integers(0, 31, n)

    share = np.array(C.SEGMENT_INTERVAL_SHARE)[segment]
    interval = (rng.random(n)[:, None] > np.cumsum(share, axis=1)).sum(axis=1).astype(np.int64)
    interval = np.minimum(interval, 2)
    months = np.array(C.INTERVAL_MONTHS)[interval]
    tier0 = np.array(C.SEGMENT_FIRST_TIER)[segment] + rng.choice(3, size=n, p=(0.6, 0.3, 0.1))
    quantity = np.where(rng.random(n) < 0.22, rng.integers(2, np.array([4, 5, 6])[segment] + 1), 1)
    discount = np.where(rng.random(n) < 0.2, rng.choice([0.05, 0.1, 0.15, 0.2, 0.25], n), 0.0)

    # -- churn: exponential life from the later of start and window start ----
    hazard = (BASE_HAZARD[segment] * np.exp(RISK_WEIGHT * z - RISK_WEIGHT**2 / 2)
              * np.where(csm == C.CSMS.index(C.BAD_CSM), BAD_CSM_MULT, 1.0)
              * np.exp(-ADOPTION_SLOPE * (features - 6)))
    life0 = np.maximum(s0, W0)
    t_churn = life0 + np.floor(rng.exponential(1.0, n) / hazard * MONTH_D).astype(np.int64) + 1

    # -- plan changes (up to two) before churn -----------------------------
    lo = np.maximum(s0 + 45, W0 - 365)
    hi = np.minimum(t_churn, E) - 20
    room = np.maximum(hi - lo, 0)
    n_ch = np.minimum(rng.poisson(CHANGE_RATE[segment] * room / MONTH_D), 2)
    c = np.sort(lo[:, None] + np.floor(rng.random((n, 2)) * room[:, None]).astype(np.int64), axis=1)
    c = clamp_dom28(c.ravel()).reshape(n, 2)
    n_ch = np.where((n_ch == 2) & (c[:, 1] <= c[:, 0]), 1, n_ch)
    n_ch = np.where(c[:, 0] <= s0, 0, n_ch)
    up_p = sigmoid(1.5 - 0.9 * z)
    step = np.where(rng.random((n, 2)) < up_p[:, None], 1, -1)
    tier1 = tier0 + step[:, 0]
    tier1 = np.where(tier1 < 0, 1, np.where(tier1 >= len(C.PLANS), len(C.PLANS) - 2, tier1))
    tier2 = tier1 + step[:, 1]
    tier2 = np.where(tier2 < 0, 1, np.where(tier2 >= len(C.PLANS), len(C.PLANS) - 2, tier2))
    anchor = np.where(n_ch == 0, s0, np.where(n_ch == 1, c[:, 0], c[:, 1]))
    terms = whole_months(anchor, np.maximum(t_churn, anchor)) // months + 1
    e1 = add_months(anchor, terms * months)
    churned1 = e1 < E
    e1 = np.where(churned1, e1, NO_END)

    # -- reactivation after a gap -------------------------------------------
    react = churned1 & (e1 < E - 60) & (rng.random(n) < REACTIVATION_P * 2 * sigmoid(-0.8 * z))
    r0 = clamp_dom28(e1 + rng.integers(45, 300, n))
    react &= r0 < E - 14
    r0 = np.where(react, r0, NO_END)
    last_tier = np.where(n_ch == 0, tier0, np.where(n_ch == 1, tier1, tier2))
    tier_r = np.maximum(last_tier - (rng.random(n) < 0.5), 0)
    t2 = r0 + np.floor(rng.exponential(1.0, n) / hazard * MONTH_D).astype(np.int64) + 1
    e2 = add_months(np.where(react, r0, 0), whole_months(np.where(react, r0, 0), np.where(react, t2, 0)) + 1)
    e2 = np.where(react & (e2 < E), e2, NO_END)
    final_tier = np.where(react, tier_r, last_tier)

    # -- subscription rows: (n, 4) then flattened account-major -----------
    ends0 = np.where(n_ch >= 1, c[:, 0], e1)
    ends1 = np.where(n_ch >= 2, c[:, 1], e1)
    start = np.stack([s0, c[:, 0], c[:, 1], r0], axis=1)
    end = np.stack([ends0, ends1, e1, e2], axis=1)
    tier = np.stack([tier0, tier1, tier2, tier_r], axis=1)
    valid = np.stack([np.ones(n, bool), n_ch >= 1, n_ch >= 2, react], axis=1)
    churn_end = np.stack([(n_ch == 0) & churned1, (n_ch == 1) & churned1, churned1,
                          react & (e2 != NO_END)], axis=1)
    iv = np.stack([interval, interval, interval, np.zeros(n, np.int64)], axis=1)
    qty = np.stack([quantity, quantity, quantity, np.ones(n, np.int64)], axis=1)
    disc = np.stack([discount, discount, discount, np.zeros(n)], axis=1)
    acc = np.broadcast_to(np.arange(n)[:, None], (n, 4))

    return Batch(
        n=n, ids=ids, segment=segment, csm=csm, region=region, industry=industry, eur=eur, seats=seats,
        users=users, z=z, features=features, feature_order=feature_order, theme=theme, s0=s0, created=created,
        e1=e1, react=react, r0=r0, e2=e2, final_tier=final_tier,
        sub_acc=acc[valid], sub_start=start[valid], sub_end=end[valid], sub_tier=tier[valid],
        sub_interval=iv[valid], sub_quantity=qty[valid], sub_discount=disc[valid], sub_churn_end=churn_end[valid],
    )


def _dates(d: Days) -> pa.Array:
    d = np.asarray(d, dtype=np.int64)
    return pa.array(d.astype(np.int32), pa.date32(), mask=d >= NO_END)


def categories(values: tuple[str, ...], idx: I) -> pa.Array:
    """Dictionary-encoded strings: ``values[idx]`` without building a string per row."""
    return pa.DictionaryArray.from_arrays(pa.array(idx, pa.int32()), pa.array(values, pa.string()))


def accounts_table(b: Batch, rng: np.random.Generator) -> pa.Table:
    name_idx = rng.integers(0, len(C.COMPANY_NAMES), b.n)
    return pa.table({
        "account_id": b.ids,
        "name": pa.array(np.array(C.COMPANY_NAMES, dtype=object)[name_idx], pa.string()),
        "created_at": _dates(b.created),
        "segment": categories(C.SEGMENTS, b.segment),
        "csm": categories(C.CSMS, b.csm),
        "plan": categories(C.PLANS, b.final_tier),
        "region": categories(C.REGIONS, b.region),
        "industry": categories(C.INDUSTRIES, b.industry),
        "seats": pa.array(b.seats, pa.int64()),
    })


def unit_price(tier: I, eur: B) -> F:
    usd = np.array(C.PLAN_PRICE)[tier]
    return np.where(eur, np.round(usd * C.EUR_PRICE_FACTOR), usd)


def subscriptions_table(b: Batch, first_id: int) -> pa.Table:
    months = np.array(C.INTERVAL_MONTHS)[b.sub_interval]
    eur = b.eur[b.sub_acc]
    amount = unit_price(b.sub_tier, eur) * months
    return pa.table({
        "subscription_id": seq_ids("S", first_id, len(b.sub_acc)),
        "account_id": b.ids.take(pa.array(b.sub_acc)),
        "started_at": _dates(b.sub_start),
        "ended_at": _dates(b.sub_end),
        "amount": pa.array(amount, pa.float64()),
        "interval": categories(C.INTERVALS, b.sub_interval),
        "quantity": pa.array(b.sub_quantity, pa.int64()),
        "discount": pa.array(b.sub_discount, pa.float64()),
        "currency": categories(("USD", "EUR"), eur.astype(np.int64)),
        "plan": categories(C.PLANS, b.sub_tier),
    })


def renewals_table(b: Batch, win: Window, first_id: int) -> pa.Table:
    """Renewal dates of quarterly and annual subscriptions; the next future one is pending."""
    months = np.array(C.INTERVAL_MONTHS)[b.sub_interval]
    open_ = b.sub_end >= NO_END
    limit = np.where(open_, win.end - 1, b.sub_end)
    k = whole_months(b.sub_start, np.maximum(limit, b.sub_start)) // months
    k = np.where(b.sub_interval == 0, 0, k + open_)  # +1: the pending one
    row = np.repeat(np.arange(len(k)), k)
    nth = np.arange(len(row)) - np.repeat(np.cumsum(k) - k, k) + 1
    due = add_months(b.sub_start[row], nth * months[row])
    outcome = np.where(due >= win.end, 2, np.where((due == b.sub_end[row]) & b.sub_churn_end[row], 1, 0))
    return pa.table({
        "renewal_id": seq_ids("N", first_id, len(row)),
        "account_id": b.ids.take(pa.array(b.sub_acc[row])),
        "due_on": _dates(due),
        "outcome": categories(("renewed", "churned", "pending"), outcome),
    })


def life_windows(b: Batch, win: Window) -> tuple[I, I, I, I]:
    """Active days inside the window: life 1 [a1, b1) and life 2 [a2, b2) (empty when a >= b)."""
    a1 = np.maximum(b.s0, win.start)
    b1 = np.minimum(b.e1, win.end)
    a2 = np.where(b.react, np.maximum(b.r0, win.start), 0)
    b2 = np.where(b.react, np.minimum(b.e2, win.end), 0)
    return a1, np.maximum(b1, a1), a2, np.maximum(b2, a2)


def sample_days(rng: np.random.Generator, acc: I, lives: tuple[I, I, I, I]) -> tuple[I, B]:
    """A uniform active day for each row's account, and whether it fell in life 2."""
    a1, b1, a2, b2 = lives
    l1 = (b1 - a1)[acc]
    l2 = (b2 - a2)[acc]
    x = np.floor(rng.random(len(acc)) * (l1 + l2)).astype(np.int64)
    in2 = x >= l1
    return np.where(in2, a2[acc] + x - l1, a1[acc] + x), in2


def charges_table(b: Batch, rng: np.random.Generator, lives: tuple[I, I, I, I], first_id: int) -> pa.Table:
    a1, b1, a2, b2 = lives
    active_months = ((b1 - a1) + (b2 - a2)) / MONTH_D
    rate = np.array([0.05, 0.09, 0.16])[b.segment] * np.exp(-0.2 * b.z)
    count = rng.poisson(rate * active_months)
    acc = np.repeat(np.arange(b.n), count)
    day, _ = sample_days(rng, acc, lives)
    order = np.lexsort((day, acc))
    acc, day = acc[order], day[order]
    kind = rng.choice(len(C.CHARGE_KINDS), size=len(acc), p=C.CHARGE_KIND_SHARE).astype(np.int64)
    seg_factor = np.array([1.0, 3.0, 9.0])[b.segment[acc]]
    amount = np.array(C.CHARGE_KIND_AMOUNT)[kind] * seg_factor * np.exp(rng.normal(0, 0.45, len(acc)))
    eur = b.eur[acc]
    amount = np.round(np.where(eur, amount * C.EUR_PRICE_FACTOR, amount), 2)
    return pa.table({
        "charge_id": seq_ids("C", first_id, len(acc)),
        "account_id": b.ids.take(pa.array(acc)),
        "charged_at": _dates(day),
        "amount": pa.array(amount, pa.float64()),
        "currency": categories(("USD", "EUR"), eur.astype(np.int64)),
        "kind": categories(C.CHARGE_KINDS, kind),
    })
