"""Serialising metric rows (SPEC section 7): JSON records and CSV."""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

import numpy as np
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


def compact_value(v: float | None, unit: str, *, null: str = "-") -> str:
    """A metric value in at most seven characters, for narrow tables: 1.03M, 45.3k, 864, 97.9%.

    Money and counts keep three significant digits once they pass 10,000
    (18,141.68 -> 18.1k, 1,028,213.73 -> 1.03M); below that money drops its
    cents (864.05 -> 864; under 100 one decimal: 96.17 -> 96.2). Ratios and
    scores read as in :func:`format_value` (one decimal).
    """
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return null
    v = float(v)
    if unit not in ("currency", "count"):
        return format_value(v, unit, null=null)
    a = abs(v)
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if a >= 10_000 and a >= scale * 0.9995:
            x = v / scale
            nd = 2 if abs(x) < 9.995 else 1 if abs(x) < 99.95 else 0
            return f"{x:.{nd}f}{suffix}"
    if unit == "count" or a >= 100:
        return f"{v:,.0f}"
    return f"{v:.1f}" if a >= 10 else f"{v:.2f}"


def finite(obj: Any, path: str = "") -> tuple[Any, list[str]]:
    """``obj`` with every NaN or infinite float replaced by None, and the paths of those values.

    Paths name the field, with list positions as ``[]`` (``bgnbd.standard_errors.a``,
    ``predictions[].clv``), so a caller can say in one line which fields were not finite.
    """
    bad: list[str] = []

    def walk(o: Any, p: str) -> Any:
        if isinstance(o, float) and not math.isfinite(o):
            bad.append(p or "value")
            return None
        if isinstance(o, dict):
            return {k: walk(v, f"{p}.{k}" if p else str(k)) for k, v in o.items()}
        if isinstance(o, list | tuple):
            return [walk(v, f"{p}[]") for v in o]
        if isinstance(o, np.generic):  # numpy scalars: judged as the Python value they hold
            return walk(o.item(), p)
        if o is pd.NaT or o is pd.NA:
            return None
        return o

    return walk(obj, path), bad


def dumps_finite(obj: Any, **kwargs: Any) -> tuple[str, str]:
    """JSON text of ``obj`` that never fails on NaN/inf (they become null), and a note naming them.

    The note is "" when every number was finite, else e.g.
    ``not finite, written as null: bgnbd.standard_errors.a, predictions[].clv (3 values)``.
    """
    clean, bad = finite(obj)
    text = json.dumps(clean, allow_nan=False, **kwargs)
    return text, non_finite_note(bad)


def non_finite_note(paths: list[str]) -> str:
    """``not finite, written as null: a.b, c[].d (3 values)`` for the paths :func:`finite` returned; "" if none."""
    if not paths:
        return ""
    counts: dict[str, int] = {}
    for p in paths:
        counts[p] = counts.get(p, 0) + 1
    parts = [p if n == 1 else f"{p} ({n} values)" for p, n in counts.items()]
    return "not finite, written as null: " + ", ".join(parts)
