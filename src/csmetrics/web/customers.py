"""The customers page's list at any size: filtered, sorted and cut to one page on the server.

``/customers`` takes ``csm``, ``health`` (green, yellow, red), ``q`` (a part
of the account id or name, any case), ``sort`` (a shown column: account_id,
name, segment, csm, mrr, health_score), ``dir`` (asc or desc), ``page``
(from 1) and ``size`` (rows per page, 1 to :data:`MAX_SIZE`, default
:data:`DEFAULT_SIZE`); the shared filters (segment, period) as every page.
A bad value is a 400 naming the valid ones, and a page after the last is a
400 naming the last ("page 7 of 3") rather than an empty table.

Rows are ordered by the sort column, then by account id (ascending), so every
account is on exactly one page whatever the ties; missing values come last in
both directions. Worked example: 120 accounts, ``size=50``: pages 1 and 2
hold 50 rows, page 3 the last 20, page 4 is a 400.

The account frame (MRR and health of every account on the page's day) is
built once per day and scope and cached until the next write
(:func:`csmetrics.web.data.accounts_frame`); a request filters, sorts and
slices that frame, so a warm page costs tens of milliseconds at 200,000
accounts (bench/customers_page.py, docs/web.md).
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from csmetrics.schema.errors import UsageError

SORTABLE = ("account_id", "name", "segment", "csm", "mrr", "health_score")
HEALTH = ("green", "yellow", "red")
DEFAULT_SIZE = 100
MAX_SIZE = 500
MAX_QUERY = 200


@dataclass(frozen=True)
class Listing:
    """What the page shows: its rows, the count of matching accounts, the page and the number of pages."""

    rows: pd.DataFrame
    total: int
    page: int
    pages: int
    size: int


def _int(name: str, text: str | None, default: int, lo: int, hi: int | None = None) -> int:
    if text is None or not str(text).strip():
        return default
    try:
        v = int(str(text).strip())
    except ValueError:
        v = lo - 1
    if v < lo or (hi is not None and v > hi):
        bound = f"from {lo} to {hi}" if hi is not None else f"from {lo}"
        shown = repr(text if len(text) <= 20 else text[:20] + "...")
        raise UsageError(f"{name} {shown}: expected a whole number {bound}")
    return v


def check_sort(sort: str | None, direction: str | None, columns: list[str]) -> tuple[str, bool]:
    """(column, descending) of the query; a column not shown or a direction other than asc/desc is a 400."""
    sort = sort or "mrr"
    valid = [c for c in SORTABLE if c in columns]
    if sort not in valid:
        shown = repr(sort if len(sort) <= 40 else sort[:40] + "...")
        raise UsageError(f"sort {shown}: expected one of {', '.join(valid)}")
    direction = direction or "desc"
    if direction not in ("asc", "desc"):
        raise UsageError(f"dir {direction[:20]!r}: expected asc or desc")
    return sort, direction == "desc"


def listing(df: pd.DataFrame, csm: str | None = None, health: str | None = None, q: str | None = None,
            sort: str | None = None, direction: str | None = None, page: str | None = None,
            size: str | None = None, segment: str | None = None) -> Listing:
    """One page of ``df`` (a :func:`~csmetrics.web.data.accounts_frame` of every account: pass the segment
    here, so that the per-frame sort orders are reused) after the filters, sorted.

    >>> df = pd.DataFrame({"account_id": ["A3", "A1", "A2"], "name": ["Zed", "Acme", "Beta"], "mrr": [5.0, 9.0, 5.0]})
    >>> r = listing(df, sort="mrr", direction="desc", size="2")
    >>> list(r.rows.account_id), r.total, r.pages
    (['A1', 'A2'], 3, 2)
    >>> list(listing(df, sort="mrr", direction="desc", size="2", page="2").rows.account_id)
    ['A3']
    >>> list(listing(df, q="BE").rows.account_id)
    ['A2']
    """
    col, desc = check_sort(sort, direction, list(df.columns))
    n = _int("size", size, DEFAULT_SIZE, 1, MAX_SIZE)
    p = _int("page", page, 1, 1)
    if q is not None and len(q) > MAX_QUERY:
        raise UsageError(f"search text of {len(q)} characters: at most {MAX_QUERY}")
    memo = _memo(df)
    mask = np.ones(len(df), dtype=bool)
    if segment and "segment" in df.columns:
        mask &= (df["segment"] == segment).to_numpy()
    if csm and "csm" in df.columns:
        mask &= (df["csm"] == csm).to_numpy()
    if health and "health_color" in df.columns:
        mask &= (df["health_color"] == health).to_numpy()
    needle = (q or "").strip().lower()
    if needle:
        if "hay" not in memo:
            hay = df["account_id"].astype(str).str.lower()
            if "name" in df.columns:
                hay = hay + "\x00" + df["name"].fillna("").astype(str).str.lower()
            memo["hay"] = hay
        mask &= memo["hay"].str.contains(needle, regex=False).to_numpy()
    key = (col, desc)
    if key not in memo:
        memo[key] = _order(df, col, desc, memo)
    order: np.ndarray = memo[key]
    if not mask.all():
        order = order[mask[order]]
    total = len(order)
    pages = max(1, math.ceil(total / n))
    if p > pages:
        raise UsageError(f"page {p} of {pages}: {total:,} account(s) match, {n} per page")
    rows = df.iloc[order[(p - 1) * n: p * n]]
    return Listing(rows, total, p, pages, n)


_MEMO: dict[int, tuple[weakref.ref[pd.DataFrame], dict[Any, Any]]] = {}


def _memo(df: pd.DataFrame) -> dict[Any, Any]:
    """Per-frame work kept while the frame lives (the store caches one frame per day and scope): the sort
    orders and the search text, so a warm request only masks and slices."""
    hit = _MEMO.get(id(df))
    if hit is not None and hit[0]() is df:
        return hit[1]
    for k in [k for k, (ref, _) in _MEMO.items() if ref() is None]:
        del _MEMO[k]
    memo: dict[Any, Any] = {}
    _MEMO[id(df)] = (weakref.ref(df), memo)
    return memo


def _order(df: pd.DataFrame, col: str, desc: bool, memo: dict[Any, Any]) -> np.ndarray:
    """Positions of ``df`` sorted by ``col`` (missing last), then account id ascending."""
    if "ids" not in memo:
        memo["ids"] = _ranks(df["account_id"].astype(str))
    values = df[col]
    missing = values.isna().to_numpy()
    if pd.api.types.is_numeric_dtype(values):
        key = values.to_numpy(dtype=float, na_value=np.nan)
        key = np.where(missing, 0.0, -key if desc else key)
    else:
        ranks = _ranks(values.astype(object).where(~values.isna(), ""))
        key = np.where(missing, 0, -ranks if desc else ranks)
    # lexsort: the last key is the primary one.
    return np.lexsort((memo["ids"], key, missing))


def _ranks(values: pd.Series) -> np.ndarray:
    """Dense ranks of text values in code-point order (equal texts, equal ranks)."""
    uniques, codes = np.unique(values.to_numpy(dtype=str), return_inverse=True)
    return codes.astype(np.int64)  # type: ignore[no-any-return]


__all__ = ["DEFAULT_SIZE", "HEALTH", "MAX_SIZE", "SORTABLE", "Listing", "check_sort", "listing"]
