"""Vectorised calendar helpers on dates held as int64 days since 1970-01-01.

The generator keeps every subscription start on a day of month <= 28 so that
"the same day k months later" always exists and needs no clamping.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import numpy.typing as npt

Days = npt.NDArray[np.int64]
EPOCH = dt.date(1970, 1, 1)
DAY_S = 86_400
# Sentinel "no end" for open-ended intervals (far beyond any generated date).
NO_END = np.int64(10**8)


def to_days(d: dt.date) -> int:
    return (d - EPOCH).days


def from_days(n: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(n))


def _as_d(d: Days) -> npt.NDArray[np.datetime64]:
    return np.asarray(d, dtype=np.int64).astype("datetime64[D]")


def month_index(d: Days) -> Days:
    """Months since 1970-01 of each date."""
    return _as_d(d).astype("datetime64[M]").astype(np.int64)


def day_of_month(d: Days) -> Days:
    dd = _as_d(d)
    return (dd - dd.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1


def month_start(m: Days) -> Days:
    """First day (in days) of month index ``m``."""
    return np.asarray(m, dtype=np.int64).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def clamp_dom28(d: Days) -> Days:
    """Move dates falling on the 29th-31st back to the 28th."""
    d = np.asarray(d, dtype=np.int64)
    return d - np.maximum(day_of_month(d) - 28, 0)


def add_months(d: Days, k: Days | int) -> Days:
    """The same day of month ``k`` months later (``d`` must have day <= 28)."""
    d = np.asarray(d, dtype=np.int64)
    return month_start(month_index(d) + k) + day_of_month(d) - 1


def whole_months(a: Days, b: Days) -> Days:
    """The largest k with add_months(a, k) <= b (a's day of month <= 28, b >= a)."""
    return month_index(b) - month_index(a) - (day_of_month(b) < day_of_month(a)).astype(np.int64)
