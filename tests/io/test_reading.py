"""Reading files: CSV and Parquet, exact row numbers, unreadable files, defaults, extras, UTC dates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from csmetrics.config import Config
from csmetrics.io import load_data_dir
from csmetrics.io.validate import ROW, SourceFile, Validator
from tests.io.helpers import (
    append_row,
    copy_valid,
    csv_to_parquet,
    defects,
    messages,
    read_rows,
    set_cell,
    write_rows,
)

# -- CSV dialect and row numbers -------------------------------------------------


def test_row_numbers_are_exact_on_a_large_file(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    n = 50_000
    rows = read_rows(data / "usage_events.csv")
    rows += [["A1", f"2025-01-01T00:00:{i % 60:02d}Z", f"f{i}", ""] for i in range(n)]
    bad = len(rows) - 7  # 0-based index of a row near the end; its row number is index + 1
    rows[bad][2] = ""
    rows[bad - 20_000][1] = "2025-13-01"
    write_rows(data / "usage_events.csv", rows)
    assert messages(data) == [
        f"usage_events.csv row {bad - 20_000 + 1}, column occurred_at: '2025-13-01' is not a timestamp "
        "(expected ISO 8601, e.g. 2025-01-31T14:00:00Z)",
        f"usage_events.csv row {bad + 1}, column feature: is empty (required: a text)",
    ]


def test_duckdb_numbers_every_row_of_a_large_file_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The fast reader numbers rows with row_number() OVER () on two threads: check every row,
    # and that the exact (slow) reader is not what did it.
    path = tmp_path / "usage_events.csv"
    n = 200_000
    with path.open("w", encoding="utf-8") as f:
        f.write("account_id,occurred_at,feature\n")
        f.writelines(f"A1,2025-01-01,{i + 2}\n" for i in range(n))
    monkeypatch.setattr(Validator, "_read_csv_exact", lambda *a: pytest.fail("fell back to the exact reader"))
    con = duckdb.connect()
    con.execute("SET threads = 2")
    v = Validator(con, Config())
    assert v.read_raw(SourceFile("usage_events", path))
    assert con.execute(f"SELECT count(*), min({ROW}), max({ROW}) FROM raw_usage_events").fetchone() == (n, 2, n + 1)
    misnumbered = con.execute(f"SELECT count(*) FROM raw_usage_events WHERE feature <> CAST({ROW} AS VARCHAR)")
    assert misnumbered.fetchone() == (0,)


def test_blank_lines_count_as_rows(tmp_path: Path) -> None:
    # A spreadsheet shows the blank line as row 3, so A3 is on row 4.
    data = copy_valid(tmp_path / "data")
    (data / "accounts.csv").write_text("account_id,seats\nA1,1\n\nA2,x\nA3,3\n\n", encoding="utf-8")
    assert messages(data) == ["accounts.csv row 4, column seats: 'x' is not a whole number >= 0"]


def test_a_quoted_field_spanning_lines_is_one_row(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    set_cell(data, "survey_responses.csv", 2, "comment", "line one\nline two\n\nline four")
    set_cell(data, "survey_responses.csv", 3, "score", "11")
    assert messages(data) == [
        "survey_responses.csv row 3, column score: '11' is out of range for survey nps (expected 0 to 10)"
    ]
    set_cell(data, "survey_responses.csv", 3, "score", "10")
    comments = load_data_dir(data).table("survey_responses").comment.execute().tolist()
    assert comments[0] == "line one\nline two\n\nline four"


def test_crlf_bom_quotes_and_hash_lines_are_plain_data(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    # A sniffing reader could take '#' lines for comments or the BOM for part of the first name.
    (data / "accounts.csv").write_bytes(
        "\ufeffaccount_id,name\r\n#A1,\"Acme, \"\"the\"\" company\"\r\n#A2,x\r\nA1,y\r\nA2,z\r\nA3,w".encode()
    )
    accounts = load_data_dir(data).table("accounts").execute()
    assert accounts.account_id.tolist() == ["#A1", "#A2", "A1", "A2", "A3"]
    assert accounts.name.tolist()[0] == 'Acme, "the" company'


def test_old_mac_line_endings(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    (data / "accounts.csv").write_bytes(b"account_id,seats\rA1,1\rA2,-2\rA3,3\r")
    assert messages(data) == ["accounts.csv row 3, column seats: '-2' is out of range (expected a whole number >= 0)"]


def test_header_only_file_is_an_empty_table(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    (data / "renewals.csv").write_text("renewal_id,account_id,due_on,outcome\n", encoding="utf-8")
    assert load_data_dir(data).table("renewals").count().execute() == 0


# -- unreadable files ------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(bytes(range(256)) * 4,
                     "accounts.csv row 1: is not a UTF-8 text file (expected a UTF-8 CSV file with a header row)",
                     id="binary-garbage"),
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64),
                     "accounts.csv row 1: is not a UTF-8 text file (expected a UTF-8 CSV file with a header row)",
                     id="image"),
        pytest.param(b"account_id,name\nA1,ok\nA2,caf\xe9\nA3,ok\n",
                     "accounts.csv row 3, column name: 'caf\ufffd' is not UTF-8 text (expected a UTF-8 file)",
                     id="latin-1-byte"),
        pytest.param(b"", "accounts.csv row 1: is empty (expected a header row naming the columns)", id="empty"),
        pytest.param(b"account_id,name\nA1,\"open\nA2,x\n",
                     "accounts.csv row 2: could not be parsed as CSV: unexpected end of data "
                     "(a quote opened on this row is never closed)",
                     id="unclosed-quote"),
        pytest.param(b"account_id,name,name\nA1,x,y\n",
                     "accounts.csv row 1, column name: appears twice in the header (expected unique names)",
                     id="duplicate-header"),
        pytest.param(b"account_id,,name\nA1,x,y\n",
                     "accounts.csv row 1, column #2: has an empty name in the header (expected a name)",
                     id="empty-header-name"),
    ],
)
def test_unreadable_file_is_named_with_its_row(tmp_path: Path, content: bytes, message: str) -> None:
    data = copy_valid(tmp_path / "data")
    (data / "accounts.csv").write_bytes(content)
    assert messages(data) == [message]


def test_ragged_rows_are_each_reported(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    rows = read_rows(data / "tickets.csv")
    rows[1].append("extra")
    rows[3] = rows[3][:2]
    write_rows(data / "tickets.csv", rows)
    assert messages(data) == [
        "tickets.csv row 2: has 8 values (expected 7, as in the header)",
        "tickets.csv row 4: has 2 values (expected 7, as in the header)",
    ]


def test_unreadable_file_does_not_hide_other_files_defects(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    (data / "costs.csv").write_bytes(b"\x00\x01\x02")
    set_cell(data, "renewals.csv", 2, "outcome", "lost")
    assert [(d.file, d.row) for d in defects(data)] == [("renewals.csv", 2), ("costs.csv", 1)]


def test_garbage_parquet_is_unreadable(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data", "costs")
    (data / "costs.parquet").write_bytes(b"cost_id,incurred_on\nK1,2025-01-01\n")
    [d] = defects(data)
    assert (d.file, d.row, d.column) == ("costs.parquet", None, None)
    assert str(d).startswith("costs.parquet: could not be read as Parquet: ")


# -- which files -------------------------------------------------------------------


def test_missing_accounts_file(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data", "accounts")
    assert messages(data) == [
        f"{data / 'accounts.csv'}: is missing: accounts.csv or accounts.parquet is required"
    ]


def test_accounts_given_twice(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    pq.write_table(pa.table({"account_id": ["A1"]}), data / "accounts.parquet")
    assert messages(data) == ["accounts.parquet: conflicts with accounts.csv: give each table once"]


def test_data_dir_that_does_not_exist(tmp_path: Path) -> None:
    assert messages(tmp_path / "nope") == [f"{tmp_path / 'nope'}: is not a directory"]


def test_only_accounts_is_required(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "accounts.csv").write_text("account_id\nA1\n", encoding="utf-8")
    (data / "notes.csv").write_text("anything\n", encoding="utf-8")  # not a table: ignored
    ds = load_data_dir(data)
    assert list(ds.tables) == ["accounts"]
    assert ds.table("accounts").columns == (
        "account_id", "name", "created_at", "segment", "csm", "plan", "region", "industry", "seats")


# -- Parquet -------------------------------------------------------------------------


def test_parquet_rows_are_numbered_like_csv(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    set_cell(data, "subscriptions.csv", 4, "discount", "1.5")
    set_cell(data, "subscriptions.csv", 5, "account_id", "A9")
    csv_to_parquet(data / "subscriptions.csv")
    assert messages(data) == [
        "subscriptions.parquet row 4, column discount: '1.5' is out of range (expected a number between 0 and 1)",
        "subscriptions.parquet row 5, column account_id: 'A9' is not a known accounts.account_id",
    ]
    # accounts stay CSV: the foreign key is checked across a CSV/Parquet mix.
    pq.write_table(pq.read_table(data / "subscriptions.parquet").set_column(
        7, "discount", pa.array([0.0, 0.1, None, None])), data / "subscriptions.parquet")
    assert messages(data) == ["subscriptions.parquet row 5, column account_id: 'A9' is not a known accounts.account_id"]


def test_typed_parquet_columns_load_like_their_csv(tmp_path: Path) -> None:
    csv_dir = copy_valid(tmp_path / "csv")
    pq_dir = copy_valid(tmp_path / "pq")
    csv_to_parquet(pq_dir / "accounts.csv", seats=pa.int64(), created_at=pa.date32())
    csv_to_parquet(pq_dir / "costs.csv", amount=pa.float64())
    csv_to_parquet(pq_dir / "tickets.csv", contacts=pa.int32(), opened_at=pa.timestamp("s", tz="UTC"),
                   resolved_at=pa.timestamp("s", tz="UTC"))
    csv_to_parquet(pq_dir / "usage_events.csv", occurred_at=pa.timestamp("us", tz="UTC"))
    a, b = load_data_dir(csv_dir), load_data_dir(pq_dir)
    for name in a.tables:
        left, right = a.table(name).execute(), b.table(name).execute()
        assert left.equals(right), name


def test_parquet_typed_negative_value_names_its_row(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data", "costs")
    pq.write_table(pa.table({"cost_id": ["K1", "K2", "K3"], "incurred_on": [dt.date(2025, 1, 1)] * 3,
                             "amount": [1.0, 2.0, -3.0]}), data / "costs.parquet")
    assert messages(data) == ["costs.parquet row 4, column amount: '-3.0' is out of range (expected a number >= 0)"]


# -- defaults, extras, dates -----------------------------------------------------------


def test_defaults_are_applied(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    subs = load_data_dir(data).table("subscriptions").execute().set_index("subscription_id")
    # S3 and S4 leave interval/quantity/discount/currency empty; S4 has no interval at all.
    assert subs.loc["S4", ["interval", "quantity", "discount", "currency"]].tolist() == ["month", 1.0, 0.0, "USD"]
    assert subs.loc["S3", ["interval", "quantity", "discount", "currency"]].tolist() == ["quarter", 1.0, 0.0, "USD"]


def test_defaults_apply_when_optional_columns_are_absent(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    (data / "csmetrics.toml").write_text('base_currency = "eur"\n', encoding="utf-8")
    (data / "subscriptions.csv").write_text(
        "subscription_id,account_id,started_at,amount\nS1,A1,2025-01-01,10\n", encoding="utf-8")
    (data / "charges.csv").unlink()
    (data / "costs.csv").write_text("cost_id,incurred_on,amount\nK1,2025-01-01,3\n", encoding="utf-8")
    ds = load_data_dir(data)
    sub = ds.table("subscriptions").execute().iloc[0]
    assert [sub.interval, sub.quantity, sub.discount, sub.currency] == ["month", 1.0, 0.0, "EUR"]
    assert ds.table("costs").category.execute().tolist() == ["other"]


def test_enum_values_and_currencies_are_normalised(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    set_cell(data, "subscriptions.csv", 2, "interval", " Month ")
    set_cell(data, "subscriptions.csv", 3, "currency", "eur")
    subs = load_data_dir(data).table("subscriptions").execute()
    assert subs.interval.tolist()[0] == "month"
    assert subs.currency.tolist()[1] == "EUR"


def test_extra_columns_are_kept(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    append_row(data, "accounts.csv", account_id="A4", tier="")
    ds = load_data_dir(data)
    assert ds.extra_columns["accounts"] == ["tier"]
    accounts = ds.table("accounts").execute()
    assert accounts.tier.tolist()[:3] == ["gold", "silver", "bronze"]
    assert "tier" in ds.account_columns


def test_timestamp_with_offset_counts_on_its_utc_date(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    set_cell(data, "charges.csv", 2, "charged_at", "2025-03-01T23:30:00-02:00")
    set_cell(data, "charges.csv", 3, "charged_at", "2025-03-02T00:30:00+02:00")
    set_cell(data, "tickets.csv", 4, "opened_at", "2025-03-01T23:30:00-02:00")  # T3, not resolved
    ds = load_data_dir(data)
    assert ds.table("charges").charged_at.execute().dt.date.tolist()[:2] == [dt.date(2025, 3, 2), dt.date(2025, 3, 1)]
    # S4 in the fixture starts at 2025-03-01T23:30:00-02:00.
    subs = ds.table("subscriptions").execute().set_index("subscription_id")
    assert subs.loc["S4", "started_at"].date() == dt.date(2025, 3, 2)
    opened = ds.table("tickets").opened_at.execute().tolist()[2]
    assert opened == dt.datetime(2025, 3, 2, 1, 30)


def test_numbers_with_whitespace_and_exponents(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    set_cell(data, "costs.csv", 2, "amount", " 1.5e3 ")
    set_cell(data, "tickets.csv", 2, "contacts", "2.0")
    ds = load_data_dir(data)
    assert ds.table("costs").amount.execute().tolist()[0] == 1500.0
    assert ds.table("tickets").contacts.execute().tolist()[0] == 2


def test_thousands_separator_is_not_a_number(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    set_cell(data, "costs.csv", 2, "amount", "1,500")
    write_rows(data / "costs.csv", read_rows(data / "costs.csv"))
    assert messages(data) == ["costs.csv row 2, column amount: '1,500' is not a number >= 0"]
