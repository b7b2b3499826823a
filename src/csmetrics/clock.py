"""The one clock of csmetrics: every "now" and "today" in the library comes from here.

Code never calls ``datetime.now()`` itself, so that a test (or a user who wants a
reproducible report) can pin the time in one place:

- in-process, ``with clock.frozen(dt.datetime(2026, 6, 15, 12, tzinfo=dt.UTC)): ...``
  (tests use the ``frozen_clock`` fixture built on it);
- for a whole process and its children, the environment variable ``CSMETRICS_NOW``
  holding an ISO 8601 timestamp (UTC when it has no offset), e.g.
  ``CSMETRICS_NOW=2026-06-15T12:00:00Z csmetrics serve``. Subprocess tests use it.

All times are timezone-aware UTC.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager

from csmetrics.schema.errors import UsageError

ENV = "CSMETRICS_NOW"

_pinned: list[dt.datetime] = []


def parse(text: str) -> dt.datetime:
    """An ISO 8601 date or timestamp as an aware UTC datetime (naive means UTC)."""
    try:
        value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        msg = f"{ENV}={text!r} is not an ISO 8601 timestamp (expected e.g. 2026-06-15T12:00:00Z)"
        raise UsageError(msg) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def now() -> dt.datetime:
    """The current time, aware UTC: the innermost :func:`frozen` time, else ``$CSMETRICS_NOW``, else the system's."""
    if _pinned:
        return _pinned[-1]
    env = os.environ.get(ENV)
    if env:
        return parse(env)
    return dt.datetime.now(dt.UTC)


def today() -> dt.date:
    """Today's UTC date (SPEC section 5: all state is taken per calendar day in UTC)."""
    return now().date()


def naive_now() -> dt.datetime:
    """:func:`now` without its tzinfo, for DuckDB ``TIMESTAMP`` columns (which hold UTC)."""
    return now().replace(tzinfo=None)


@contextmanager
def frozen(at: dt.datetime | dt.date) -> Iterator[dt.datetime]:
    """Pin :func:`now` to ``at`` (a date means its midnight UTC) inside the block."""
    if not isinstance(at, dt.datetime):
        at = dt.datetime(at.year, at.month, at.day, tzinfo=dt.UTC)
    elif at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    _pinned.append(at.astimezone(dt.UTC))
    try:
        yield _pinned[-1]
    finally:
        _pinned.pop()


__all__ = ["ENV", "frozen", "naive_now", "now", "parse", "today"]
