"""The Zendesk connector: extract (Zendesk Support API -> raw objects) and map (raw -> contract tables).

Docs and every mapping rule with its worked example: docs/zendesk.md.
"""

from __future__ import annotations

from csmetrics.sources.zendesk.pipeline import import_dir, sync

__all__ = ["import_dir", "sync"]
