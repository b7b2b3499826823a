"""Metric families, one module each; importing :mod:`catalog` registers them all."""
