"""Incremental runs: per-period results cached on the workspace's content digests."""

from __future__ import annotations

import csv
import datetime as dt
import importlib
import sqlite3
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from csmetrics.cache import cache_path
from csmetrics.compute import Result, compute_dataset
from csmetrics.demo.generator import generate
from csmetrics.io import ingest, open_workspace
from csmetrics.io.digest import DIGEST, add_row, write_digest
from tests.metrics.helpers import sub, write_dir

START, END = "2025-01-01", "2025-09-01"  # 8 months
HEALTH = "mrr,customer_churn_rate,health_score_avg"


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("company")
    generate(data, accounts=120, seed=3, months=10, end=dt.date(2025, 9, 1), fmt="csv", events_per_account=20)
    return data


@pytest.fixture
def workspace(tmp_path: Path, company: Path) -> Path:
    ws = tmp_path / "ws" / "workspace.duckdb"
    ingest(company, ws)
    return ws


def run(ws: Path, cache: bool = True, metrics: str | None = None, by: str | None = None) -> Result:
    ds = open_workspace(ws)
    try:
        return compute_dataset(ds, metrics, "month", START, END, by, cache=cache)
    finally:
        ds.backend.disconnect()


def assert_same(got: Result, ws: Path, metrics: str | None = None, by: str | None = None) -> None:
    fresh = run(ws, cache=False, metrics=metrics, by=by)
    assert fresh.computed is None
    m = got.rows.merge(fresh.rows, on=["metric", "period", "group"], how="outer", suffixes=("_got", "_fresh"))
    diff = m[(m.value_got != m.value_fresh) & ~(m.value_got.isna() & m.value_fresh.isna())]
    assert diff.empty, diff.to_string()
    pd.testing.assert_frame_equal(got.rows, fresh.rows, check_exact=True)


def later_batch(root: Path, company: Path, **tables: list[dict[str, str]]) -> Path:
    """A data directory with the company's accounts (unchanged) plus ``tables``."""
    root.mkdir()
    (root / "accounts.csv").write_bytes((company / "accounts.csv").read_bytes())
    for name, rows in tables.items():
        with (root / f"{name}.csv").open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    return root


def test_second_run_reads_every_period_from_the_cache(workspace: Path) -> None:
    first = run(workspace)
    assert first.computed == 8
    assert cache_path(workspace).exists()
    assert_same(first, workspace)
    second = run(workspace)
    assert second.computed == 0
    pd.testing.assert_frame_equal(second.rows, first.rows, check_exact=True)
    # Another grouping or grain is another key: computed, not mixed up with these.
    by_csm = run(workspace, by="csm")
    assert by_csm.computed == 8
    assert_same(by_csm, workspace, by="csm")


def test_new_rows_in_the_last_month_recompute_only_that_month(tmp_path: Path, workspace: Path,
                                                               company: Path) -> None:
    run(workspace)
    account = pd.read_csv(company / "accounts.csv")["account_id"].iloc[0]
    feature = pd.read_csv(company / "usage_events.csv")["feature"].iloc[0]
    batch = later_batch(
        tmp_path / "august", company,
        usage_events=[{"account_id": account, "occurred_at": "2025-08-30 12:00:00", "feature": feature}],
        tickets=[{"ticket_id": "T-new", "account_id": account, "opened_at": "2025-08-29 09:00:00"}],
    )
    ingest(batch, workspace)
    after = run(workspace)
    assert after.computed == 1
    assert_same(after, workspace)
    assert after.rows.query("metric == 'tickets' and period == '2025-08'")["value"].iloc[0] >= 1


def test_an_edited_old_row_recomputes_its_month_and_later(tmp_path: Path, workspace: Path, company: Path) -> None:
    run(workspace)
    subs = pd.read_csv(company / "subscriptions.csv", dtype=str, keep_default_na=False)
    row = subs[subs["started_at"].str.startswith("2025-04")].iloc[0].to_dict()
    row["amount"] = str(float(row["amount"]) + 7)
    ingest(later_batch(tmp_path / "fix", company, subscriptions=[row]), workspace)
    after = run(workspace)
    assert after.computed == 5  # April to August
    assert_same(after, workspace)


def test_a_new_feature_changes_adoption_everywhere(tmp_path: Path, workspace: Path, company: Path) -> None:
    """The feature catalogue is the denominator of product_adoption_rate in every period."""
    run(workspace)
    account = pd.read_csv(company / "accounts.csv")["account_id"].iloc[0]
    batch = later_batch(tmp_path / "new-feature", company, usage_events=[
        {"account_id": account, "occurred_at": "2025-08-15 08:00:00", "feature": "brand_new_feature"}])
    ingest(batch, workspace)
    after = run(workspace)
    assert after.computed == 8
    assert_same(after, workspace)


