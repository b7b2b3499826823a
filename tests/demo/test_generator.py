"""The demo generator writes every SPEC section 4 table, valid and deterministic."""

from __future__ import annotations

import datetime as dt
import filecmp
import re
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from csmetrics.demo import TABLES, generate
from csmetrics.demo.generator import default_end, window_start
from csmetrics.io import load_data_dir
from csmetrics.schema.tables import TABLES as SPEC_TABLES
from tests.demo.conftest import END

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def read(d: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(d / f"{name}.csv", dtype=str, keep_default_na=False)


def test_small_demo_passes_validation(small_demo: Path) -> None:
    ds = load_data_dir(small_demo)
    assert set(ds.tables) == set(TABLES)
    assert ds.config.base_currency == "USD"


def test_every_table_has_exactly_the_spec_columns(small_demo: Path) -> None:
    for name in TABLES:
        assert tuple(read(small_demo, name).columns) == SPEC_TABLES[name].column_names, name


def test_dates_and_timestamps_are_iso(small_demo: Path) -> None:
    for name in TABLES:
        df = read(small_demo, name)
        for col in SPEC_TABLES[name].columns:
            values = df[col.name][df[col.name] != ""]
            if col.type == "date":
                assert values.str.match(DATE).all(), (name, col.name)
            elif col.type == "timestamp":
                assert values.str.match(TIMESTAMP).all(), (name, col.name)


def test_same_seed_writes_identical_files_and_another_seed_differs(tmp_path: Path) -> None:
    for fmt in ("csv", "parquet"):
        a, b, c = (tmp_path / f"{fmt}{i}" for i in range(3))
        generate(a, accounts=80, seed=5, end=END, fmt=fmt, events_per_account=10)
        generate(b, accounts=80, seed=5, end=END, fmt=fmt, events_per_account=10)
        generate(c, accounts=80, seed=6, end=END, fmt=fmt, events_per_account=10)
        names = [f"{t}.{fmt}" for t in TABLES] + ["csmetrics.toml"]
        match, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
        assert mismatch == [] and errors == [], fmt
        _, mismatch, _ = filecmp.cmpfiles(a, c, names, shallow=False)
        assert {f"accounts.{fmt}", f"subscriptions.{fmt}", f"usage_events.{fmt}"} <= set(mismatch)


def test_parquet_output_passes_validation_and_keeps_types(tmp_path: Path) -> None:
    counts = generate(tmp_path, accounts=60, seed=2, end=END, fmt="parquet", events_per_account=10)
    ds = load_data_dir(tmp_path)
    assert ds.tables["usage_events"].count().execute() == counts["usage_events"]
    schema = pq.read_schema(tmp_path / "tickets.parquet")
    assert str(schema.field("opened_at").type).endswith("tz=UTC]")  # Parquet stores seconds as ms


def test_switching_format_removes_the_other_format(tmp_path: Path) -> None:
    generate(tmp_path, accounts=20, seed=0, end=END, fmt="parquet", events_per_account=2)
    generate(tmp_path, accounts=20, seed=0, end=END, fmt="csv", events_per_account=2)
    assert not list(tmp_path.glob("*.parquet"))
    load_data_dir(tmp_path)


def test_returned_counts_are_the_rows_written(small_demo: Path, tmp_path: Path) -> None:
    counts = generate(tmp_path, accounts=150, seed=1, end=END, events_per_account=30)
    for name, n in counts.items():
        assert len(read(small_demo, name)) == n, name
    assert counts["accounts"] == 150


def test_default_window_ends_on_the_first_of_the_month() -> None:
    assert default_end(dt.date(2026, 3, 17)) == dt.date(2026, 3, 1)
    assert window_start(dt.date(2026, 3, 31), 1) == dt.date(2026, 2, 28)
    assert window_start(dt.date(2026, 1, 1), 24) == dt.date(2024, 1, 1)


def test_nothing_happens_on_or_after_the_end(small_demo: Path) -> None:
    end = pd.Timestamp(END, tz="UTC")
    for name, col in (("tickets", "opened_at"), ("tickets", "resolved_at"), ("survey_responses", "responded_at"),
                      ("usage_events", "occurred_at")):
        ts = pd.to_datetime(read(small_demo, name)[col].replace("", None).dropna(), utc=True)
        assert (ts < end).all(), (name, col)
    for name, col in (("subscriptions", "started_at"), ("charges", "charged_at"), ("costs", "incurred_on")):
        assert (pd.to_datetime(read(small_demo, name)[col]) < pd.Timestamp(END)).all(), (name, col)


def test_subscriptions_cover_the_commercial_story(big_demo: Path) -> None:
    subs = pd.read_csv(big_demo / "subscriptions.csv", parse_dates=["started_at", "ended_at"])
    assert set(subs.interval) == {"month", "quarter", "year"}
    assert (subs.quantity > 1).any() and (subs.discount > 0).any()
    eur = subs.groupby("account_id").currency.first().eq("EUR").mean()
    assert 0.10 <= eur <= 0.20
    # upgrades and downgrades: a row ends the day the account's next row starts
    s = subs.sort_values(["account_id", "started_at"])
    nxt = s.groupby("account_id").shift(-1)
    change = s.ended_at.eq(nxt.started_at)
    mrr = s.amount * s.quantity
    assert (change & (nxt.amount * nxt.quantity > mrr)).sum() > 50
    assert (change & (nxt.amount * nxt.quantity < mrr)).sum() > 10
    # reactivations: a gap between one row's end and the next row's start
    assert ((nxt.started_at - s.ended_at).dt.days > 30).sum() > 10


def test_fx_rates_start_before_the_first_subscription(small_demo: Path) -> None:
    fx = pd.read_csv(small_demo / "fx_rates.csv", parse_dates=["date"])
    subs = pd.read_csv(small_demo / "subscriptions.csv", parse_dates=["started_at"])
    assert set(fx.currency) == {"EUR"}
    assert fx.date.min() < subs.started_at.min()
    assert fx.date.diff().dropna().dt.days.between(28, 31).all()


def test_every_enum_value_is_used(big_demo: Path) -> None:
    assert set(pd.read_csv(big_demo / "charges.csv").kind) == set(SPEC_TABLES["charges"].column("kind").choices or ())
    assert set(pd.read_csv(big_demo / "renewals.csv").outcome) == {"renewed", "churned", "pending"}
    assert set(pd.read_csv(big_demo / "survey_responses.csv").survey) == {"nps", "csat", "ces"}
    assert set(pd.read_csv(big_demo / "costs.csv").category) == {
        "payroll", "programs", "services", "training", "marketing", "tools"}
    accounts = pd.read_csv(big_demo / "accounts.csv")
    assert set(accounts.segment) == {"smb", "mid_market", "enterprise"}
    assert accounts.csm.nunique() == 8


def test_tickets_and_ticket_surveys_line_up(big_demo: Path) -> None:
    tickets = pd.read_csv(big_demo / "tickets.csv", parse_dates=["opened_at", "resolved_at"])
    assert tickets.resolved_at.isna().any()
    assert 0.55 <= (tickets.contacts == 1).mean() <= 0.9
    assert tickets.contacts.between(1, 5).all()
    sr = pd.read_csv(big_demo / "survey_responses.csv", parse_dates=["responded_at"])
    linked = sr[sr.survey.isin(["csat", "ces"])].merge(tickets, on=["ticket_id", "account_id"], how="left")
    assert linked.resolved_at.notna().all()
    assert (linked.responded_at > linked.resolved_at).all()
    assert sr[sr.survey == "nps"].ticket_id.isna().all()
    assert 0.25 <= sr.comment.notna().mean() <= 0.7


@pytest.mark.parametrize("bad", [{"fmt": "xlsx"}, {"accounts": 0}, {"months": 0}])
def test_bad_arguments_are_refused(tmp_path: Path, bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        generate(tmp_path, **bad)  # type: ignore[arg-type]
