"""Metric declarations: name, unit, needs, definition, builder.

Metrics are declared once with :func:`metric` and looked up by name by every
consumer (CLI, API, web, report). A builder takes a PeriodContext and returns
an Ibis table with columns ``period``, ``group``, ``idx`` and ``value``; it
must return a row for every (period, group) of the context's grid.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import ibis.expr.types as ir

from csmetrics.schema.errors import UsageError

if TYPE_CHECKING:
    from csmetrics.metrics.context import PeriodContext

Unit = Literal["currency", "count", "ratio", "score", "months", "days"]
Builder = Callable[["PeriodContext"], ir.Table]


@dataclass(frozen=True)
class Metric:
    name: str
    unit: Unit
    needs: tuple[str, ...]
    family: str
    builder: Builder
    additive: bool = False
    """True when group values sum to the total (counts and money)."""
    default: bool = True
    """False for costly metrics computed only when named (e.g. the health aggregates)."""

    @property
    def definition(self) -> str:
        return inspect.cleandoc(self.builder.__doc__ or "")

    @property
    def summary(self) -> str:
        return self.definition.split("\n\n", 1)[0].replace("\n", " ")


REGISTRY: dict[str, Metric] = {}


def metric(
    name: str, unit: Unit, needs: tuple[str, ...] = (), family: str = "", additive: bool = False,
    default: bool = True,
) -> Callable[[Builder], Builder]:
    """Declare a metric; the decorated function's docstring is its user-facing definition."""

    def register(fn: Builder) -> Builder:
        if name in REGISTRY:
            raise ValueError(f"metric {name!r} declared twice")
        fam = family or fn.__module__.rsplit(".", 1)[-1]
        REGISTRY[name] = Metric(name, unit, tuple(needs), fam, fn, additive, default)
        return fn

    return register


def load_all() -> dict[str, Metric]:
    """Import every metric module so its declarations register; return the registry."""
    from csmetrics.metrics.catalog import FAMILIES

    rank = {f: i for i, f in enumerate(FAMILIES)}
    names = list(REGISTRY)
    ordered = sorted(names, key=lambda n: (rank.get(REGISTRY[n].family, len(rank)), names.index(n)))
    if ordered != names:
        # Import order decides insertion order; listings and outputs must not depend on it.
        items = [(n, REGISTRY[n]) for n in ordered]
        REGISTRY.clear()
        REGISTRY.update(items)
    return REGISTRY


def get(name: str) -> Metric:
    load_all()
    try:
        return REGISTRY[name]
    except KeyError:
        raise UsageError(f"unknown metric {name!r}: see `csmetrics metrics --list`") from None
