"""The synthetic demo company behind ``csmetrics demo`` (see :mod:`csmetrics.demo.generator`)."""

from csmetrics.demo.generator import PLANTED, TABLES, default_end, generate

__all__ = ["PLANTED", "TABLES", "default_end", "generate"]
