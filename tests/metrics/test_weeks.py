"""Weeks that start on another day than Monday (the ``week_start`` setting, SPEC sections 4 and 5).

Labels stay ISO-style: a week is labelled with the ISO week of its middle day
(first day + 3), so a Sunday week Sun 9 Feb .. Sat 15 Feb 2025 is 2025-W07.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from csmetrics.explain import explain
from csmetrics.io import load_data_dir
from csmetrics.periods import parse_label, periods_between
from tests.metrics.helpers import sub, values, write_dir

SUNDAY = 'week_start = "sunday"\n'


def _tickets(days: list[str]) -> list[dict[str, Any]]:
    return [{"ticket_id": f"t{i}", "account_id": "a", "opened_at": f"{d}T12:00:00Z",
             "resolved_at": f"{d}T13:00:00Z", "contacts": 1} for i, d in enumerate(days)]


# Sun 9 Feb, Mon 10 Feb, Sat 15 Feb, Sun 16 Feb 2025
FEB_TICKETS = _tickets(["2025-02-09", "2025-02-10", "2025-02-15", "2025-02-16"])


def test_sunday_weeks_run_sunday_to_saturday_with_the_iso_label_of_their_middle_day() -> None:
    ps = periods_between(dt.date(2025, 2, 9), dt.date(2025, 2, 23), "week", "sunday")
    # Sun 9..Sat 15 (middle Wed 12 Feb: ISO W07), Sun 16..Sat 22 (Wed 19 Feb: W08)
    assert [(p.first, p.last, p.label) for p in ps] == [
        (dt.date(2025, 2, 9), dt.date(2025, 2, 15), "2025-W07"),
        (dt.date(2025, 2, 16), dt.date(2025, 2, 22), "2025-W08"),
    ]
    # Monday weeks over the same range: Mon 3..Sun 9 (W06), Mon 10..Sun 16 (W07), Mon 17..Sun 23 (W08)
    mon = periods_between(dt.date(2025, 2, 9), dt.date(2025, 2, 23), "week", "monday")
    assert [(p.first, p.last, p.label) for p in mon] == [
        (dt.date(2025, 2, 3), dt.date(2025, 2, 9), "2025-W06"),
        (dt.date(2025, 2, 10), dt.date(2025, 2, 16), "2025-W07"),
        (dt.date(2025, 2, 17), dt.date(2025, 2, 23), "2025-W08"),
    ]
    # a label names the week of the configured start
    w07 = parse_label("2025-W07", "sunday")
    assert (w07.first, w07.last) == (dt.date(2025, 2, 9), dt.date(2025, 2, 15))


def test_sunday_weeks_put_a_sunday_event_in_the_new_week(tmp_path: Path) -> None:
    d = write_dir(tmp_path, toml=SUNDAY, tickets=FEB_TICKETS)
    v = values(d, "tickets", period="week", start="2025-02-09", end="2025-02-23")
    # W07 = Sun 9..Sat 15: the tickets of 9, 10 and 15 Feb = 3; W08 = Sun 16..: the one of 16 Feb = 1
    assert v == {("tickets", "2025-W07", None): 3, ("tickets", "2025-W08", None): 1}


def test_monday_weeks_put_the_same_sunday_events_in_the_old_week(tmp_path: Path) -> None:
    d = write_dir(tmp_path, tickets=FEB_TICKETS)
    v = values(d, "tickets", period="week", start="2025-02-09", end="2025-02-23")
    # W06 = Mon 3..Sun 9: 1 (9 Feb); W07 = Mon 10..Sun 16: 3 (10, 15, 16 Feb); W08: none
    assert v == {("tickets", "2025-W06", None): 1, ("tickets", "2025-W07", None): 3,
                 ("tickets", "2025-W08", None): 0}


def test_sunday_week_at_new_year_takes_the_label_of_the_year_of_its_middle_day(tmp_path: Path) -> None:
    # Sun 29 Dec 2024: with Sunday weeks it opens Sun 29 Dec..Sat 4 Jan, middle Wed 1 Jan 2025 -> 2025-W01;
    # with Monday weeks it closes Mon 23 Dec..Sun 29 Dec -> 2024-W52.
    rows = _tickets(["2024-12-29", "2025-01-04", "2025-01-05"])
    sun = values(write_dir(tmp_path / "sun", toml=SUNDAY, tickets=rows), "tickets", period="week",
                 start="2024-12-29", end="2025-01-12")
    # W01 = 29 Dec..4 Jan: 29 Dec and 4 Jan = 2; W02 = 5..11 Jan: 5 Jan = 1
    assert sun == {("tickets", "2025-W01", None): 2, ("tickets", "2025-W02", None): 1}
    mon = values(write_dir(tmp_path / "mon", tickets=rows), "tickets", period="week",
                 start="2024-12-29", end="2025-01-12")
    # W52 = 23..29 Dec: 1; W01 = 30 Dec..5 Jan: 4 and 5 Jan = 2; W02 = 6..12 Jan: 0
    assert mon == {("tickets", "2024-W52", None): 1, ("tickets", "2025-W01", None): 2,
                   ("tickets", "2025-W02", None): 0}


def test_sunday_weeks_move_new_mrr_and_churn_to_the_week_holding_the_sunday(tmp_path: Path) -> None:
    subs = [
        sub("s1", "a", "2025-01-01", None, 100),
        sub("s2", "b", "2025-02-16", None, 60),  # starts Sun 16 Feb
        sub("s3", "c", "2025-01-01", "2025-02-16", 40),  # last active day Sat 15 Feb
    ]
    metrics = "new_mrr,churned_mrr,mrr,customer_churn_rate"
    sun = values(write_dir(tmp_path / "sun", toml=SUNDAY, subscriptions=subs), metrics, period="week",
                 start="2025-02-09", end="2025-02-23")
    # W07 (Sun 9..Sat 15): start (Sat 8) 100 + 40, end (Sat 15) 100 + 40: no movement
    assert sun[("mrr", "2025-W07", None)] == 140
    assert sun[("new_mrr", "2025-W07", None)] == 0
    # W08 (Sun 16..Sat 22): b new 60, c churned 40; end 100 + 60 = 160; churn 1 of 2 at the start
    assert sun[("new_mrr", "2025-W08", None)] == 60
    assert sun[("churned_mrr", "2025-W08", None)] == 40
    assert sun[("mrr", "2025-W08", None)] == 160
    assert sun[("customer_churn_rate", "2025-W08", None)] == 0.5
    mon = values(write_dir(tmp_path / "mon", subscriptions=subs), metrics, period="week",
                 start="2025-02-10", end="2025-02-24")
    # Monday weeks: both moves fall in W07 (Mon 10..Sun 16); W08 has none
    assert mon[("new_mrr", "2025-W07", None)] == 60
    assert mon[("churned_mrr", "2025-W07", None)] == 40
    assert mon[("customer_churn_rate", "2025-W07", None)] == 0.5
    assert mon[("new_mrr", "2025-W08", None)] == 0


def test_usage_frequency_counts_days_of_a_sunday_week_that_spans_two_months(tmp_path: Path) -> None:
    # Sun 30 Mar, Mon 31 Mar, Tue 1 Apr 2025 (two events on 1 Apr), features reports, alerts, export.
    ev = [("2025-03-30T09:00:00Z", "reports"), ("2025-03-31T09:00:00Z", "alerts"),
          ("2025-04-01T09:00:00Z", "reports"), ("2025-04-01T18:00:00Z", "export")]
    rows = [{"account_id": "a", "occurred_at": t, "feature": f} for t, f in ev]
    metrics = "usage_frequency,product_adoption_rate"
    sun = values(write_dir(tmp_path / "sun", toml=SUNDAY, usage_events=rows), metrics, period="week",
                 start="2025-03-30", end="2025-04-06")
    # one week Sun 30 Mar..Sat 5 Apr (middle Wed 2 Apr: W14): 3 days, all 3 features of 3
    assert sun == {("usage_frequency", "2025-W14", None): 3, ("product_adoption_rate", "2025-W14", None): 1}
    mon = values(write_dir(tmp_path / "mon", usage_events=rows), metrics, period="week",
                 start="2025-03-30", end="2025-04-06")
    # W13 = Mon 24..Sun 30 Mar: 1 day, 1 feature of 3; W14 = Mon 31 Mar..Sun 6 Apr: 2 days, 3 of 3
    assert mon[("usage_frequency", "2025-W13", None)] == 1
    assert mon[("product_adoption_rate", "2025-W13", None)] == pytest.approx(1 / 3)
    assert mon[("usage_frequency", "2025-W14", None)] == 2
    assert mon[("product_adoption_rate", "2025-W14", None)] == 1


def test_saturday_weeks_start_on_saturday(tmp_path: Path) -> None:
    d = write_dir(tmp_path, toml='week_start = "Saturday"\n', tickets=FEB_TICKETS)
    v = values(d, "tickets", period="week", start="2025-02-08", end="2025-02-22")
    # Sat 8..Fri 14 (middle Tue 11: W07): 9 and 10 Feb = 2; Sat 15..Fri 21 (Tue 18: W08): 15 and 16 Feb = 2
    assert v == {("tickets", "2025-W07", None): 2, ("tickets", "2025-W08", None): 2}


def test_explain_a_sunday_week_lists_the_tickets_of_sunday_to_saturday(tmp_path: Path) -> None:
    ds = load_data_dir(write_dir(tmp_path, toml=SUNDAY, tickets=FEB_TICKETS))
    try:
        ex = explain(ds, "tickets", "2025-W07")
    finally:
        ds.backend.disconnect()
    # Sun 9..Sat 15 Feb: t0 (9th), t1 (10th), t2 (15th); t3 (Sun 16th) opens the next week
    assert ex.period == "2025-W07"
    assert ex.value == 3
    assert list(ex.rows["ticket_id"]) == ["t0", "t1", "t2"]
