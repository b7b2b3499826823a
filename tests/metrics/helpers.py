"""Tiny hand-made data directories for metric tests."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import csmetrics

Values = dict[tuple[str, str, str | None], float | None]


def write_dir(root: Path, toml: str | None = None, **tables: list[dict[str, Any]]) -> Path:
    """Write each table as NAME.csv (header from the union of keys). Accounts are
    created for every account_id used when not given."""
    root.mkdir(parents=True, exist_ok=True)
    if "accounts" not in tables:
        ids = sorted({r["account_id"] for rows in tables.values() for r in rows if "account_id" in r})
        tables["accounts"] = [{"account_id": i} for i in ids]
    for name, rows in tables.items():
        cols: list[str] = []
        for r in rows:
            cols += [k for k in r if k not in cols]
        with (root / f"{name}.csv").open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=cols)
            w.writeheader()
            for r in rows:
                w.writerow({k: ("" if v is None else v) for k, v in r.items()})
    if toml is not None:
        (root / "csmetrics.toml").write_text(toml, encoding="utf-8")
    return root


def values(path: Path, metrics: str, period: str = "month", start: str = "2025-01-01",
           end: str = "2025-07-01", by: str | None = None) -> Values:
    df = csmetrics.compute(path, metrics=metrics, period=period, start=start, end=end, by=by)
    return {
        (r.metric, r.period, r.group): (None if r.value != r.value else r.value)
        for r in df.itertuples(index=False)
    }


def sub(sid: str, account: str, start: str, end: str | None = None, amount: float = 100, **kw: Any) -> dict[str, Any]:
    return {"subscription_id": sid, "account_id": account, "started_at": start, "ended_at": end,
            "amount": amount, **kw}
