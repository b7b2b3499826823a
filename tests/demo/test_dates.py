"""The generator's vectorised month arithmetic agrees with the calendar."""

from __future__ import annotations

import datetime as dt

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from csmetrics.demo.dates import add_months, clamp_dom28, from_days, to_days, whole_months


@settings(max_examples=50, deadline=None)
@given(day=st.dates(dt.date(1990, 1, 1), dt.date(2060, 12, 31)), k=st.integers(0, 240), extra=st.integers(0, 27))
def test_add_months_keeps_the_day_and_whole_months_inverts_it(day: dt.date, k: int, extra: int) -> None:
    a = clamp_dom28(np.array([to_days(day)]))
    start = from_days(int(a[0]))
    assert start.day == min(day.day, 28)
    b = add_months(a, k)
    year, month0 = divmod(start.year * 12 + start.month - 1 + k, 12)
    assert from_days(int(b[0])) == dt.date(year, month0 + 1, start.day)
    # any day before the next monthly anniversary still counts k whole months
    nxt = add_months(a, k + 1)
    later = np.minimum(b + extra, nxt - 1)
    assert int(whole_months(a, later)[0]) == k
