"""The HubSpot connector: extract (``hubspot-api-client`` -> raw companies and owners) and map (-> accounts).

Docs and every mapping rule with its worked example: docs/crm.md.
"""

from __future__ import annotations

from csmetrics.sources.hubspot.pipeline import import_dir, sync

__all__ = ["import_dir", "sync"]
