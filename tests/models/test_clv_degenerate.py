"""Degenerate BG/NBD and Gamma-Gamma fits are flagged in words, with what the data lacks; healthy ones are not."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from csmetrics.cli.main import app
from csmetrics.io import load_data_dir
from csmetrics.models.btyd import BetaGeoFitter, FitSummary, GammaGammaFitter
from csmetrics.models.clv import fit_clv
from csmetrics.models.fit_checks import check_bgnbd, check_gamma_gamma, too_few_repeat
from tests.io.test_cli import runner
from tests.metrics.helpers import write_dir
from tests.models import cdnow

NAN = math.nan
AS_OF = dt.date(2025, 12, 31)
NUM = r"[0-9.e+-]+"

TOO_FEW = ("only 2 of 12 accounts made a repeat purchase; BG/NBD needs repeat purchases with varying gaps "
           "(at least 10 accounts with one) to estimate buying rates and drop-out, so its P(alive) and expected "
           "purchases are not reliable")


def charge(cid: str, account: str, day: dt.date, amount: float) -> dict[str, Any]:
    return {"charge_id": cid, "account_id": account, "charged_at": day.isoformat(), "amount": amount,
            "kind": "purchase"}


def few_repeats_dir(root: Path) -> Path:
    # 12 accounts buy once, a week apart from 2025-02-01; A00 and A01 buy a second time: 2 repeat purchasers.
    rows = [charge(f"C{i:02d}", f"A{i:02d}", dt.date(2025, 2, 1) + dt.timedelta(days=7 * i), 100) for i in range(12)]
    rows += [charge("X1", "A00", dt.date(2025, 6, 1), 80), charge("X2", "A01", dt.date(2025, 7, 1), 120)]
    return write_dir(root, charges=rows)


def regular_buyers_dir(root: Path) -> Path:
    # 12 accounts, each buying every 28 days, 13 times, from 2025-01-06 + i days: x = 12, gap 4 weeks,
    # last purchase 2025-12-08 + i days, so 23 - i days (< 3 gaps) before 2025-12-31: no one went quiet.
    rows = [charge(f"C{i:02d}{k:02d}", f"A{i:02d}", dt.date(2025, 1, 6) + dt.timedelta(days=i + 28 * k),
                   50 + 10 * i + k % 3)
            for i in range(12) for k in range(13)]
    return write_dir(root, charges=rows)


# -- fit_clv on whole data sets ------------------------------------------------------


def test_few_repeat_purchasers_are_named(tmp_path: Path) -> None:
    res = fit_clv(load_data_dir(few_repeats_dir(tmp_path / "d")), as_of=AS_OF)
    assert res.degenerate
    assert res.warnings[0] == TOO_FEW
    assert res.notes[: len(res.warnings)] == res.warnings


def test_no_one_stopping_buying_is_flagged_with_what_the_data_lacks(tmp_path: Path) -> None:
    res = fit_clv(load_data_dir(regular_buyers_dir(tmp_path / "d")), as_of=AS_OF)
    assert res.predictions["p_alive"].round(2).tolist() == [1.0] * 12
    bg_warning = res.warnings[0]
    assert re.fullmatch(
        rf"BG/NBD fit is degenerate \(.*a = {NUM} at its lower bound.*\): it finds almost no drop-out after a "
        r"purchase, and P\(alive\) is 1\.00 for all 12 accounts, so it cannot show who has stopped buying\. "
        r"What the data lacks: a drop-out signal\. The 12 accounts with a repeat purchase bought 12\.0 more times "
        r"on average, about every 4\.0 weeks \(median\), and 0 of them have been quiet for more than 3 times their "
        r"usual gap; BG/NBD needs several repeat purchases per account with varying gaps, and accounts that "
        r"bought regularly and then went quiet\.", bg_warning)


def test_the_cli_prints_the_warning_and_json_carries_it(tmp_path: Path) -> None:
    data = few_repeats_dir(tmp_path / "d")
    table = runner().invoke(app, ["clv", "--data", str(data), "--as-of", "2025-12-31"])
    assert table.exit_code == 0, table.output
    # Rich wraps notes at the terminal width: compare the words.
    assert " ".join(f"note: {TOO_FEW}".split()) in " ".join(table.stderr.split())
    out = runner().invoke(app, ["clv", "--data", str(data), "--as-of", "2025-12-31", "--format", "json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["warnings"][0] == TOO_FEW
    assert doc["notes"][0] == TOO_FEW


def test_cdnow_fit_is_healthy_and_gets_no_warning(tmp_path: Path) -> None:
    ds = load_data_dir(cdnow.write_charges_dir(tmp_path / "cdnow"))
    try:
        res = fit_clv(ds, as_of=dt.date(1997, 9, 30))
    finally:
        ds.backend.disconnect()
    assert res.warnings == []
    assert res.notes == []
    assert not res.degenerate
    alive = res.predictions["p_alive"]
    assert alive.min() < 0.01 and alive.max() == 1.0


# -- the checks on their own, with hand-made inputs ----------------------------------


def test_bgnbd_check_names_the_signs_and_the_data() -> None:
    # The demo's fit: a at 0, standard errors of a and b undefined, P(alive) 1.00 for everyone.
    fit = FitSummary("bgnbd", {"r": 2.4, "alpha": 130.3, "a": 0.000911, "b": 112.3},
                     {"r": 0.4, "alpha": 22.2, "a": NAN, "b": NAN}, -5430.0, 3, True)
    # Repeat purchasers: x = 1 with t_x = 5 (gap 5, quiet 35 > 15) and x = 3 with t_x = 30 (gap 10,
    # quiet 10 <= 30): mean x 2.0, median gap 7.5 weeks, 1 quiet.
    got = check_bgnbd(fit, [0, 1, 3], [0.0, 5.0, 30.0], [40.0, 40.0, 40.0], [1.0, 0.99999, 0.999995], "week")
    assert got == (
        "BG/NBD fit is degenerate (a = 0.000911 at its lower bound; no standard error for a, b): it finds almost "
        "no drop-out after a purchase, and P(alive) is 1.00 for all 3 accounts, so it cannot show who has "
        "stopped buying. What the data lacks: a drop-out signal. The 2 accounts with a repeat purchase bought "
        "2.0 more times on average, about every 7.5 weeks (median), and 1 of them has been quiet for more than "
        "3 times its usual gap; BG/NBD needs several repeat purchases per account with varying gaps, and "
        "accounts that bought regularly and then went quiet.")


def test_bgnbd_check_passes_the_published_cdnow_fit() -> None:
    s = cdnow.summary()
    bg = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
    alive = bg.probability_alive(s["frequency"], s["recency"], s["T"])
    assert check_bgnbd(bg.summary(), s["frequency"], s["recency"], s["T"], alive, "week") is None


def test_bgnbd_check_flags_flat_p_alive_even_with_plausible_parameters() -> None:
    fit = FitSummary("bgnbd", {"r": 0.5, "alpha": 4.0, "a": 0.8, "b": 2.5},
                     {"r": 0.1, "alpha": 1.0, "a": 0.2, "b": 0.7}, -10.0, 2, True)
    got = check_bgnbd(fit, [0, 2], [0.0, 8.0], [10.0, 10.0], [0.97, 0.979], "day")
    assert got is not None
    assert got.startswith("BG/NBD fit is degenerate: P(alive) only spans 0.97 to 0.98 over 2 accounts")
    assert "about every 4.0 days (median), and 0 of them have been quiet" in got


def test_gamma_gamma_check_names_the_signs_and_the_spread() -> None:
    fit = FitSummary("gamma_gamma", {"p": 2.89e9, "q": 1.021, "gamma": 1.11e-7},
                     {"p": NAN, "q": NAN, "gamma": NAN}, -4280.9, 5, True)
    # Repeat spend 10, 20, 30, 40, 50: 10th percentile 10 + 0.4 x 10 = 14, 90th 40 + 0.6 x 10 = 46.
    got = check_gamma_gamma(fit, [0, 1, 2, 1, 3, 1], [0.0, 10.0, 20.0, 30.0, 40.0, 50.0])
    assert got == (
        "Gamma-Gamma fit is degenerate (p = 2.89e+09, without bound; q = 1.02, near 1; gamma = 1.11e-07; "
        "no standard error for p, q, gamma): its population mean spend p gamma / (q - 1) is unreliable or "
        "unbounded. What the data lacks: the shape Gamma-Gamma needs, repeat spend that varies around one "
        "typical level and settles as an account buys more; the 5 repeat purchasers' mean spend runs from "
        "14.00 to 46.00 (10th to 90th percentile).")


def test_gamma_gamma_check_passes_the_published_cdnow_fit() -> None:
    s = cdnow.summary_with_spend()
    gg = GammaGammaFitter().fit(s["x"], s["zbar"])
    assert check_gamma_gamma(gg.summary(), s["x"], s["zbar"]) is None


@pytest.mark.parametrize(("repeat", "expected"), [(9, True), (10, False)])
def test_ten_repeat_purchasers_are_enough(repeat: int, expected: bool) -> None:
    assert (too_few_repeat(100, repeat) is not None) is expected


def test_too_few_repeat_counts_in_words() -> None:
    assert too_few_repeat(1, 0) == (
        "only 0 of 1 account made a repeat purchase; BG/NBD needs repeat purchases with varying gaps (at least "
        "10 accounts with one) to estimate buying rates and drop-out, so its P(alive) and expected purchases "
        "are not reliable")
