"""Imports every metric family so its declarations join the registry (order = listing order)."""

from csmetrics.metrics import (  # noqa: F401, I001
    revenue,
    customers,
    renewals,
    value,
    costs,
    support,
    surveys,
    usage,
    health,
)