def test_new_account_recomputes_grouped_results_but_not_ungrouped(tmp_path: Path, workspace: Path,
                                                                   company: Path) -> None:
    run(workspace)
    run(workspace, by="segment")
    batch = tmp_path / "new-account"
    batch.mkdir()
    (batch / "accounts.csv").write_text("account_id,segment\nNEW-1,smb\n", encoding="utf-8")
    ingest(batch, workspace)
    assert run(workspace).computed == 0
    grouped = run(workspace, by="segment")
    assert grouped.computed == 8
    assert_same(grouped, workspace, by="segment")


def test_health_aggregates_depend_on_every_row(tmp_path: Path, workspace: Path, company: Path) -> None:
    """Health looks ahead (upcoming renewals), so any new row recomputes its every period."""
    first = run(workspace, metrics=HEALTH)
    assert first.computed == 8
    account = pd.read_csv(company / "accounts.csv")["account_id"].iloc[0]
    batch = later_batch(tmp_path / "renewal", company, renewals=[
        {"renewal_id": "R-new", "account_id": account, "due_on": "2025-08-20", "outcome": "pending"}])
    ingest(batch, workspace)
    after = run(workspace, metrics=HEALTH)
    assert after.computed == 8
    assert_same(after, workspace, metrics=HEALTH)


def test_a_survey_answer_refreshes_its_month(workspace: Path, company: Path) -> None:
    """The survey server adds each answer to the digest (csmetrics.surveys.record_answer calls add_row)."""
    run(workspace)
    account = pd.read_csv(company / "accounts.csv")["account_id"].iloc[0]
    con = duckdb.connect(str(workspace))
    con.execute("INSERT INTO survey_responses (response_id, account_id, survey, score, responded_at) "
                "VALUES ('web-1', ?, 'nps', 10, TIMESTAMP '2025-06-03 10:00:00')", [account])
    add_row(con, "survey_responses", "response_id", "web-1", dt.date(2025, 6, 3))
    con.close()
    after = run(workspace)
    assert after.computed == 3  # June to August
    assert_same(after, workspace)


def test_a_workspace_changed_behind_its_digest_is_computed_afresh(workspace: Path, company: Path) -> None:
    run(workspace)
    account = pd.read_csv(company / "accounts.csv")["account_id"].iloc[0]
    con = duckdb.connect(str(workspace))
    con.execute("INSERT INTO tickets (ticket_id, account_id, opened_at) "
                "VALUES ('T-raw', ?, TIMESTAMP '2025-02-02 10:00:00')", [account])
    con.close()
    after = run(workspace)
    assert after.computed is None  # the row counts disagree with the digest: no cache
    assert_same(after, workspace)
    # A workspace without a digest (written by an older csmetrics) runs without the cache too.
    con = duckdb.connect(str(workspace))
    con.execute(f"DROP TABLE {DIGEST}")
    con.close()
    assert run(workspace).computed is None


def test_no_cache_neither_reads_nor_writes(workspace: Path) -> None:
    assert run(workspace, cache=False).computed is None
    assert not cache_path(workspace).exists()


