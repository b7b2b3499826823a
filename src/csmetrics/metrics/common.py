"""Small helpers shared by the metric families."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir


def pick(agg: ir.Table, column: str) -> ir.Table:
    """The (period, group, idx, value) table of one column of a family aggregate."""
    return agg.select("period", "group", "idx", value=agg[column].cast("float64"))


def ratio(num: ir.NumericValue, den: ir.NumericValue, scale: float = 1.0) -> ir.FloatingValue:
    """num / den as float, null when den is 0 or null (SPEC: never 0, never an error)."""
    n = num.cast("float64")
    d = den.cast("float64")
    out = ibis.cases((d.isnull() | (d == 0), ibis.null("float64")), else_=n / d)
    return out * scale if scale != 1.0 else out


def count_if(cond: ir.BooleanValue) -> ir.IntegerValue:
    return cond.cast("int64").sum()


def zero_fill(agg: ir.Table) -> dict[str, float]:
    """fill map for ``PeriodContext.complete``: 0 for every value column of ``agg``."""
    return {c: 0 for c in agg.columns if c not in ("period", "group")}


MASK_FEATURES = 62
"""Up to this many distinct features, breadth is counted with bitmasks (one
bit per feature in a BIGINT) instead of COUNT(DISTINCT); see metrics.usage."""


@ibis.udf.agg.builtin(name="bit_or")
def bit_or(x: int) -> int:  # type: ignore[empty-body]
    """Bitwise OR of a group (DuckDB and Spark both call it bit_or)."""


@ibis.udf.scalar.builtin(name="bit_count")
def bit_count(x: int) -> int:  # type: ignore[empty-body]
    """Number of set bits (DuckDB and Spark both call it bit_count)."""
