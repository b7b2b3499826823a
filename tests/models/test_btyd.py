"""BG/NBD and Gamma-Gamma against the published CDNOW results (Fader, Hardie and Lee 2005).

Published: BG/NBD r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4
(standard errors 0.0125, 0.3783, 0.1859, 0.7057); Gamma-Gamma on the 946
repeat customers p = 6.25, q = 3.74, gamma = 15.44.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from csmetrics.cli.main import app
from csmetrics.io import load_data_dir
from csmetrics.models.btyd import BetaGeoFitter, GammaGammaFitter
from csmetrics.models.clv import fit_clv, rfm_summary
from csmetrics.schema.errors import UsageError
from tests.metrics.helpers import write_dir
from tests.models import cdnow

CALIBRATION_END = dt.date(1997, 9, 30)


def sig2(x: float) -> float:
    return float(f"{x:.2g}")


@pytest.fixture(scope="module")
def cdnow_ds(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    ds = load_data_dir(cdnow.write_charges_dir(tmp_path_factory.mktemp("cdnow")))
    yield ds
    ds.backend.disconnect()


def test_bgnbd_reproduces_published_cdnow_estimates() -> None:
    s = cdnow.summary()
    bg = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for k, v in published.items():
        assert sig2(bg.params_[k]) == sig2(v), k
        assert bg.params_[k] == pytest.approx(v, rel=2e-3), k
    assert bg.log_likelihood_ == pytest.approx(-9582.4, abs=0.1)
    ses = {"r": 0.0125, "alpha": 0.3783, "a": 0.1859, "b": 0.7057}
    for k, v in ses.items():
        assert bg.standard_errors_[k] == pytest.approx(v, rel=0.02), k


def test_bgnbd_conditional_expectation_matches_the_paper_example() -> None:
    # FHL 2005 section 5: x = 2, t_x = 30.43, T = 38.86 expects 1.226 purchases in the next 39 weeks.
    s = cdnow.summary()
    bg = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
    assert bg.conditional_expected_purchases(39, [2], [30.43], [38.86])[0] == pytest.approx(1.226, abs=2e-3)
    # A customer with no repeat purchase is alive for sure under BG/NBD (drop-out happens after a purchase).
    assert bg.probability_alive([0], [0.0], [38.86])[0] == 1.0
    assert 0 < bg.probability_alive([2], [5.0], [38.86])[0] < bg.probability_alive([2], [38.0], [38.86])[0]


def test_gamma_gamma_reproduces_published_cdnow_estimates() -> None:
    s = cdnow.summary_with_spend()
    gg = GammaGammaFitter().fit(s["x"], s["zbar"])
    assert gg.n_ == 946
    for k, v in {"p": 6.25, "q": 3.74, "gamma": 15.44}.items():
        assert sig2(gg.params_[k]) == sig2(v), k
        assert gg.params_[k] == pytest.approx(v, rel=2e-3), k
    # E[Z] is between the population mean and the customer's own mean.
    ez = gg.conditional_expected_average_value([2], [22.35])[0]
    assert min(22.35, gg.population_mean) < ez < max(22.35, gg.population_mean)


def test_rfm_summary_from_raw_transactions_equals_the_published_summary(cdnow_ds) -> None:  # type: ignore[no-untyped-def]
    got = cdnow_ds.backend.execute(rfm_summary(cdnow_ds, CALIBRATION_END)).sort_values("account_id")
    ref = cdnow.summary_with_spend()
    assert len(got) == 2357
    assert (got["frequency"].to_numpy() == ref["x"].to_numpy()).all()
    # The published file rounds to 2 decimals.
    assert np.abs(got["recency"].to_numpy() - ref["t_x"].to_numpy()).max() < 0.0051
    assert np.abs(got["T"].to_numpy() - ref["T"].to_numpy()).max() < 0.0051
    assert np.abs(got["monetary_value"].to_numpy() - ref["zbar"].to_numpy()).max() < 0.0051


def test_fit_clv_on_charges_reproduces_cdnow_and_predicts_per_account(cdnow_ds) -> None:  # type: ignore[no-untyped-def]
    res = fit_clv(cdnow_ds, horizon_months=12, as_of=CALIBRATION_END)
    assert sig2(res.bgnbd.params["r"]) == 0.24 and sig2(res.bgnbd.params["a"]) == 0.79
    assert res.gamma_gamma is not None and sig2(res.gamma_gamma.params["q"]) == 3.7
    p = res.predictions
    assert len(p) == 2357 and p["account_id"].is_unique
    assert ((p["p_alive"] > 0) & (p["p_alive"] <= 1)).all()
    assert (p["expected_purchases"] >= 0).all() and (p["clv"] >= 0).all()
    # E[Z | x, zbar] = p (gamma + x zbar) / (p x + q - 1) at the published p = 6.25, q = 3.74, gamma = 15.44
    # (the fitted values agree to 3 digits, hence rel=2e-3):
    ev = p.set_index("account_id")["expected_value"]
    assert ev["0001"] == pytest.approx(24.6637, rel=2e-3)  # x 2, zbar 22.35: 6.25 x 60.14 / 15.24
    assert ev["0002"] == pytest.approx(18.9166, rel=2e-3)  # x 1, zbar 11.77: 6.25 x 27.21 / 8.99
    assert ev["0003"] == pytest.approx(35.2190, rel=2e-3)  # x 0: population mean 6.25 x 15.44 / 2.74
    discounted = fit_clv(cdnow_ds, horizon_months=12, as_of=CALIBRATION_END, discount_rate=0.01)
    assert (discounted.predictions["clv"] <= p["clv"] + 1e-9).all()
    # a customer expected to buy again loses value to discounting
    assert discounted.predictions.set_index("account_id")["clv"]["0001"] < p.set_index("account_id")["clv"]["0001"]


def test_clv_of_the_papers_customer_over_39_weeks_is_published_purchases_times_spend(cdnow_ds) -> None:  # type: ignore[no-untyped-def]
    # FHL 2005 section 5: customer 0001 (x = 2, t_x = 30.43, T = 38.86) expects 1.226 purchases in the
    # next 39 weeks; Gamma-Gamma at the published parameters expects 24.6637 a purchase (zbar = 22.35):
    # 6.25 x (15.44 + 2 x 22.35) / (2 x 6.25 + 3.74 - 1) = 375.875 / 15.24 = 24.6637.
    # CLV over 39 weeks, margin 1, no discount: 1.226 x 24.6637 = 30.2377.
    weeks_39_in_months = 39 * 7 / (365.25 / 12)  # 273 days over an average month of 30.4375 days
    res = fit_clv(cdnow_ds, horizon_months=weeks_39_in_months, as_of=CALIBRATION_END)
    row = res.predictions.set_index("account_id").loc["0001"]
    assert (row["frequency"], round(row["recency"], 2), round(row["T"], 2)) == (2, 30.43, 38.86)
    assert row["expected_purchases"] == pytest.approx(1.226, abs=2e-3)
    assert row["clv"] == pytest.approx(30.2377, rel=3e-3)
    # gross_margin scales it: 0.5 x 30.2377 = 15.1189
    cdnow_ds.config = replace(cdnow_ds.config, gross_margin=0.5)
    try:
        half = fit_clv(cdnow_ds, horizon_months=weeks_39_in_months, as_of=CALIBRATION_END)
    finally:
        cdnow_ds.config = replace(cdnow_ds.config, gross_margin=1.0)
    assert half.predictions.set_index("account_id").loc["0001", "clv"] == pytest.approx(15.1189, rel=3e-3)


def test_clv_cli_prints_parameters_and_predictions_as_json(tmp_path: Path) -> None:
    root = cdnow.write_charges_dir(tmp_path / "cdnow")
    out = CliRunner().invoke(app, ["clv", "--data", str(root), "--model", "bgnbd", "--horizon", "12",
                                   "--as-of", "1997-09-30", "--format", "json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["bgnbd"]["params"]["alpha"] == pytest.approx(4.414, rel=2e-3)
    assert doc["gamma_gamma"]["params"]["p"] == pytest.approx(6.25, rel=2e-3)
    assert math.isfinite(doc["bgnbd"]["log_likelihood"]) and len(doc["accounts"]) == 2357
    assert {"account_id", "p_alive", "expected_purchases", "expected_value", "clv"} <= set(doc["accounts"][0])
    table = CliRunner().invoke(app, ["clv", "--data", str(root), "--as-of", "1997-09-30", "--limit", "3"])
    assert table.exit_code == 0, table.output
    # Account 0509 (18 repeat purchases, active to the end) has the highest CLV.
    assert "log-likelihood -9,582.4" in table.stdout and "0509" in table.stdout


def test_clv_with_too_few_purchasers_is_a_usage_error(tmp_path: Path) -> None:
    root = write_dir(tmp_path / "d", charges=[
        {"charge_id": "c1", "account_id": "a1", "charged_at": "2025-01-01", "amount": 10},
        {"charge_id": "c2", "account_id": "a1", "charged_at": "2025-02-01", "amount": 10},
    ])
    ds = load_data_dir(root)
    with pytest.raises(UsageError, match="at least 10 accounts"):
        fit_clv(ds, as_of=dt.date(2025, 3, 1))
    out = CliRunner().invoke(app, ["clv", "--data", str(root)])
    assert out.exit_code == 2 and "at least 10 accounts" in out.stderr


def test_same_day_charges_are_one_transaction_and_first_purchase_is_left_out_of_spend(tmp_path: Path) -> None:
    # a1: 2025-01-01 (10 + 5), 2025-01-15 (20), 2025-01-29 (40): x = 2, t_x = 4 weeks,
    # T = (2025-02-26 - 2025-01-01) = 56 days = 8 weeks, monetary = (20 + 40) / 2 = 30.
    rows = [("c1", "2025-01-01", 10), ("c2", "2025-01-01", 5), ("c3", "2025-01-15", 20), ("c4", "2025-01-29", 40)]
    root = write_dir(tmp_path / "d", charges=[
        {"charge_id": c, "account_id": "a1", "charged_at": d, "amount": a} for c, d, a in rows])
    ds = load_data_dir(root)
    r = ds.backend.execute(rfm_summary(ds, dt.date(2025, 2, 26))).iloc[0]
    assert (r["frequency"], r["recency"], r["T"], r["monetary_value"]) == (2, 4.0, 8.0, 30.0)
    day = ds.backend.execute(rfm_summary(ds, dt.date(2025, 2, 26), unit="day")).iloc[0]
    assert (day["recency"], day["T"]) == (28.0, 56.0)


def test_without_enough_repeat_customers_spend_is_the_observed_mean(tmp_path: Path) -> None:
    # 12 accounts buy once on 2025-01-0N; a1 and a2 buy again (30 and 50): observed mean repeat value 40.
    charges = [{"charge_id": f"c{i}", "account_id": f"a{i}", "charged_at": f"2025-01-{i + 1:02d}", "amount": 20}
               for i in range(12)]
    charges += [{"charge_id": "r1", "account_id": "a1", "charged_at": "2025-02-01", "amount": 30},
                {"charge_id": "r2", "account_id": "a2", "charged_at": "2025-03-01", "amount": 50}]
    ds = load_data_dir(write_dir(tmp_path / "d", charges=charges))
    res = fit_clv(ds, horizon_months=6, as_of=dt.date(2025, 6, 30))
    assert res.gamma_gamma is None and any("Gamma-Gamma not fitted" in n for n in res.notes)
    ev = dict(zip(res.predictions["account_id"], res.predictions["expected_value"], strict=True))
    assert (ev["a1"], ev["a2"], ev["a0"]) == (30.0, 50.0, 40.0)
