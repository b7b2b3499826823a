"""The accounts' JSON and CSV built column by column equal the row-by-row records, byte for byte."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from csmetrics.io import load_data_dir
from csmetrics.models.health import account_record, config_for, score_accounts
from csmetrics.models.health.records import csv_rows, json_records, rounded


def _reference_csv(records: list[dict[str, Any]], names: list[str]) -> str:
    """The CSV as `csmetrics accounts --format csv` wrote it record by record."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    flat = [k for k in records[0] if k != "components"] if records else ["account_id"]
    w.writerow(flat + [f"{n}_{p}" for n in names for p in ("value", "score", "contribution")])
    for r in records:
        cells = ["; ".join(v) if isinstance(v, list) else ("" if v is None else v) for v in (r[k] for k in flat)]
        for n in names:
            comp = r["components"][n]
            cells += ["" if comp[p] is None else comp[p] for p in ("value", "score", "contribution")]
        w.writerow(cells)
    return buf.getvalue()


def _check_same(df: pd.DataFrame, names: list[str], signals: dict[str, str]) -> list[dict[str, Any]]:
    records = [account_record(r, names, signals) for _, r in df.iterrows()]
    assert "".join(json_records(df, names, signals)) == json.dumps(records, default=str, allow_nan=False)
    assert "".join(csv_rows(df, names)) == _reference_csv(records, names)
    return records


@pytest.mark.parametrize("compare_days", [30, None])
def test_demo_accounts_json_and_csv_equal_the_records_one_by_one(demo_dir: Path, compare_days: int | None) -> None:
    cfg = config_for(str(demo_dir))
    ds = load_data_dir(demo_dir)
    try:
        df = score_accounts(ds, dt.date(2025, 9, 30), cfg, compare_days=compare_days)
        attrs = ds.backend.execute(ds.table("accounts").select("account_id", "name", "segment", "csm"))
    finally:
        ds.backend.disconnect()
    df = attrs.merge(df, on="account_id", how="right").sort_values("account_id", kind="stable")
    names = cfg.component_names
    records = _check_same(df, names, {n: cfg.base.components[n].signal for n in names})
    assert len(records) == 300
    # all shapes of values occur: accounts not paying, without an earlier score, with reasons
    assert {r["active"] for r in records} == {True, False}
    assert any(r["reasons"] for r in records) and any(not r["missing"] for r in records)
    if compare_days:
        assert any(r["health_change"] is not None for r in records)
    else:
        assert all(r["health_score_before"] is None for r in records)


def test_edge_values_are_written_as_json_dumps_writes_them() -> None:
    names = ["c"]
    row: dict[str, Any] = {
        "account_id": "a\"1", "name": "Zoë's café", "segment": None, "csm": float("nan"),
        "as_of": dt.date(2025, 1, 31), "mrr": 2.675, "active": True, "health_score": 39.95,
        "health_color": "red", "health_segment": "(none)", "health_score_before": float("nan"),
        "health_color_before": None, "health_change": -0.04, "coverage": 0.0005, "thin_data": False,
        "missing": ["c"], "main_drag": None, "reasons": ['usage "down" 5%', "ünïcode"],
        "c_value": -0.00004, "c_score": float("inf"), "c_weight": 1e20, "c_contribution": 0.125,
    }
    df = pd.DataFrame([row, {**row, "account_id": "b", "missing": [], "reasons": [], "mrr": 1e-5,
                             "health_change": 0.05, "c_value": 123456.78905}])
    records = _check_same(df, names, {"c": "csat"})
    # rounded as Python rounds (2.675 is 2.67499..., 0.125 is a tie to even), -0.0 keeps its sign
    assert records[0]["mrr"] == 2.67 and records[0]["components"]["c"]["contribution"] == 0.12
    assert math.copysign(1, records[0]["health_change"]) == -1 and records[0]["health_change"] == 0
    assert records[0]["components"]["c"]["score"] is None and records[0]["coverage"] == 0.001
    assert records[1]["health_change"] == 0.1 and records[1]["mrr"] == 0.0


def test_empty_frame_gives_an_empty_array_and_a_header() -> None:
    df = pd.DataFrame(columns=["account_id", "as_of", "mrr", "active", "health_score", "health_color",
                               "health_segment", "coverage", "thin_data", "missing", "main_drag", "reasons",
                               "c_value", "c_score", "c_weight", "c_contribution"])
    assert "".join(json_records(df, ["c"], {"c": "nps"})) == "[]"
    assert "".join(csv_rows(df, ["c"])) == "account_id,c_value,c_score,c_contribution\n"


@pytest.mark.parametrize("nd", [1, 2, 3, 4])
def test_rounded_is_pythons_round_bit_for_bit(nd: int) -> None:
    rng = np.random.default_rng(nd)
    ties = [k / 10 ** nd + 0.5 / 10 ** nd for k in range(-3000, 3000)]  # x.xx5: ties and near-ties
    values = np.concatenate([
        np.array([0.0, -0.0, 2.675, 1.005, -0.005, -4e-5, 5e-5, 0.125, -0.125, 2.5, -2.5, 1e20, -1e20, 5e-324,
                  2.0 ** 52 + 0.5, 123456789.125, 1.7976931348623157e308, np.nan, np.inf, -np.inf]),
        np.array(ties),
        rng.normal(0, 1, 20_000), rng.normal(0, 1000, 20_000),
        np.round(rng.uniform(-100, 100, 20_000), nd + 1),  # decimals one digit longer: many near ties
    ])
    got = rounded(values, nd)
    want = np.array([round(float(v), nd) if math.isfinite(v) else np.nan for v in values])
    assert np.array_equal(got, want, equal_nan=True)
    assert np.array_equal(np.signbit(got), np.signbit(want))
