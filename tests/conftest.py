"""Suite-wide settings: a pinned clock, the Hypothesis profiles, and skips that fail in strict mode.

- The clock: every test runs at :data:`FROZEN_NOW` (``csmetrics.clock`` reads ``CSMETRICS_NOW``,
  which subprocesses inherit), so no result depends on the day or hour the suite runs at.
  A test that needs another time uses ``clock.frozen(...)``; see docs/testing.md.
- Hypothesis: the ``ci`` profile (``make test``) is derandomized, so a failure on CI fails the
  same way on a laptop; ``dev`` draws fresh examples and prints a reproduction blob.
- ``CSMETRICS_STRICT_SKIPS=1`` (set by ``make test``) turns every skip into a failure: a missing
  optional dependency or a broken module must not pass silently.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from csmetrics import clock

FROZEN_NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)
"""The time every test runs at (a Monday, mid-month, mid-day UTC)."""
TODAY = FROZEN_NOW.date()

os.environ[clock.ENV] = FROZEN_NOW.isoformat()

settings.register_profile("ci", derandomize=True, print_blob=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", print_blob=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

STRICT_SKIPS = os.environ.get("CSMETRICS_STRICT_SKIPS") == "1"


def _fail_skip(report: pytest.TestReport | pytest.CollectReport) -> None:
    if STRICT_SKIPS and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped, which CSMETRICS_STRICT_SKIPS=1 makes a failure: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    _fail_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    outcome = yield
    _fail_skip(outcome.get_result())


@pytest.fixture
def frozen_clock() -> Iterator[dt.datetime]:
    """The clock pinned in-process at FROZEN_NOW (already the default via CSMETRICS_NOW); yields it."""
    with clock.frozen(FROZEN_NOW) as now:
        yield now
