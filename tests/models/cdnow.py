"""The CDNOW sample (Fader, Hardie and Lee 2005), read from the `lifetimes` package (dev extra).

The data is not shipped with csmetrics (its licence is not stated). Only the
data files are read: the package itself is never imported (see pyproject.toml).
`lifetimes` is a dev dependency like pytest and hypothesis, so a test that needs
it fails when it is missing (a broken dev environment), rather than skipping.
"""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pandas as pd


def datasets_dir() -> Path:
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        msg = "the CDNOW data comes from the `lifetimes` package, a dev dependency: pip install -e '.[dev]'"
        raise ModuleNotFoundError(msg, name="lifetimes")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets"


def summary() -> pd.DataFrame:
    """ID, frequency, recency, T (weeks) of the 2,357 customers, calibration to 1997-09-30."""
    return pd.read_csv(datasets_dir() / "cdnow_customers_summary.csv")


def summary_with_spend() -> pd.DataFrame:
    """ID, x, t_x, T, zbar (mean repeat-transaction value)."""
    return pd.read_csv(datasets_dir() / "cdnow_customers_summary_with_transactions.csv")


def write_charges_dir(root: Path) -> Path:
    """The raw CDNOW sample transactions as a csmetrics data directory (accounts + charges)."""
    root.mkdir(parents=True, exist_ok=True)
    lines = (datasets_dir() / "CDNOW_sample.txt").read_text().split("\n")
    ids: set[str] = set()
    with (root / "charges.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["charge_id", "account_id", "charged_at", "amount", "kind"])
        for i, line in enumerate(x for x in lines if x.strip()):
            _orig, cid, day, _qty, amount = line.split()
            ids.add(cid)
            w.writerow([f"c{i}", cid, f"{day[:4]}-{day[4:6]}-{day[6:]}", amount, "purchase"])
    with (root / "accounts.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["account_id"])
        for cid in sorted(ids):
            w.writerow([cid])
    return root
