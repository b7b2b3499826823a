"""Invariants of scope and of the sign-in limit, beyond the hand-computed book company.

- On the 80-account test company every account has one of four CSMs, so the
  books partition the company: the books' MRR and active customers add up to the
  company's, period by period, and each book's accounts are exactly those of its CSM.
- The limiter refuses exactly when 5 failures fall within the last 60 seconds
  (hypothesis draws the failure times).
- A workspace made before roles (a tokens table without ``role``) is migrated
  on open and its tokens read as admin.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from csmetrics import clock
from csmetrics.web import auth, data
from csmetrics.web.data import Filters
from csmetrics.web.ratelimit import MAX_FAILURES, FailureLimiter
from csmetrics.web.scope import Scope
from csmetrics.web.store import Store
from tests.web.company import CSMS


def test_books_partition_the_company(shared_store: Store) -> None:
    f = Filters("month", dt.date(2025, 7, 1), dt.date(2026, 7, 1))
    names = ["mrr", "active_customers", "new_mrr", "churned_mrr"]
    company = data.series(shared_store, f, names).frame
    books = [data.series(shared_store.view(Scope.of(f"csm:{c}")), f, names).frame for c in CSMS]
    total = sum(b.fillna(0) for b in books)
    for n in names:
        assert list(total[n].round(6)) == list(company[n].fillna(0).round(6)), n
    assert company["mrr"].iloc[-1] > 0  # not a vacuous sum of zeros
    with shared_store.reading():
        acc = shared_store.ds.backend.execute(shared_store.ds.table("accounts").select("account_id", "csm"))
    for c in CSMS:
        view = shared_store.view(Scope.of(f"csm:{c}"))
        assert view.book() == frozenset(acc.loc[acc["csm"] == c, "account_id"])
        assert data.csms(view) == [c]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=300), max_size=12), st.integers(min_value=0, max_value=400))
def test_the_limiter_refuses_exactly_with_five_failures_in_the_last_minute(offsets: list[int], at: int) -> None:
    t0 = dt.datetime(2026, 6, 15, 12, tzinfo=dt.UTC)
    lim = FailureLimiter()
    times = sorted(offsets)
    for s in times:
        with clock.frozen(t0 + dt.timedelta(seconds=s)):
            lim.fail(["ip:x"])
    now = max([at, *times])
    recent = [s for s in times if s > now - 60]
    with clock.frozen(t0 + dt.timedelta(seconds=now)):
        wait = lim.retry_after(["ip:x"])
    if len(recent) >= MAX_FAILURES:
        assert wait == max(1, recent[0] + 60 - now)  # until the oldest failure in the window is a minute old
    else:
        assert wait is None


def test_a_workspace_made_before_roles_is_migrated_and_its_tokens_are_admin(workspace: Path) -> None:
    old = "csm_0ld0ld00_secret"
    con = duckdb.connect(str(workspace))
    con.execute(f"DROP TABLE IF EXISTS {auth.TOKENS}")
    con.execute(f"CREATE TABLE {auth.TOKENS} (token_id VARCHAR PRIMARY KEY, name VARCHAR, "
                "token_hash VARCHAR NOT NULL, created_at TIMESTAMP, revoked_at TIMESTAMP)")
    con.execute(f"INSERT INTO {auth.TOKENS} VALUES ('0ld0ld00', 'old', ?, TIMESTAMP '2026-01-01', NULL)",
                [hashlib.sha256(old.encode()).hexdigest()])
    con.close()
    store = Store(workspace)
    try:
        info = store.lookup_token(old)
        assert info is not None and (info.token_id, info.role) == ("0ld0ld00", "admin")
        with store.write_lock:
            cols = [r[0] for r in store.writer.execute(f"DESCRIBE {auth.TOKENS}").fetchall()]
            assert cols[-1] == "role"
            assert [(t.name, t.role) for t in auth.list_tokens(store.writer)] == [("old", "admin")]
    finally:
        store.close()
