"""Every defect is reported in one run: rows with the wrong number of values, broken rows and bad
settings no longer hide the other defects of their file or directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from csmetrics.config import Config, key_lines
from csmetrics.io import ingest
from csmetrics.schema.errors import DataError
from tests.io.helpers import copy_valid, defects, messages, set_cell

TICKETS_HEADER = "ticket_id,account_id,opened_at,resolved_at,contacts,agent,channel\n"
KNOWN = "base_currency, csat_positive_min, csat_scale_max, gross_margin, lifespan_months, week_start"


def test_ragged_rows_do_not_hide_the_other_defects_of_their_file(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    (data / "tickets.csv").write_text(
        TICKETS_HEADER
        + "T1,A1,2025-02-01T09:00:00Z,2025-02-01T10:00:00Z,1,zoe,email,extra\n"  # row 2: 8 values
        + "T2,A2,yesterday,,3,yan,phone\n"  # row 3: not a timestamp
        + "T3,A9,2025-03-10T11:00:00Z,,1.5,zoe,chat\n"  # row 4: not a whole number; unknown account
        + "T2,A3\n"  # row 5: 2 values
        + "T2,A3,2025-03-10T11:00:00Z,2025-03-09T11:00:00Z,1,zoe,chat\n",  # row 6: T2 again; resolved first
        encoding="utf-8")
    assert messages(data) == [
        "tickets.csv row 2: has 8 values (expected 7, as in the header)",
        "tickets.csv row 3, column opened_at: 'yesterday' is not a timestamp (expected ISO 8601, "
        "e.g. 2025-01-31T14:00:00Z)",
        "tickets.csv row 4, column contacts: '1.5' is not a whole number >= 1",
        "tickets.csv row 4, column account_id: 'A9' is not a known accounts.account_id",
        "tickets.csv row 5: has 2 values (expected 7, as in the header)",
        "tickets.csv row 6, column ticket_id: 'T2' is a duplicate key (first seen on row 3; expected unique)",
        "tickets.csv row 6, column resolved_at: '2025-03-09T11:00:00Z' is before opened_at 2025-03-10T11:00:00Z "
        "(expected on or after it)",
    ]
    assert [(d.file, d.row, d.column) for d in defects(data)][:2] == [
        ("tickets.csv", 2, None), ("tickets.csv", 3, "opened_at")]


def test_a_ragged_row_and_defects_in_other_files_are_reported_together(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    (data / "tickets.csv").write_text(TICKETS_HEADER + "T1,A1\nT2,A2,2025-02-03,,0,yan,phone\n", encoding="utf-8")
    set_cell(data, "renewals.csv", 2, "outcome", "lost")
    assert messages(data) == [
        "tickets.csv row 2: has 2 values (expected 7, as in the header)",
        "tickets.csv row 3, column contacts: '0' is out of range (expected a whole number >= 1)",
        "renewals.csv row 2, column outcome: 'lost' is not one of renewed, churned, pending",
    ]


def test_a_ragged_accounts_row_keeps_children_from_being_called_orphans(tmp_path: Path) -> None:
    # Row 3's account_id cannot be told from its other values, so a child naming A2 may be right:
    # foreign keys to accounts stand down, the accounts' own cells are still checked.
    data = copy_valid(tmp_path / "data")
    (data / "accounts.csv").write_text(
        "account_id,name,seats\nA1,Acme,10\nA2,Globex\nA3,Initech,-2\n", encoding="utf-8")
    assert messages(data) == [
        "accounts.csv row 3: has 2 values (expected 3, as in the header)",
        "accounts.csv row 4, column seats: '-2' is out of range (expected a whole number >= 0)",
    ]


def test_rows_after_broken_quoting_are_still_checked(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    (data / "tickets.csv").write_text(
        TICKETS_HEADER
        + 'T1,"A1"x,2025-02-01T09:00:00Z,,1,zoe,email\n'  # row 2: text after a closing quote
        + "T2,A2,2025-02-03T14:00:00Z,,-1,yan,phone\n",  # row 3: contacts below 1
        encoding="utf-8")
    assert messages(data) == [
        "tickets.csv row 2: could not be parsed as CSV: ',' expected after '\"'",
        "tickets.csv row 3, column contacts: '-1' is out of range (expected a whole number >= 1)",
    ]


def test_text_that_is_not_utf8_does_not_hide_later_rows(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    (data / "accounts.csv").write_bytes(b"account_id,name,seats\nA1,caf\xe9,1\nA2,ok,x\nA3,ok,3\n")
    assert messages(data) == [
        "accounts.csv row 2, column name: 'caf\ufffd' is not UTF-8 text (expected a UTF-8 file)",
        "accounts.csv row 3, column seats: 'x' is not a whole number >= 0",
    ]


# -- csmetrics.toml ----------------------------------------------------------------


def test_two_bad_settings_are_both_reported_with_their_lines(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    # A type error used to stop the range checks: gross_margin = 2 went unreported next to csat_scale_max.
    (data / "csmetrics.toml").write_text(
        '# settings\ncsat_scale_max = "x"\n\ngross_margin = 2\n', encoding="utf-8")
    found = defects(data)
    assert [(d.file, d.row, d.column) for d in found] == [
        ("csmetrics.toml", 2, "csat_scale_max"), ("csmetrics.toml", 4, "gross_margin")]
    assert [str(d) for d in found] == [
        "csmetrics.toml line 2, setting csat_scale_max: 'x' is not a number",
        "csmetrics.toml line 4, setting gross_margin: '2' is out of range (expected > 0 and <= 1)",
    ]


def test_bad_settings_and_bad_data_are_reported_together(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    (data / "csmetrics.toml").write_text('colour = "red"\nweek_start = "someday"\n', encoding="utf-8")
    set_cell(data, "renewals.csv", 2, "outcome", "lost")
    assert messages(data) == [
        f"csmetrics.toml line 1, setting colour: is not a known setting (known: {KNOWN})",
        "csmetrics.toml line 2, setting week_start: 'someday' is not a weekday name (e.g. monday)",
        "renewals.csv row 2, column outcome: 'lost' is not one of renewed, churned, pending",
    ]


def test_a_bad_scale_does_not_judge_csat_scores_by_the_default(tmp_path: Path) -> None:
    # With csat_scale_max unreadable, the score 8 (fine on a 10-point scale) is not called out of range.
    data = copy_valid(tmp_path / "data")
    (data / "csmetrics.toml").write_text('csat_scale_max = "ten"\ncsat_positive_min = 6\n', encoding="utf-8")
    set_cell(data, "survey_responses.csv", 4, "score", "8")
    assert messages(data) == ["csmetrics.toml line 1, setting csat_scale_max: 'ten' is not a number"]


def test_a_bad_base_currency_does_not_call_rows_unpriced(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data", "fx_rates")  # S2 is in EUR: without rates it would be a defect
    (data / "csmetrics.toml").write_text("base_currency = 5\n", encoding="utf-8")
    assert messages(data) == ["csmetrics.toml line 1, setting base_currency: '5' is not a currency code (e.g. USD)"]


def test_missing_accounts_and_bad_settings_are_reported_together(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data", "accounts")
    (data / "csmetrics.toml").write_text("lifespan_months = -1\n", encoding="utf-8")
    assert messages(data) == [
        "csmetrics.toml line 1, setting lifespan_months: '-1' is out of range (expected > 0)",
        f"{data / 'accounts.csv'}: is missing: accounts.csv or accounts.parquet is required",
    ]


def test_ingest_reports_every_defect_and_writes_nothing(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    (data / "csmetrics.toml").write_text("gross_margin = 0\n", encoding="utf-8")
    (data / "tickets.csv").write_text(TICKETS_HEADER + "T1\nT2,A2,2025-02-03,,1,yan,fax\n", encoding="utf-8")
    ws = tmp_path / "ws.duckdb"
    with pytest.raises(DataError) as info:
        ingest(data, ws)
    assert str(info.value).splitlines() == [
        "csmetrics.toml line 1, setting gross_margin: '0' is out of range (expected > 0 and <= 1)",
        "tickets.csv row 2: has 1 value (expected 7, as in the header)",
    ]
    assert not ws.exists()


def test_config_read_gives_the_good_settings_and_the_defects() -> None:
    config, found = Config.checked({"gross_margin": 0.5, "week_start": 3, "csat_positive_min": 9},
                                   text="gross_margin = 0.5\nweek_start = 3\ncsat_positive_min = 9\n")
    assert config == Config(gross_margin=0.5)
    assert [str(d) for d in found] == [
        "csmetrics.toml line 2, setting week_start: '3' is not a weekday name (e.g. monday)",
        "csmetrics.toml line 3, setting csat_positive_min: '9' is out of range (expected <= csat_scale_max 5)",
    ]


def test_key_lines_finds_quoted_dotted_and_table_keys() -> None:
    text = ('# comment\n'
            'note = """\n'
            'week_start = "inside a string"\n'
            '"""\n'
            "'base_currency' = 'EUR'\n"
            'gross.margin = 1\n'
            'week_start = "monday"\n'
            '[sources.stripe]\n'
            'csat_scale_max = 10\n')
    assert key_lines(text) == {"note": 2, "base_currency": 5, "gross": 6, "week_start": 7, "sources": 8}
