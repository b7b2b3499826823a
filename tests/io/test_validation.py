"""Every defect class of SPEC section 4, each on the valid fixture with one cell broken.

Each case names the file, row (header = row 1), column and the exact message.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from csmetrics.io import load_data_dir
from csmetrics.io.validate import MAX_DEFECTS
from tests.io.helpers import append_row, copy_valid, defects, messages, read_rows, set_cell, write_rows

# (file, row, column, new value, expected message)
CELL_DEFECTS = [
    pytest.param("subscriptions.csv", 3, "ended_at", "2025-02-30",
                 "subscriptions.csv row 3, column ended_at: '2025-02-30' is not a date (expected YYYY-MM-DD)",
                 id="unparseable-date"),
    pytest.param("subscriptions.csv", 2, "started_at", "2025/01/01",
                 "subscriptions.csv row 2, column started_at: '2025/01/01' is not a date (expected YYYY-MM-DD)",
                 id="date-not-iso"),
    pytest.param("subscriptions.csv", 2, "started_at", "epoch",
                 "subscriptions.csv row 2, column started_at: 'epoch' is not a date (expected YYYY-MM-DD)",
                 id="date-word-duckdb-would-take"),
    pytest.param("tickets.csv", 4, "opened_at", "yesterday",
                 "tickets.csv row 4, column opened_at: 'yesterday' is not a timestamp "
                 "(expected ISO 8601, e.g. 2025-01-31T14:00:00Z)",
                 id="unparseable-timestamp"),
    pytest.param("subscriptions.csv", 2, "amount", "ten",
                 "subscriptions.csv row 2, column amount: 'ten' is not a number >= 0",
                 id="text-in-number-column"),
    pytest.param("accounts.csv", 3, "seats", "many",
                 "accounts.csv row 3, column seats: 'many' is not a whole number >= 0",
                 id="text-in-integer-column"),
    pytest.param("survey_responses.csv", 3, "score", "NaN",
                 "survey_responses.csv row 3, column score: 'NaN' is not a number",
                 id="nan-is-not-a-number"),
    pytest.param("subscriptions.csv", 2, "started_at", "",
                 "subscriptions.csv row 2, column started_at: is empty (required: a date, YYYY-MM-DD)",
                 id="empty-required-date"),
    pytest.param("accounts.csv", 4, "account_id", "  ",
                 "accounts.csv row 4, column account_id: is empty (required: a text)",
                 id="blank-required-text"),
    pytest.param("survey_responses.csv", 5, "survey", "",
                 "survey_responses.csv row 5, column survey: is empty (required: one of nps, csat, ces)",
                 id="empty-required-enum"),
    pytest.param("subscriptions.csv", 2, "interval", "fortnight",
                 "subscriptions.csv row 2, column interval: 'fortnight' is not one of month, quarter, year, week",
                 id="unknown-interval"),
    pytest.param("survey_responses.csv", 2, "survey", "xyz",
                 "survey_responses.csv row 2, column survey: 'xyz' is not one of nps, csat, ces",
                 id="unknown-survey"),
    pytest.param("renewals.csv", 3, "outcome", "maybe",
                 "renewals.csv row 3, column outcome: 'maybe' is not one of renewed, churned, pending",
                 id="unknown-outcome"),
    pytest.param("charges.csv", 2, "kind", "gift",
                 "charges.csv row 2, column kind: 'gift' is not one of upsell, cross_sell, add_on, loyalty, "
                 "purchase, other",
                 id="unknown-kind"),
    pytest.param("costs.csv", 2, "category", "food",
                 "costs.csv row 2, column category: 'food' is not one of payroll, programs, services, training, "
                 "marketing, tools, other",
                 id="unknown-category"),
    pytest.param("survey_responses.csv", 2, "score", "11",
                 "survey_responses.csv row 2, column score: '11' is out of range for survey nps (expected 0 to 10)",
                 id="nps-11"),
    pytest.param("survey_responses.csv", 5, "score", "0",
                 "survey_responses.csv row 5, column score: '0' is out of range for survey ces (expected 1 to 7)",
                 id="ces-0"),
    pytest.param("survey_responses.csv", 4, "score", "6",
                 "survey_responses.csv row 4, column score: '6' is out of range for survey csat (expected 1 to 5)",
                 id="csat-6-default-scale"),
    pytest.param("subscriptions.csv", 3, "subscription_id", "S1",
                 "subscriptions.csv row 3, column subscription_id: 'S1' is a duplicate key "
                 "(first seen on row 2; expected unique)",
                 id="duplicate-key"),
    pytest.param("fx_rates.csv", 3, "date", "2024-12-01",
                 "fx_rates.csv row 3, column currency,date: 'EUR/2024-12-01' is a duplicate key "
                 "(first seen on row 2; expected unique)",
                 id="duplicate-composite-key"),
    pytest.param("subscriptions.csv", 3, "account_id", "A9",
                 "subscriptions.csv row 3, column account_id: 'A9' is not a known accounts.account_id",
                 id="orphan-subscription"),
    pytest.param("tickets.csv", 4, "account_id", "A9",
                 "tickets.csv row 4, column account_id: 'A9' is not a known accounts.account_id",
                 id="orphan-ticket"),
    pytest.param("usage_events.csv", 2, "account_id", "A9",
                 "usage_events.csv row 2, column account_id: 'A9' is not a known accounts.account_id",
                 id="orphan-usage-event"),
    pytest.param("renewals.csv", 2, "account_id", "A9",
                 "renewals.csv row 2, column account_id: 'A9' is not a known accounts.account_id",
                 id="orphan-renewal"),
    pytest.param("subscriptions.csv", 3, "ended_at", "2024-12-31",
                 "subscriptions.csv row 3, column ended_at: '2024-12-31' is before started_at 2025-01-01 "
                 "(expected on or after it)",
                 id="subscription-ends-before-start"),
    pytest.param("tickets.csv", 3, "resolved_at", "2025-02-03T13:59:00Z",
                 "tickets.csv row 3, column resolved_at: '2025-02-03T13:59:00Z' is before opened_at "
                 "2025-02-03T14:00:00Z (expected on or after it)",
                 id="ticket-resolved-before-opened"),
    pytest.param("subscriptions.csv", 2, "amount", "-1",
                 "subscriptions.csv row 2, column amount: '-1' is out of range (expected a number >= 0)",
                 id="negative-amount"),
    pytest.param("costs.csv", 4, "amount", "-0.01",
                 "costs.csv row 4, column amount: '-0.01' is out of range (expected a number >= 0)",
                 id="negative-cost"),
    pytest.param("subscriptions.csv", 3, "discount", "1.5",
                 "subscriptions.csv row 3, column discount: '1.5' is out of range (expected a number between 0 and 1)",
                 id="discount-above-1"),
    pytest.param("tickets.csv", 2, "contacts", "0",
                 "tickets.csv row 2, column contacts: '0' is out of range (expected a whole number >= 1)",
                 id="contacts-0"),
    pytest.param("tickets.csv", 2, "contacts", "1.5",
                 "tickets.csv row 2, column contacts: '1.5' is not a whole number >= 1",
                 id="contacts-fraction"),
    pytest.param("fx_rates.csv", 2, "rate", "0",
                 "fx_rates.csv row 2, column rate: '0' is out of range (expected a number > 0)",
                 id="fx-rate-0"),
    pytest.param("subscriptions.csv", 2, "currency", "JPY",
                 "subscriptions.csv row 2, column currency: 'JPY' has no fx rate on or before 2025-01-01 "
                 "(expected a row in fx_rates, or the base currency USD)",
                 id="currency-without-rate"),
    pytest.param("charges.csv", 3, "charged_at", "2024-11-30",
                 "charges.csv row 3, column currency: 'EUR' has no fx rate on or before 2024-11-30 "
                 "(expected a row in fx_rates, or the base currency USD)",
                 id="charge-before-first-rate"),
]


@pytest.mark.parametrize(("file", "row", "column", "value", "message"), CELL_DEFECTS)
def test_defect_names_file_row_column_and_expectation(
    tmp_path: Path, file: str, row: int, column: str, value: str, message: str
) -> None:
    data = copy_valid(tmp_path / "data")
    set_cell(data, file, row, column, value)
    assert messages(data) == [message]


def test_valid_fixture_loads(tmp_path: Path) -> None:
    ds = load_data_dir(copy_valid(tmp_path / "data"))
    assert {n: t.count().execute() for n, t in ds.tables.items()} == {
        "accounts": 3, "subscriptions": 4, "charges": 3, "tickets": 3, "survey_responses": 4,
        "usage_events": 4, "renewals": 2, "costs": 3, "fx_rates": 3,
    }


def test_missing_required_column_is_reported_on_the_header_row(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    path = data / "subscriptions.csv"
    write_rows(path, [[c for i, c in enumerate(r) if i != 4] for r in read_rows(path)])  # drop amount
    [d] = defects(data)
    assert (d.file, d.row, d.column) == ("subscriptions.csv", 1, "amount")
    assert str(d) == (
        "subscriptions.csv row 1, column amount: is missing: required column (header has subscription_id, "
        "account_id, started_at, ended_at, interval, quantity, discount, currency, plan)"
    )


def test_missing_column_does_not_hide_defects_of_other_files(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    write_rows(data / "costs.csv", [r[1:] for r in read_rows(data / "costs.csv")])  # drop cost_id
    set_cell(data, "tickets.csv", 2, "contacts", "0")
    assert [(d.file, d.row, d.column) for d in defects(data)] == [
        ("tickets.csv", 2, "contacts"), ("costs.csv", 1, "cost_id"),
    ]


def test_orphan_child_with_no_accounts_in_file(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    row = append_row(data, "charges.csv", charge_id="C9", account_id="ZZ", charged_at="2025-01-01", amount="1")
    assert messages(data) == [f"charges.csv row {row}, column account_id: 'ZZ' is not a known accounts.account_id"]


def test_keys_are_compared_after_trimming(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    row = append_row(data, "accounts.csv", account_id=" A1 ")
    [d] = defects(data)
    assert (d.row, d.column, d.value) == (row, "account_id", "A1")


def test_fx_currency_codes_are_case_insensitive_in_the_composite_key(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    row = append_row(data, "fx_rates.csv", currency="eur", date="2025-06-01", rate="1.2")
    assert messages(data) == [
        f"fx_rates.csv row {row}, column currency,date: 'EUR/2025-06-01' is a duplicate key "
        "(first seen on row 3; expected unique)"
    ]


def test_foreign_currency_without_any_fx_rates_file(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data", "fx_rates")
    assert messages(data) == [
        "subscriptions.csv row 3, column currency: 'EUR' has no fx rate on or before 2025-01-01 "
        "(expected a row in fx_rates, or the base currency USD)",
        "charges.csv row 3, column currency: 'EUR' has no fx rate on or before 2025-03-05 "
        "(expected a row in fx_rates, or the base currency USD)",
    ]


def test_rate_dated_only_after_the_start_does_not_count(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    # GBP has one rate, from 2025-01-01; a subscription starting the day before has none in force.
    row = append_row(data, "subscriptions.csv", subscription_id="S9", account_id="A1",
                     started_at="2024-12-31", amount="10", currency="gbp")
    assert messages(data) == [
        f"subscriptions.csv row {row}, column currency: 'GBP' has no fx rate on or before 2024-12-31 "
        "(expected a row in fx_rates, or the base currency USD)"
    ]
    set_cell(data, "subscriptions.csv", row, "started_at", "2025-01-01")
    load_data_dir(data)


def test_end_equal_to_start_is_allowed(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    set_cell(data, "subscriptions.csv", 3, "ended_at", "2025-01-01")
    set_cell(data, "tickets.csv", 2, "resolved_at", "2025-02-01T09:00:00Z")
    load_data_dir(data)


def test_order_is_checked_on_utc_instants(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    # 10:30+02:00 is 08:30Z, before the ticket opened at 09:00Z although 10:30 reads later.
    set_cell(data, "tickets.csv", 2, "resolved_at", "2025-02-01T10:30:00+02:00")
    assert messages(data) == [
        "tickets.csv row 2, column resolved_at: '2025-02-01T10:30:00+02:00' is before opened_at "
        "2025-02-01T09:00:00Z (expected on or after it)"
    ]


def test_every_defect_is_reported_in_file_and_row_order(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    set_cell(data, "costs.csv", 3, "amount", "-5")
    set_cell(data, "subscriptions.csv", 4, "interval", "daily")
    set_cell(data, "subscriptions.csv", 2, "discount", "2")
    set_cell(data, "subscriptions.csv", 2, "amount", "x")
    set_cell(data, "accounts.csv", 3, "created_at", "2024-13-01")
    assert [(d.file, d.row, d.column) for d in defects(data)] == [
        ("accounts.csv", 3, "created_at"),
        ("subscriptions.csv", 2, "amount"),
        ("subscriptions.csv", 2, "discount"),
        ("subscriptions.csv", 4, "interval"),
        ("costs.csv", 3, "amount"),
    ]


def test_table_level_defects_are_all_reported(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    set_cell(data, "subscriptions.csv", 3, "subscription_id", "S1")
    set_cell(data, "tickets.csv", 2, "account_id", "nobody")
    set_cell(data, "survey_responses.csv", 2, "score", "10.5")
    set_cell(data, "renewals.csv", 3, "renewal_id", "N1")
    assert [(d.file, d.row, d.column) for d in defects(data)] == [
        ("subscriptions.csv", 3, "subscription_id"),
        ("tickets.csv", 2, "account_id"),
        ("survey_responses.csv", 2, "score"),
        ("renewals.csv", 3, "renewal_id"),
    ]


def test_defects_are_capped_and_the_cap_is_said(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    rows = read_rows(data / "costs.csv")
    rows += [[f"X{i}", "2025-01-01", "-1", ""] for i in range(MAX_DEFECTS + 5)]
    write_rows(data / "costs.csv", rows)
    from csmetrics.schema.errors import DataError

    with pytest.raises(DataError) as info:
        load_data_dir(data)
    assert len(info.value.defects) == MAX_DEFECTS
    assert info.value.truncated
    assert [d.row for d in info.value.defects] == list(range(5, 5 + MAX_DEFECTS))
    assert str(info.value).endswith("... more defects not shown")


def test_exactly_max_defects_is_not_called_truncated(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    rows = read_rows(data / "costs.csv")
    rows += [[f"X{i}", "2025-01-01", "-1", ""] for i in range(MAX_DEFECTS)]
    write_rows(data / "costs.csv", rows)
    from csmetrics.schema.errors import DataError

    with pytest.raises(DataError) as info:
        load_data_dir(data)
    assert len(info.value.defects) == MAX_DEFECTS
    assert not info.value.truncated


def test_one_defect_per_cell_even_when_several_rules_fail(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    set_cell(data, "tickets.csv", 2, "contacts", "-0.5")  # not whole and below 1
    assert messages(data) == ["tickets.csv row 2, column contacts: '-0.5' is not a whole number >= 1"]


def test_cell_and_table_level_defects_come_in_one_pass(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    set_cell(data, "subscriptions.csv", 2, "amount", "lots")
    set_cell(data, "subscriptions.csv", 4, "subscription_id", "S1")
    set_cell(data, "survey_responses.csv", 3, "score", "12")
    assert [(d.file, d.row, d.column) for d in defects(data)] == [
        ("subscriptions.csv", 2, "amount"),
        ("subscriptions.csv", 4, "subscription_id"),
        ("survey_responses.csv", 3, "score"),
    ]


def test_bad_account_ids_do_not_make_every_child_an_orphan(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    set_cell(data, "accounts.csv", 2, "account_id", "")
    assert messages(data) == ["accounts.csv row 2, column account_id: is empty (required: a text)"]
    (data / "accounts.csv").write_bytes(b"\xff\xfe\x00garbage")
    assert [d.file for d in defects(data)] == ["accounts.csv"]


def test_bad_fx_rates_do_not_make_every_foreign_row_unpriced(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    set_cell(data, "fx_rates.csv", 2, "date", "2024-12-32")
    assert messages(data) == ["fx_rates.csv row 2, column date: '2024-12-32' is not a date (expected YYYY-MM-DD)"]
