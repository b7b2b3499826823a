"""Accounts' health as the records of SPEC section 7: JSON objects (components nested) or CSV rows.

:func:`account_record` builds one object; :func:`json_records` and
:func:`csv_rows` write the same records for a whole scored frame, column by
column: each column is rounded and formatted as a whole (each distinct number
once), then the rows are assembled from the formatted pieces and handed out a
chunk at a time (the whole text is never built in memory). Their output equals
``json.dumps([account_record(...) ...])`` and the CSV of the same records, byte
for byte: numbers are rounded as Python's ``round`` and written as ``repr``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from collections.abc import Iterator, Sequence
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

import numpy as np
import pandas as pd

ACCOUNT_ATTRS = ("name", "segment", "csm")
"""Accounts columns shown next to the health of each account, when present."""
CHUNK = 5_000
"""Rows assembled into one piece of text."""

COMPONENT_FIELDS = (("value", 4), ("score", 1), ("weight", 4), ("contribution", 2))
"""The numbers of each nested component, with their decimals (after ``signal``)."""
CSV_COMPONENT_FIELDS = ("value", "score", "contribution")


def number(v: Any) -> float | None:
    """float(v), or None when that fails or is not finite."""
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def round_number(v: Any, nd: int = 2) -> float | None:
    """round(number(v), nd), or None."""
    f = number(v)
    return None if f is None else round(f, nd)


def account_record(row: pd.Series, names: Sequence[str], signals: dict[str, str]) -> dict[str, Any]:
    """One account as the JSON object of SPEC section 7 (components nested)."""
    out: dict[str, Any] = {"account_id": row["account_id"]}
    for c in ACCOUNT_ATTRS:
        if c in row.index:
            out[c] = None if pd.isna(row[c]) else str(row[c])
    as_of = row["as_of"]
    out.update({
        "as_of": as_of.isoformat() if isinstance(as_of, dt.date) else str(as_of),
        "mrr": round_number(row["mrr"]),
        "active": bool(row["active"]),
        "health_score": round_number(row["health_score"], 1),
        "health_color": row["health_color"],
        "health_segment": row["health_segment"],
        "health_score_before": round_number(row.get("health_score_before"), 1),
        "health_color_before": row.get("health_color_before") if isinstance(row.get("health_color_before"), str)
        else None,
        "health_change": round_number(row.get("health_change"), 1),
        "coverage": round_number(row["coverage"], 3),
        "thin_data": bool(row["thin_data"]),
        "missing": list(row["missing"]),
        "main_drag": row["main_drag"],
        "reasons": list(row["reasons"]),
        "components": {
            n: {"signal": signals[n], **{p: round_number(row[f"{n}_{p}"], nd) for p, nd in COMPONENT_FIELDS}}
            for n in names
        },
    })
    return out


# -- whole columns ------------------------------------------------------------------------------

def rounded(values: Any, nd: int) -> np.ndarray:
    """``round(float(v), nd)`` of each value as float64; NaN where ``float(v)`` is missing or not finite.

    Vectorised: ``rint(v x 10**nd) / 10**nd`` is what ``round`` gives except
    when ``v x 10**nd`` lies within rounding error of a half (or is huge); those
    few values are rounded by ``round`` itself.
    """
    x = _floats(values)
    out = np.full(x.shape, np.nan)
    ok = np.isfinite(x)
    v = x[ok]
    scale = 10.0 ** nd
    with np.errstate(over="ignore", invalid="ignore"):
        s = v * scale
        r = np.rint(s) / scale
        frac = s - np.floor(s)
        doubt = ~(np.abs(frac - 0.5) > 1e-7 * np.maximum(1.0, np.abs(s))) | ~(np.abs(s) < 2.0 ** 50)
    if doubt.any():
        r[doubt] = [round(f, nd) for f in v[doubt].tolist()]
    out[ok] = r
    return out


def _floats(values: Any) -> np.ndarray:
    """float(v) of each value (NaN when None, not a number or not finite), as :func:`number` reads one value."""
    s = values if isinstance(values, pd.Series) else pd.Series(values)
    if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
        x = s.to_numpy(dtype="float64", na_value=np.nan)
    else:
        x = np.array([np.nan if f is None else f for f in map(number, s.tolist())], dtype="float64")
    return np.where(np.isfinite(x), x, np.nan)


def _formatted(x: np.ndarray, none: str) -> np.ndarray:
    """repr of each float (``none`` for NaN), as an object array; each distinct value is formatted once.

    Distinct by bit pattern, so that -0.0 keeps its own repr.
    """
    known = ~np.isnan(x)
    codes = np.full(x.shape, -1, dtype=np.int64)
    found, uniq = pd.factorize(np.ascontiguousarray(x[known]).view(np.int64))
    codes[known] = found
    texts = np.array([*map(float.__repr__, np.asarray(uniq).view(np.float64).tolist()), none], dtype=object)
    return texts[codes]  # type: ignore[no-any-return]


def _numbers(df: pd.DataFrame, col: str, nd: int, none: str) -> np.ndarray:
    """repr(round(v, nd)) of each value of ``col`` (``none`` when missing or when there is no such column)."""
    if col not in df.columns:
        return np.full(len(df), none, dtype=object)
    return _formatted(rounded(df[col], nd), none)


def _each(values: list[Any], none: str, fmt: Any) -> np.ndarray:
    """fmt(v) of each value, ``none`` for None, as an object array; each distinct value is formatted once."""
    codes, uniq = pd.factorize(np.array(values, dtype=object), use_na_sentinel=True)
    texts = np.array([*map(fmt, uniq.tolist()), none], dtype=object)
    return texts[codes]  # type: ignore[no-any-return]


def _json_value(v: Any) -> str:
    if type(v) is str:
        return encode_basestring_ascii(v)  # type: ignore[no-any-return]
    return json.dumps(v, default=str, allow_nan=False)


def _json_values(col: pd.Series) -> list[str]:
    """json.dumps of each value as it is (strings, None, numbers)."""
    return [encode_basestring_ascii(v) if type(v) is str else _json_value(v) for v in col.tolist()]


def _texts(col: pd.Series) -> list[str | None]:
    """None where missing, else str(value)."""
    na = col.isna().to_numpy()
    txt: list[str | None] = col.astype(object).astype(str).tolist()
    for i in np.flatnonzero(na).tolist():
        txt[i] = None
    return txt


def _strings_or_none(df: pd.DataFrame, col: str) -> list[str | None]:
    """Each value if it is a string, else None (all None when there is no such column)."""
    if col not in df.columns:
        return [None] * len(df)
    return [v if type(v) is str else None for v in df[col].tolist()]


def _as_of_texts(col: pd.Series) -> np.ndarray:
    codes, uniq = pd.factorize(col.astype(object), use_na_sentinel=False)
    labels = np.array([v.isoformat() if isinstance(v, dt.date) else str(v) for v in uniq], dtype=object)
    return labels[codes]  # type: ignore[no-any-return]


def _json_str_or_null(values: list[str | None]) -> list[str]:
    return ["null" if v is None else encode_basestring_ascii(v) for v in values]


def _joined(col: pd.Series, join: Any) -> list[str]:
    """join(tuple(v)) of each value (a list); the same list is joined once."""
    seen: dict[tuple[Any, ...], str] = {}
    out = []
    for v in col.tolist():
        key = tuple(v)
        text = seen.get(key)
        if text is None:
            text = seen[key] = join(key)
        out.append(text)
    return out


def _json_list(items: tuple[Any, ...]) -> str:
    if all(type(x) is str for x in items):
        return "[" + ", ".join(map(encode_basestring_ascii, items)) + "]"
    return json.dumps(list(items), default=str, allow_nan=False)


def _bools(col: pd.Series, true: str, false: str) -> np.ndarray:
    return np.where(col.to_numpy(dtype=bool), true, false).astype(object)  # type: ignore[no-any-return]


RECORD_KEYS = ("as_of", "mrr", "active", "health_score", "health_color", "health_segment", "health_score_before",
               "health_color_before", "health_change", "coverage", "thin_data", "missing", "main_drag", "reasons")
"""The keys of a record after account_id and the ACCOUNT_ATTRS present, before components."""


def _attrs(df: pd.DataFrame) -> list[str]:
    return [c for c in ACCOUNT_ATTRS if c in df.columns]


def _rows(cols: list[Any], n: int, render: Any) -> Iterator[str]:
    """render(rows) for each chunk of CHUNK rows of the columns (lists or object arrays)."""
    for start in range(0, n, CHUNK):
        part = [c[start:start + CHUNK] for c in cols]
        yield render(zip(*(p.tolist() if isinstance(p, np.ndarray) else p for p in part), strict=True))


def json_records(df: pd.DataFrame, names: Sequence[str], signals: dict[str, str]) -> Iterator[str]:
    """``json.dumps([account_record(row, names, signals) for each row])`` in pieces, a chunk of rows each."""
    attrs = _attrs(df)
    keys = ["account_id", *attrs, *RECORD_KEYS]
    # The literal text around the values, "%" escaped for the %-template.
    lit = ["{" + encode_basestring_ascii("account_id") + ": "]
    lit += [f", {encode_basestring_ascii(k)}: " for k in keys[1:]]
    for i, name in enumerate(names):
        lead = ", \"components\": {" if i == 0 else "}, "
        lit.append(f"{lead}{encode_basestring_ascii(name)}: {{\"signal\": {encode_basestring_ascii(signals[name])}, "
                   f"{encode_basestring_ascii(COMPONENT_FIELDS[0][0])}: ")
        lit += [f", {encode_basestring_ascii(p)}: " for p, _ in COMPONENT_FIELDS[1:]]
    lit.append("}}}" if names else ", \"components\": {}}")
    template = "%s".join(t.replace("%", "%%") for t in lit)
    cols: list[Any] = [_json_values(df["account_id"])]
    cols += [_json_str_or_null(_texts(df[c])) for c in attrs]
    cols += [
        _each(_as_of_texts(df["as_of"]).tolist(), "null", encode_basestring_ascii),
        _numbers(df, "mrr", 2, "null"),
        _bools(df["active"], "true", "false"),
        _numbers(df, "health_score", 1, "null"),
        _json_values(df["health_color"]),
        _json_values(df["health_segment"]),
        _numbers(df, "health_score_before", 1, "null"),
        _json_str_or_null(_strings_or_none(df, "health_color_before")),
        _numbers(df, "health_change", 1, "null"),
        _numbers(df, "coverage", 3, "null"),
        _bools(df["thin_data"], "true", "false"),
        _joined(df["missing"], _json_list),
        _json_values(df["main_drag"]),
        _joined(df["reasons"], _json_list),
    ]
    for name in names:
        cols += [_numbers(df, f"{name}_{p}", nd, "null") for p, nd in COMPONENT_FIELDS]
    yield "["
    first = True
    for text in _rows(cols, len(df), lambda rows: ", ".join([template % r for r in rows])):
        yield text if first else ", " + text
        first = False
    yield "]"


def csv_rows(df: pd.DataFrame, names: Sequence[str]) -> Iterator[str]:
    """The records as CSV (header first, components flattened to C_value, C_score, C_contribution), in pieces."""
    attrs = _attrs(df)
    flat = ["account_id", *attrs, *RECORD_KEYS] if len(df) else ["account_id"]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(flat + [f"{n}_{p}" for n in names for p in CSV_COMPONENT_FIELDS])
    yield buf.getvalue()

    def blank(values: list[Any]) -> list[Any]:
        return ["" if v is None else v for v in values]

    cols: list[Any] = [blank(df["account_id"].tolist())]
    cols += [blank(_texts(df[c])) for c in attrs]
    cols += [
        _as_of_texts(df["as_of"]),
        _numbers(df, "mrr", 2, ""),
        _bools(df["active"], "True", "False"),
        _numbers(df, "health_score", 1, ""),
        blank(df["health_color"].tolist()),
        blank(df["health_segment"].tolist()),
        _numbers(df, "health_score_before", 1, ""),
        blank(_strings_or_none(df, "health_color_before")),
        _numbers(df, "health_change", 1, ""),
        _numbers(df, "coverage", 3, ""),
        _bools(df["thin_data"], "True", "False"),
        _joined(df["missing"], "; ".join),
        blank(df["main_drag"].tolist()),
        _joined(df["reasons"], "; ".join),
    ]
    for name in names:
        cols += [_numbers(df, f"{name}_{p}", nd, "") for p, nd in COMPONENT_FIELDS if p in CSV_COMPONENT_FIELDS]

    def render(rows: Iterator[tuple[Any, ...]]) -> str:
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(rows)
        return out.getvalue()

    yield from _rows(cols, len(df), render)
