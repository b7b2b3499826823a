"""What accounts do while they are customers: support tickets, survey answers, product usage.

Everything happens on active days inside the window (see
:func:`csmetrics.demo.lifecycle.life_windows`) and is drawn as whole arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from csmetrics.demo import catalog as C
from csmetrics.demo.dates import DAY_S
from csmetrics.demo.lifecycle import MONTH_D, B, Batch, I, Window, categories, sample_days, seq_ids, sigmoid
from csmetrics.demo.writer import TIMESTAMP

Lives = tuple[I, I, I, I]
DECLINE_DAYS = 90  # usage falls over the last 90 days before a churn
NEAR_CHURN_DAYS = 150  # survey answers turn sour this close to a churn


def _ts(seconds: I) -> pa.Array:
    return pa.array(seconds, TIMESTAMP)


def _churn_end(b: Batch, acc: I, in2: B) -> I:
    """The end of the life each row fell in, when that life ended in churn (else NO_END)."""
    return np.where(in2, b.e2[acc], b.e1[acc])


def _order(acc: I, t: I) -> I:
    return np.lexsort((t, acc))


def _user_ids(b: Batch, acc: I, user: I) -> pa.Array:
    return pc.binary_join_element_wise(b.ids.take(pa.array(acc)), pa.array(user, pa.int64()).cast(pa.string()), "-u")


@dataclass
class TicketFacts:
    """What the surveys need to know about the tickets of a batch (row-aligned)."""

    acc: I
    resolved: I  # seconds since epoch (meaningful where resolved_ok)
    resolved_ok: B
    contacts: I
    near: B  # opened within NEAR_CHURN_DAYS of a churn
    ids: pa.Array


def tickets(b: Batch, rng: np.random.Generator, lives: Lives, win: Window, first_id: int
            ) -> tuple[pa.Table, TicketFacts]:
    """Support tickets. High-risk accounts open more of them and need more contacts."""
    a1, b1, a2, b2 = lives
    months = ((b1 - a1) + (b2 - a2)) / MONTH_D
    rate = np.array([0.22, 0.45, 0.9])[b.segment] * np.exp(0.35 * b.z)
    acc = np.repeat(np.arange(b.n), rng.poisson(rate * months))
    day, in2 = sample_days(rng, acc, lives)
    m = len(acc)
    opened = day * DAY_S + rng.integers(8 * 3600, 18 * 3600, m)
    order = _order(acc, opened)
    acc, opened, in2 = acc[order], opened[order], in2[order]
    near = (_churn_end(b, acc, in2) - opened // DAY_S) < NEAR_CHURN_DAYS
    z = b.z[acc]
    p_one = np.clip(0.80 - 0.10 * np.maximum(z, 0) - 0.10 * near, 0.35, 0.92)
    contacts = np.where(rng.random(m) < p_one, 1, rng.choice([2, 3, 4, 5], m, p=(0.5, 0.25, 0.15, 0.1)))
    hours = np.exp(np.log(3.0) + 0.8 * (contacts - 1) + rng.normal(0, 1.0, m))
    resolved = opened + np.round(hours * 3600).astype(np.int64) + 60
    unresolved = (resolved >= win.end * DAY_S) | (rng.random(m) < 0.015)
    agent = rng.integers(0, len(C.AGENTS), m)
    channel = rng.choice(len(C.CHANNELS), m, p=C.CHANNEL_SHARE).astype(np.int64)
    ids = seq_ids("T", first_id, m)
    table = pa.table({
        "ticket_id": ids,
        "account_id": b.ids.take(pa.array(acc)),
        "opened_at": _ts(opened),
        "resolved_at": pa.array(resolved, TIMESTAMP, mask=unresolved),
        "contacts": pa.array(contacts, pa.int64()),
        "agent": categories(C.AGENTS, agent),
        "channel": categories(C.CHANNELS, channel),
    })
    return table, TicketFacts(acc, resolved, ~unresolved, contacts, near, ids)


def _complaint(rng: np.random.Generator, theme: I) -> I:
    first = np.array([C.COMMENT_GROUPS[t][0] for t in C.THEMES])[theme]
    count = np.array([C.COMMENT_GROUPS[t][1] for t in C.THEMES])[theme]
    return first + np.floor(rng.random(len(theme)) * count).astype(np.int64)


def _pick(rng: np.random.Generator, group: str, m: int) -> I:
    first, count = C.COMMENT_GROUPS[group]
    return first + rng.integers(0, count, m)


def _comments(rng: np.random.Generator, b: Batch, acc: I, bad: B, good: B, p_bad: float, p_good: float,
              p_mid: float, support_bias: float) -> I:
    """Index into catalog.COMMENTS per row, -1 for no comment."""
    m = len(acc)
    theme = np.where(rng.random(m) < 0.75, b.theme[acc], rng.choice(len(C.THEMES), m, p=C.THEME_SHARE))
    theme = np.where(rng.random(m) < support_bias, C.THEMES.index("support"), theme)
    mid = ~bad & ~good
    out = np.full(m, -1, dtype=np.int64)
    u = rng.random(m)
    out = np.where(bad & (u < p_bad), _complaint(rng, theme), out)
    out = np.where(good & (u < p_good), _pick(rng, "praise", m), out)
    # passives mostly write something neutral, sometimes a mild complaint
    mid_text = np.where(rng.random(m) < 0.7, _pick(rng, "neutral", m), _complaint(rng, theme))
    return np.where(mid & (u < p_mid), mid_text, out)


def surveys(b: Batch, rng: np.random.Generator, lives: Lives, win: Window, t: TicketFacts,
            first_id: int) -> pa.Table:
    """NPS (relationship, ~twice a year), CSAT and CES (after a resolved ticket)."""
    a1, b1, a2, b2 = lives
    months = ((b1 - a1) + (b2 - a2)) / MONTH_D
    # -- NPS ---------------------------------------------------------------
    n_acc = np.repeat(np.arange(b.n), rng.poisson(months / 6.0 * 0.7))
    day, in2 = sample_days(rng, n_acc, lives)
    n_time = day * DAY_S + rng.integers(9 * 3600, 20 * 3600, len(n_acc))
    near = (_churn_end(b, n_acc, in2) - day) < NEAR_CHURN_DAYS
    mu = 8.3 - 1.3 * b.z[n_acc] - 2.6 * near - 0.5 * (b.features[n_acc] <= 3)
    n_score = np.clip(np.round(rng.normal(mu, 1.5)), 0, 10).astype(np.int64)
    n_comment = _comments(rng, b, n_acc, n_score <= 6, n_score >= 9, 0.7, 0.5, 0.4, 0.05)
    # -- CSAT --------------------------------------------------------------
    ok = t.resolved_ok
    pick = ok & (rng.random(len(ok)) < 0.42)
    c_acc, c_res, c_contacts, c_near = t.acc[pick], t.resolved[pick], t.contacts[pick], t.near[pick]
    c_tid = t.ids.filter(pa.array(pick))
    c_time = c_res + np.round(rng.exponential(5 * 3600, len(c_acc))).astype(np.int64) + 300
    logit = 2.4 - 0.5 * b.z[c_acc] - 0.8 * (c_contacts - 1) ** 0.7 - 0.8 * c_near
    pos = rng.random(len(c_acc)) < sigmoid(logit)
    c_score = np.where(pos, np.where(rng.random(len(c_acc)) < 0.62, 5, 4),
                       rng.choice([1, 2, 3], len(c_acc), p=(0.2, 0.35, 0.45)))
    c_comment = _comments(rng, b, c_acc, c_score <= 3, c_score >= 4, 0.6, 0.3, 0.0, 0.4)
    # -- CES ---------------------------------------------------------------
    pick = ok & (rng.random(len(ok)) < 0.22)
    e_acc, e_res, e_contacts = t.acc[pick], t.resolved[pick], t.contacts[pick]
    e_tid = t.ids.filter(pa.array(pick))
    e_time = e_res + np.round(rng.exponential(8 * 3600, len(e_acc))).astype(np.int64) + 300
    mu = 6.0 - 0.75 * (e_contacts - 1) - 0.45 * b.z[e_acc]
    e_score = np.clip(np.round(rng.normal(mu, 1.1)), 1, 7).astype(np.int64)
    e_comment = _comments(rng, b, e_acc, e_score <= 3, e_score >= 6, 0.5, 0.25, 0.25, 0.4)

    acc = np.concatenate([n_acc, c_acc, e_acc])
    when = np.concatenate([n_time, c_time, e_time])
    survey = np.concatenate([np.zeros(len(n_acc), np.int64), np.ones(len(c_acc), np.int64),
                             np.full(len(e_acc), 2, np.int64)])
    score = np.concatenate([n_score, c_score, e_score]).astype(np.int64)
    comment = np.concatenate([n_comment, c_comment, e_comment])
    tid = pa.concat_arrays([pa.nulls(len(n_acc), pa.string()), c_tid.cast(pa.string()), e_tid.cast(pa.string())])
    _plant_outliers(rng, survey, score, comment)
    keep = when < win.end * DAY_S  # answers after the data's end have not happened yet
    order = _order(acc, when)
    order = order[keep[order]]
    acc, when, survey, score, comment = acc[order], when[order], survey[order], score[order], comment[order]
    tid = tid.take(pa.array(order))
    user = np.floor(b.users[acc] * rng.random(len(acc)) ** 1.5).astype(np.int64)
    return pa.table({
        "response_id": seq_ids("R", first_id, len(acc)),
        "account_id": b.ids.take(pa.array(acc)),
        "survey": categories(("nps", "csat", "ces"), survey),
        "score": pa.array(score, pa.int64()),
        "responded_at": _ts(when),
        "comment": pa.DictionaryArray.from_arrays(pa.array(comment, pa.int32(), mask=comment < 0),
                                                  pa.array(C.COMMENTS, pa.string())),
        "ticket_id": tid,
        "respondent": _user_ids(b, acc, user),
    })


def _plant_outliers(rng: np.random.Generator, survey: I, score: I, comment: I) -> None:
    """A few answers whose comment clearly contradicts the score (in place)."""
    top = np.array([10, 5, 7])[survey]
    high = np.flatnonzero((comment >= 0) & (score >= top - (survey == 0)))
    low = np.flatnonzero((comment >= 0) & (score <= np.array([3, 1, 1])[survey]))
    k = max(1, int(round(0.004 * int((comment >= 0).sum()))))
    for rows, group in ((high, "outlier_negative"), (low, "outlier_positive")):
        if len(rows):
            chosen = rng.choice(rows, size=min(k, len(rows)), replace=False)
            comment[chosen] = _pick(rng, group, len(chosen))


def usage(b: Batch, rng: np.random.Generator, lives: Lives, win: Window) -> pa.Table:
    """Feature usage events; falls over the last DECLINE_DAYS before a churn."""
    a1, b1, a2, b2 = lives
    days = (b1 - a1) + (b2 - a2)
    weight = np.sqrt(b.users) * np.exp(-0.25 * b.z) * np.sqrt(b.features / 6.0) * days
    mean_w = weight.mean() if b.n else 0.0
    expected = win.events_per_account * weight / mean_w if mean_w > 0 else np.zeros(b.n)
    # Draw ~30% extra to make up for the weekend and pre-churn thinning below.
    acc = np.repeat(np.arange(b.n), rng.poisson(expected * 1.3))
    day, in2 = sample_days(rng, acc, lives)
    m = len(acc)
    end = _churn_end(b, acc, in2)
    left = end - day
    keep_p = np.where(left < DECLINE_DAYS, 0.08 + 0.92 * left / DECLINE_DAYS, 1.0)
    keep_p = keep_p * np.where((day + 3) % 7 >= 5, 0.35, 1.0)  # 1970-01-01 was a Thursday
    keep = rng.random(m) < keep_p
    acc, day = acc[keep], day[keep]
    m = len(acc)
    sec = day * DAY_S + np.clip(np.round(rng.normal(13.5 * 3600, 3.2 * 3600, m)), 0, DAY_S - 1).astype(np.int64)
    slot = np.floor(b.features[acc] * rng.random(m) ** 1.6).astype(np.int64)
    feature = b.feature_order[acc, slot]
    user = np.floor(b.users[acc] * rng.random(m) ** 1.5).astype(np.int64)
    order = np.argsort((acc << np.int64(34)) + (sec - win.start * DAY_S), kind="stable")
    acc, sec, feature, user = acc[order], sec[order], feature[order], user[order]
    # Dictionary-encode account and user ids: 100M+ rows stay cheap to build and write.
    offsets = np.concatenate([[0], np.cumsum(b.users)])
    all_users = np.arange(offsets[-1]) - np.repeat(offsets[:-1], b.users)
    user_dict = _user_ids(b, np.repeat(np.arange(b.n), b.users), all_users)
    return pa.table({
        "account_id": pa.DictionaryArray.from_arrays(pa.array(acc, pa.int32()), b.ids),
        "occurred_at": _ts(sec),
        "feature": categories(C.FEATURES, feature),
        "user_id": pa.DictionaryArray.from_arrays(pa.array(offsets[acc] + user, pa.int32()), user_dict),
    })

