"""Calendar periods: grains, labels and boundaries (SPEC section 5).

The one place for calendar logic. Periods are calendar aligned; a period P
has a first and a last day (inclusive); "at the start" of P means on the day
before its first day, "at the end" means on its last day.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

from csmetrics.schema.errors import UsageError

Grain = Literal["week", "month", "quarter", "year"]
GRAINS: tuple[Grain, ...] = ("week", "month", "quarter", "year")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS_PER: dict[str, float] = {"week": 12 / 52, "month": 1.0, "quarter": 3.0, "year": 12.0}
"""Months in one period of each grain; also months(interval) of SPEC section 6."""


@dataclass(frozen=True, order=True)
class Period:
    first: dt.date
    last: dt.date
    label: str
    grain: str

    @property
    def before(self) -> dt.date:
        """The day before the first day: where "at the start" is measured."""
        return self.first - dt.timedelta(days=1)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def check_grain(grain: str) -> Grain:
    if grain not in GRAINS:
        raise UsageError(f"unknown period {grain!r}: expected one of {', '.join(GRAINS)}")
    return grain  # type: ignore[return-value]


def period_start(day: dt.date, grain: str, week_start: str = "monday") -> dt.date:
    """First day of the period of ``grain`` that contains ``day``."""
    if grain == "week":
        offset = (day.weekday() - WEEKDAYS.index(week_start)) % 7
        return day - dt.timedelta(days=offset)
    if grain == "month":
        return day.replace(day=1)
    if grain == "quarter":
        return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    if grain == "year":
        return dt.date(day.year, 1, 1)
    raise UsageError(f"unknown period {grain!r}")


def next_start(first: dt.date, grain: str) -> dt.date:
    """First day of the period after the one starting on ``first``."""
    if grain == "week":
        return first + dt.timedelta(days=7)
    step = {"month": 1, "quarter": 3, "year": 12}[grain]
    m = first.month - 1 + step
    return dt.date(first.year + m // 12, m % 12 + 1, 1)


def label(first: dt.date, grain: str) -> str:
    """``2025-05``, ``2025-Q2``, ``2025``, ``2025-W19`` (ISO week of the week's middle day)."""
    if grain == "month":
        return f"{first.year}-{first.month:02d}"
    if grain == "quarter":
        return f"{first.year}-Q{(first.month - 1) // 3 + 1}"
    if grain == "year":
        return f"{first.year}"
    iso = (first + dt.timedelta(days=3)).isocalendar()
    return f"{iso[0]}-W{iso[1]:02d}"


def period_of(day: dt.date, grain: str, week_start: str = "monday") -> Period:
    first = period_start(day, grain, week_start)
    nxt = next_start(first, grain)
    return Period(first, nxt - dt.timedelta(days=1), label(first, grain), grain)


def periods_between(start: dt.date, end: dt.date, grain: str, week_start: str = "monday") -> list[Period]:
    """Periods of ``grain`` overlapping the half-open range [start, end)."""
    check_grain(grain)
    if end <= start:
        raise UsageError(f"--end {end} must be after --start {start}")
    out: list[Period] = []
    first = period_start(start, grain, week_start)
    while first < end:
        nxt = next_start(first, grain)
        out.append(Period(first, nxt - dt.timedelta(days=1), label(first, grain), grain))
        first = nxt
    return out


_LABEL = re.compile(r"^(\d{4})(?:-(\d{2})|-Q([1-4])|-W(\d{2}))?$")


def parse_label(text: str, week_start: str = "monday") -> Period:
    """The period a label such as ``2025-05``, ``2025-Q2``, ``2025`` or ``2025-W19`` names."""
    m = _LABEL.match(text.strip())
    if not m:
        raise UsageError(f"{text!r} is not a period label (expected e.g. 2025-05, 2025-Q2, 2025, 2025-W19)")
    year = int(m.group(1))
    try:
        if m.group(2):
            return period_of(dt.date(year, int(m.group(2)), 1), "month")
        if m.group(3):
            return period_of(dt.date(year, 3 * (int(m.group(3)) - 1) + 1, 1), "quarter")
        if m.group(4):
            monday = dt.date.fromisocalendar(year, int(m.group(4)), 1)
            return period_of(monday + dt.timedelta(days=3), "week", week_start)
    except ValueError as exc:
        raise UsageError(f"{text!r} is not a valid period: {exc}") from exc
    return period_of(dt.date(year, 1, 1), "year")


def parse_date(text: str, option: str = "date") -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a date (expected YYYY-MM-DD)") from None
