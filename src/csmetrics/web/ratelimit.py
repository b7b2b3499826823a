"""Failed sign-ins are rate limited per client address and per token id.

A sliding window on :mod:`csmetrics.clock` (so tests pin time instead of
sleeping): after :data:`MAX_FAILURES` failed authentications within
:data:`WINDOW` from one client address, or with one token id (the ``<id>`` of
``csm_<id>_<secret>``, so guessing the secret of a listed id is slowed down from
any number of addresses), further attempts get ``429 Too Many Requests`` with a
``Retry-After`` header (whole seconds until the oldest failure leaves the
window) - even with a valid token, so the limit cannot be probed. Failures are
counted for the sign-in form, bearer tokens and login cookies alike. The state
is in memory, per server process: a restart forgets it.

Example: failures at 12:00:00, :10, :20, :30 and :40 from one address; a sixth
attempt at 12:00:50 is refused with ``Retry-After: 10``; at 12:01:00 the first
failure has left the window and the address may try again.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections import deque

from csmetrics import clock

MAX_FAILURES = 5
WINDOW = dt.timedelta(minutes=1)


class FailureLimiter:
    """Failures per key (``ip:ADDR``, ``token:ID``) within the last :data:`WINDOW`."""

    def __init__(self, max_failures: int = MAX_FAILURES, window: dt.timedelta = WINDOW) -> None:
        self.max_failures = max_failures
        self.window = window
        self._seen: dict[str, deque[dt.datetime]] = {}
        self._noted: dict[str, dt.datetime] = {}
        self._lock = threading.Lock()

    def _prune(self, key: str, now: dt.datetime) -> deque[dt.datetime]:
        q = self._seen.get(key)
        if q is None:
            return deque()
        while q and q[0] <= now - self.window:
            q.popleft()
        if not q:
            del self._seen[key]
        return q

    def retry_after(self, keys: list[str]) -> int | None:
        """Seconds to wait when any of ``keys`` is over the limit, else None."""
        now = clock.now()
        wait: float | None = None
        with self._lock:
            for key in keys:
                q = self._prune(key, now)
                if len(q) >= self.max_failures:
                    left = (q[0] + self.window - now).total_seconds()
                    wait = max(wait or 0.0, left)
        return None if wait is None else max(1, math.ceil(wait))

    def first_refusal(self, keys: list[str]) -> bool:
        """Whether this refusal is the first one for the failures now in the window of any of ``keys``
        (so the audit log gets one ``limited`` row per window, not one per attempt)."""
        now = clock.now()
        first = False
        with self._lock:
            for key in keys:
                q = self._prune(key, now)
                if len(q) >= self.max_failures and self._noted.get(key) != q[0]:
                    self._noted[key] = q[0]
                    first = True
        return first

    def fail(self, keys: list[str]) -> None:
        now = clock.now()
        with self._lock:
            for key in keys:
                self._prune(key, now)
                self._seen.setdefault(key, deque()).append(now)


def keys_for(ip: str | None, token_id: str | None) -> list[str]:
    return [f"ip:{ip or '?'}"] + ([f"token:{token_id}"] if token_id else [])
