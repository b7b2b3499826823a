"""Serialising metric rows (SPEC section 7): JSON records and CSV."""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

import pandas as pd


def _clean(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return v


def to_records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Metric rows as ``{"metric", "period", "group", "value"}`` dicts; NaN becomes null."""
    out = []
    for metric, period, group, value in df[["metric", "period", "group", "value"]].itertuples(index=False):
        v = _clean(value)
        out.append({
            "metric": metric,
            "period": period,
            "group": _clean(group),
            "value": float(v) if v is not None else None,
        })
    return out


def to_json(df: pd.DataFrame) -> str:
    """The JSON array of SPEC section 7."""
    return json.dumps(to_records(df), indent=None)


def to_csv(df: pd.DataFrame) -> str:
    """CSV with the header ``metric,period,group,value``; nulls are empty cells."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["metric", "period", "group", "value"])
    for r in to_records(df):
        w.writerow([r["metric"], r["period"], "" if r["group"] is None else r["group"],
                    "" if r["value"] is None else repr(r["value"])])
    return buf.getvalue()


def format_value(v: float | None, unit: str, *, null: str = "-", money_decimals: int = 2) -> str:
    """A metric value for people: 12.3% for ratios, 1,234.50 for money, 1,234 for counts.

    Shared by the CLI table and the web pages so a value reads the same everywhere.
    """
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return null
    v = float(v)
    if unit == "ratio":
        return f"{100 * v:.1f}%"
    if unit == "currency":
        return f"{v:,.{money_decimals}f}"
    if unit == "count":
        return f"{v:,.0f}"
    if unit == "score":
        return f"{v:.1f}"
    return f"{v:,.1f}" if money_decimals == 2 else f"{v:,.2f}"
