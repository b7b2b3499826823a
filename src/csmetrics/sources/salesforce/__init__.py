"""The Salesforce connector: extract (``simple-salesforce`` SOQL -> raw Account records) and map (-> accounts).

Docs and every mapping rule with its worked example: docs/crm.md.
"""

from __future__ import annotations

from csmetrics.sources.salesforce.pipeline import import_dir, sync

__all__ = ["import_dir", "sync"]
