"""Imports every metric family so its declarations join the registry."""

from csmetrics.metrics import (  # noqa: F401
    customers,
    revenue,
)
