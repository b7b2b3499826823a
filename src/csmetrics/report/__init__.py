"""Tidy results to table / JSON / CSV / HTML."""