def test_cli_says_which_periods_came_from_the_cache(workspace: Path) -> None:
    from typer.testing import CliRunner

    from csmetrics.cli.main import app

    runner = CliRunner()
    args = ["metrics", "--workspace", str(workspace), "--start", START, "--end", END, "--format", "json",
            "--metrics", "mrr,tickets"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "result cache" not in first.stderr
    second = runner.invoke(app, args)
    assert second.exit_code == 0
    assert "note: 8 of 8 periods read from the result cache" in second.stderr
    assert second.stdout == first.stdout
    fresh = runner.invoke(app, [*args, "--no-cache"])
    assert "result cache" not in fresh.stderr
    assert fresh.stdout == first.stdout


def test_adding_one_row_updates_the_digest_as_a_full_rewrite_would(workspace: Path, company: Path) -> None:
    """What the survey server does per answer (add_row) equals recomputing the digest."""
    account = pd.read_csv(company / "accounts.csv")["account_id"].iloc[0]
    con = duckdb.connect(str(workspace))
    try:
        for rid, day in (("web-a", "2025-06-03"), ("web-b", "2027-01-09")):  # an existing month and a new one
            con.execute("INSERT INTO survey_responses (response_id, account_id, survey, score, responded_at) "
                        f"VALUES (?, ?, 'csat', 4, TIMESTAMP '{day} 10:00:00')", [rid, account])
            add_row(con, "survey_responses", "response_id", rid, dt.date.fromisoformat(day))
        query = f"SELECT table_name, month, n, h FROM {DIGEST} ORDER BY ALL"
        incremental = con.execute(query).fetchall()
        write_digest(con, [r[0] for r in con.execute("SELECT DISTINCT table_name FROM " + DIGEST).fetchall()])
        assert con.execute(query).fetchall() == incremental
        assert ("survey_responses", dt.date(2027, 1, 1), 1) in [r[:3] for r in incremental]
    finally:
        con.close()


# -- settings ----------------------------------------------------------------
# Two accounts, January to March 2025:
#   A pays 100 a month from 1 January; B pays 300 from 1 January to 1 March (churned in March).
#   Jan: m0 0/0, m1 100/300 -> arpa 200, no customer at the start: churn null.
#   Feb: m0 100/300, m1 100/300 -> arpa 200, churn 0 / 2 = 0.
#   Mar: m0 100/300, m1 100/0 -> arpa 100, churn 1 / 2 = 0.5, lifetime 1 / 0.5 = 2 months.
# CSAT answers in January: 3, 4, 5, 5.
TINY_SUBS = [sub("s-a", "A", "2025-01-01", amount=100), sub("s-b", "B", "2025-01-01", "2025-03-01", amount=300)]
TINY_CSAT = [{"response_id": f"r{i}", "account_id": a, "survey": "csat", "score": s,
              "responded_at": "2025-01-20 10:00:00"}
             for i, (a, s) in enumerate([("A", 3), ("A", 4), ("B", 5), ("B", 5)])]
TINY_ACCOUNTS = [{"account_id": "A"}, {"account_id": "B"}]
SETTINGS_METRICS = "mrr,clv,csat"


def tiny_values(ws: Path, cache: bool = True) -> tuple[dict[tuple[str, str], float | None], int | None]:
    ds = open_workspace(ws)
    try:
        got = compute_dataset(ds, SETTINGS_METRICS, "month", "2025-01-01", "2025-04-01", cache=cache)
    finally:
        ds.backend.disconnect()
    values = {(r.metric, r.period): None if pd.isna(r.value) else r.value for r in got.rows.itertuples()}
    return values, got.computed


def set_settings(root: Path, ws: Path, toml: str) -> None:
    """Ingest a directory holding only the accounts (unchanged) and ``toml``: the workspace takes its settings."""
    ingest(write_dir(root, toml=toml, accounts=TINY_ACCOUNTS), ws)


def test_changed_settings_recompute_the_values_they_enter(tmp_path: Path) -> None:
    ws = tmp_path / "ws" / "workspace.duckdb"
    ingest(write_dir(tmp_path / "data", accounts=TINY_ACCOUNTS, subscriptions=TINY_SUBS,
                     survey_responses=TINY_CSAT), ws)
    defaults = {
        ("mrr", "2025-01"): 400, ("mrr", "2025-02"): 400, ("mrr", "2025-03"): 100,
        # clv = arpa x gross_margin 1 x months / churn: null without churn, 100 x 1 x 2 = 200 in March
        ("clv", "2025-01"): None, ("clv", "2025-02"): None, ("clv", "2025-03"): 200,
        # csat = 100 x answers >= 4 / answers = 100 x 3 / 4
        ("csat", "2025-01"): 75, ("csat", "2025-02"): None, ("csat", "2025-03"): None,
    }
    assert tiny_values(ws) == (defaults, 3)
    assert tiny_values(ws) == (defaults, 0)  # the next run reads the cache

    set_settings(tmp_path / "margin", ws, "gross_margin = 0.5\n")
    margin = {**defaults, ("clv", "2025-03"): 100}  # 100 x 0.5 x 2
    assert tiny_values(ws) == (margin, 3)

    set_settings(tmp_path / "lifespan", ws, "gross_margin = 0.5\nlifespan_months = 10\n")
    # clv = arpa x 0.5 x 10 in every month: 200 x 5, 200 x 5, 100 x 5
    lifespan = {**margin, ("clv", "2025-01"): 1000, ("clv", "2025-02"): 1000, ("clv", "2025-03"): 500}
    assert tiny_values(ws) == (lifespan, 3)

    set_settings(tmp_path / "csat", ws, "gross_margin = 0.5\nlifespan_months = 10\ncsat_positive_min = 5\n")
    strict = {**lifespan, ("csat", "2025-01"): 50}  # 100 x 2 / 4: only the two 5s are positive
    assert tiny_values(ws) == (strict, 3)
    assert tiny_values(ws, cache=False)[0] == strict

    # Back to the defaults: the first run's entries are still stored under their own key.
    set_settings(tmp_path / "back", ws, "")
    assert tiny_values(ws) == (defaults, 0)


# -- when SQLite fails -------------------------------------------------------
FALLBACK_METRICS = "mrr,tickets,csat"


def run_cli(ws: Path, *extra: str) -> tuple[int, str, str]:
    from typer.testing import CliRunner

    from csmetrics.cli.main import app

    res = CliRunner().invoke(app, ["metrics", "--workspace", str(ws), "--start", START, "--end", END,
                                   "--format", "json", "--metrics", FALLBACK_METRICS, *extra])
    return res.exit_code, res.stdout, res.stderr


def assert_falls_back(ws: Path, reason: str) -> None:
    """The CLI computes every period afresh, prints what --no-cache prints, and says why in a note."""
    code, out, err = run_cli(ws)
    assert code == 0, err
    fresh_code, fresh, _ = run_cli(ws, "--no-cache")
    assert fresh_code == 0
    assert out == fresh
    # Rich wraps the note at the terminal width, even inside the path: compare without whitespace.
    note = f"note: result cache {cache_path(ws)} not used: {reason}"
    assert "".join(note.split()) in "".join(err.split()), err
    assert "periods read from the result cache" not in err
    got = run(ws, metrics=FALLBACK_METRICS)
    assert got.computed is None
    assert_same(got, ws, metrics=FALLBACK_METRICS)


def test_a_cache_file_that_is_not_a_database_is_ignored_with_a_note(workspace: Path) -> None:
    cache_path(workspace).write_bytes(b"not a database\n" * 100)
    assert_falls_back(workspace, "file is not a database")


def test_a_truncated_cache_file_is_ignored_with_a_note(workspace: Path) -> None:
    run(workspace, metrics=FALLBACK_METRICS)
    path = cache_path(workspace)
    data = path.read_bytes()
    assert len(data) > 4096
    path.write_bytes(data[:100] + b"\xff" * (len(data) - 100))  # the header survives, the pages do not
    assert_falls_back(workspace, "database disk image is malformed")


def test_a_cache_path_that_cannot_be_opened_is_ignored_with_a_note(workspace: Path) -> None:
    cache_path(workspace).mkdir()  # e.g. a directory in the way; read-only files behave alike (not as root)
    assert_falls_back(workspace, "unable to open database file")


def test_a_locked_cache_is_ignored_with_a_note(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run(workspace, metrics=FALLBACK_METRICS)
    holder = sqlite3.connect(cache_path(workspace))
    holder.execute("BEGIN EXCLUSIVE")  # another process writing for longer than the cache waits
    connect = sqlite3.connect
    # The cache waits 30 s for a lock; the test needs only to see the wait end.
    monkeypatch.setattr(sqlite3, "connect", lambda path, timeout: connect(path, timeout=0.1))
    try:
        assert_falls_back(workspace, "database is locked")
    finally:
        holder.rollback()
        holder.close()


def fill_the_disk(workspace: Path) -> None:
    """A cache file on which every write fails as on a full disk (a trigger raises), while reads work."""
    con = sqlite3.connect(cache_path(workspace))
    con.executescript(
        "CREATE TABLE results (key TEXT NOT NULL, metric TEXT NOT NULL, rows TEXT NOT NULL, used REAL NOT NULL, "
        "PRIMARY KEY (key, metric));"
        "CREATE TRIGGER full BEFORE INSERT ON results BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;"
    )
    con.close()


def test_a_cache_that_cannot_be_written_is_ignored_with_a_note(workspace: Path) -> None:
    """A full disk or a read-only file: reading works, storing the new results fails."""
    fill_the_disk(workspace)
    code, out, err = run_cli(workspace)
    assert code == 0, err
    assert out == run_cli(workspace, "--no-cache")[1]
    note = f"note: result cache {cache_path(workspace)} not written: database or disk is full"
    assert "".join(note.split()) in "".join(err.split()), err


def test_results_that_cannot_be_stored_are_computed_once(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    compute_module = importlib.import_module("csmetrics.compute")  # the package exports a function of that name

    fill_the_disk(workspace)
    calls: list[int] = []
    real = compute_module.compute_rows

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(compute_module, "compute_rows", counting)
    got = run(workspace, metrics=FALLBACK_METRICS)
    # One contiguous run of missing periods is one computation; a failed store does not redo it.
    assert len(calls) == 1
    assert got.computed == len(got.periods)
    assert any("not written: database or disk is full" in n for n in got.notes)
    monkeypatch.undo()
    assert_same(got, workspace, metrics=FALLBACK_METRICS)


def test_a_garbled_cache_entry_is_recomputed(workspace: Path) -> None:
    first = run(workspace, metrics=FALLBACK_METRICS)
    con = sqlite3.connect(cache_path(workspace))
    with con:
        con.execute("UPDATE results SET rows = '[[null, 1' WHERE rowid = (SELECT min(rowid) FROM results)")
        con.execute("UPDATE results SET rows = '{\"a\": 1}' WHERE rowid = (SELECT max(rowid) FROM results)")
    con.close()
    again = run(workspace, metrics=FALLBACK_METRICS)
    assert again.computed is not None and again.computed >= 1
    pd.testing.assert_frame_equal(again.rows, first.rows, check_exact=True)
    assert run(workspace, metrics=FALLBACK_METRICS).computed == 0  # the entries were rewritten
