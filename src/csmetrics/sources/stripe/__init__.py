"""The Stripe connector: extract (``stripe`` SDK -> raw objects) and map (raw -> contract tables).

Docs and every mapping rule with its worked example: docs/stripe.md.
"""

from __future__ import annotations

from csmetrics.sources.stripe.pipeline import import_dir, sync

__all__ = ["import_dir", "sync"]
