"""Customer survival: lifetimes from subscriptions (Ibis) and Kaplan-Meier curves (lifelines)."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.datasets import load_waltons
from typer.testing import CliRunner

from csmetrics.cli.main import app
from csmetrics.io import load_data_dir
from csmetrics.models.clv import subscription_clv
from csmetrics.models.survival import (
    DAYS_PER_MONTH,
    customer_lifetimes,
    kaplan_meier,
    median_lifetime_months,
    plot_curves,
)
from csmetrics.schema.errors import UsageError
from tests.metrics.helpers import sub, write_dir

AS_OF = dt.date(2025, 12, 31)


def waltons_dir(root: Path) -> Path:
    """The Waltons data as subscriptions: duration T days, churned when E = 1, else still paying on AS_OF.

    Churned subjects start 200 days before AS_OF and end T days later; censored
    ones start T - 1 days before AS_OF, so they are observed for exactly T days.
    """
    w = load_waltons()
    subs, accounts = [], []
    for i, r in w.iterrows():
        days = int(r["T"])
        if r["E"]:
            start = AS_OF - dt.timedelta(days=200)
            end: dt.date | None = start + dt.timedelta(days=days)
        else:
            start, end = AS_OF - dt.timedelta(days=days - 1), None
        subs.append(sub(f"s{i}", f"a{i:03d}", start.isoformat(), end.isoformat() if end else None))
        accounts.append({"account_id": f"a{i:03d}", "segment": r["group"]})
    return write_dir(root, accounts=accounts, subscriptions=subs)


@pytest.fixture(scope="module")
def waltons(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    ds = load_data_dir(waltons_dir(tmp_path_factory.mktemp("waltons")))
    yield ds
    ds.backend.disconnect()


def test_kaplan_meier_equals_lifelines_on_waltons_overall_and_per_group(waltons) -> None:  # type: ignore[no-untyped-def]
    w = load_waltons()
    res = kaplan_meier(waltons, by="segment", as_of=AS_OF)
    assert [c.group for c in res.curves] == [None, "control", "miR-137"]
    for c in res.curves:
        part = w if c.group is None else w[w["group"] == c.group]
        ref = KaplanMeierFitter().fit(part["T"], part["E"])
        assert np.allclose(np.array(c.timeline) * DAYS_PER_MONTH, ref.survival_function_.index)
        assert np.allclose(c.survival, ref.survival_function_.iloc[:, 0])
        assert np.allclose(c.ci_lower, ref.confidence_interval_.iloc[:, 0])
        assert c.median_months == pytest.approx(ref.median_survival_time_ / DAYS_PER_MONTH)
        assert (c.customers, c.churned) == (len(part), int(part["E"].sum()))


def test_median_lifetime_has_a_confidence_interval_around_it(waltons) -> None:  # type: ignore[no-untyped-def]
    m = median_lifetime_months(waltons, by="segment", as_of=AS_OF)
    assert list(m.columns) == ["group", "customers", "churned", "median_months", "ci_lower", "ci_upper"]
    assert m["group"].tolist()[0] is None and m["customers"].tolist() == [163, 129, 34]
    assert (m["ci_lower"] <= m["median_months"]).all() and (m["median_months"] <= m["ci_upper"]).all()
    # Waltons overall median: 56 days (lifelines).
    assert m["median_months"].iloc[0] == pytest.approx(56 / DAYS_PER_MONTH)


def test_lifetime_runs_to_the_first_day_without_mrr(tmp_path: Path) -> None:
    root = write_dir(tmp_path / "d", subscriptions=[
        # a1: renewal starts the day the first ends (ended_at exclusive): one span, churn 2025-06-01.
        sub("s1", "a1", "2025-01-01", "2025-03-01"), sub("s2", "a1", "2025-03-01", "2025-06-01"),
        # a2: gap after 2025-02-01, back in March: the lifetime ends at the first churn.
        sub("s3", "a2", "2025-01-01", "2025-02-01"), sub("s4", "a2", "2025-03-01"),
        # a3: overlapping subscriptions, still paying on as-of: censored, 2025-04-01 .. 2025-12-31 = 275 days.
        sub("s5", "a3", "2025-04-01", "2025-08-01"), sub("s6", "a3", "2025-05-01"),
        # a4: a free (0) subscription first; paying from 2025-02-01 to 2025-04-01.
        sub("s7", "a4", "2025-01-01", "2025-02-01", amount=0), sub("s8", "a4", "2025-02-01", "2025-04-01"),
        # a5: starts after as-of: not a customer yet.
        sub("s9", "a5", "2026-02-01"),
        # a6: ends after as-of: censored at as-of.
        sub("s10", "a6", "2025-12-01", "2026-03-01"),
    ])
    ds = load_data_dir(root)
    got = ds.backend.execute(customer_lifetimes(ds, AS_OF)).set_index("account_id").sort_index()
    assert got.index.tolist() == ["a1", "a2", "a3", "a4", "a6"]
    assert got["duration_days"].tolist() == [151, 31, 275, 59, 31]
    assert got["churned"].tolist() == [True, True, False, True, False]
    assert [None if pd.isna(d) else str(pd.Timestamp(d).date()) for d in got["churn_day"]] == [
        "2025-06-01", "2025-02-01", None, "2025-04-01", None]
    # As of 2025-03-15 a1 is still paying: observed 2025-01-01 .. 2025-03-15 = 74 days.
    early = ds.backend.execute(customer_lifetimes(ds, dt.date(2025, 3, 15))).set_index("account_id")
    assert (early.loc["a1", "duration_days"], bool(early.loc["a1", "churned"])) == (74, False)


def test_signup_cohorts_group_by_the_period_of_the_first_paying_day(tmp_path: Path) -> None:
    root = write_dir(tmp_path / "d", subscriptions=[
        sub("s1", "a1", "2025-01-10", "2025-03-01"), sub("s2", "a2", "2025-02-01"),
        sub("s3", "a3", "2025-04-01", "2025-05-01"), sub("s4", "a4", "2025-05-20"),
    ])
    ds = load_data_dir(root)
    res = kaplan_meier(ds, by="cohort", as_of=AS_OF, grain="quarter")
    assert [(c.group, c.customers, c.churned) for c in res.curves] == [
        (None, 4, 2), ("2025-Q1", 2, 1), ("2025-Q2", 2, 1)]
    months = kaplan_meier(ds, by="cohort", as_of=AS_OF, grain="month")
    assert [c.group for c in months.curves[1:]] == ["2025-01", "2025-02", "2025-04", "2025-05"]


def test_median_not_reached_is_nan_and_subscription_clv_uses_the_median(tmp_path: Path) -> None:
    # 4 customers paying 100/month; one churns after 10 days: the median is not reached.
    root = write_dir(tmp_path / "d", subscriptions=[
        sub("s1", "a1", "2025-01-01", "2025-01-11"), sub("s2", "a2", "2025-01-01"),
        sub("s3", "a3", "2025-01-01"), sub("s4", "a4", "2025-01-01"),
    ])
    ds = load_data_dir(root)
    m = median_lifetime_months(ds, as_of=AS_OF)
    assert math.isnan(m["median_months"].iloc[0]) and math.isnan(m["ci_upper"].iloc[0])
    clv = subscription_clv(ds, as_of=AS_OF)
    assert clv["customers"].iloc[0] == 3 and clv["arpa"].iloc[0] == pytest.approx(100.0)
    assert math.isnan(clv["clv"].iloc[0])


def test_subscription_clv_is_arpa_times_margin_times_median_lifetime(waltons) -> None:  # type: ignore[no-untyped-def]
    clv = subscription_clv(waltons, by="segment", as_of=AS_OF)
    total = clv[clv["group"].isna()].iloc[0]
    # 7 censored control subjects pay 100 on as-of; median 56 days.
    assert total["customers"] == 7 and total["arpa"] == pytest.approx(100.0)
    assert total["clv"] == pytest.approx(100.0 * 56 / DAYS_PER_MONTH)
    assert total["clv_lower"] <= total["clv"] <= total["clv_upper"]
    with pytest.raises(UsageError, match="lifespan_months"):
        subscription_clv(waltons, lifetime="configured", as_of=AS_OF)


def test_plot_writes_a_png(waltons, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = plot_curves(kaplan_meier(waltons, by="segment", as_of=AS_OF), tmp_path / "km.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_survival_cli_json_and_table(tmp_path: Path) -> None:
    root = waltons_dir(tmp_path / "w")
    runner = CliRunner()
    out = runner.invoke(app, ["survival", "--data", str(root), "--by", "segment", "--as-of", "2025-12-31",
                              "--format", "json", "--plot", str(tmp_path / "km.png")])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["as_of"] == "2025-12-31" and [g["group"] for g in doc["groups"]] == [None, "control", "miR-137"]
    assert doc["groups"][0]["median_months"] == pytest.approx(56 / DAYS_PER_MONTH)
    assert (tmp_path / "km.png").exists()
    table = runner.invoke(app, ["survival", "--data", str(root), "--as-of", "2025-12-31"])
    assert table.exit_code == 0 and "1.8" in table.stdout
    bad = runner.invoke(app, ["survival", "--data", str(root), "--by", "nope"])
    assert bad.exit_code == 2 and "not an accounts column" in bad.stderr
