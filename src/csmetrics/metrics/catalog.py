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

FAMILIES = ("revenue", "customers", "renewals", "value", "costs", "support", "surveys", "usage", "health")
"""Canonical listing order of the families, whatever order their modules were imported in."""
