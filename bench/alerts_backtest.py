"""Backtest of the alert rules on the demo company: do alerts come before churn?

    .venv/bin/python bench/alerts_backtest.py [--accounts 2000] [--seed 0] [--end 2026-01-01]
                                              [--quarters-back 1] [--step-days 7] [--rules FILE]

1. ``csmetrics demo`` (``--accounts``, ``--seed``, data until ``--end`` exclusive) is ingested into a
   temporary workspace; D is its last data day and T = D - 90 x ``--quarters-back`` days.
2. The rules are evaluated and recorded as a scheduled job would: as of every ``--step-days`` day
   from T - 84 to T (13 runs with 7), so dedup and cool-down apply as in production.
3. Labels: an account is *at risk* when it pays on T (MRR > 0); it *churns* when it pays on T and
   not on T + 90 (the customer churn of SPEC section 6 over the quarter (T, T + 90]).
4. Figures, over the accounts paying on T: recall = churners with an alert raised in (T - 90, T]
   / churners; precision = alerted accounts that churn / alerted accounts; base rate = churners /
   accounts; lift = precision / base rate. Per rule too. Then a re-run as of T raises nothing new.

Prints a JSON object with the figures (docs/alerts.md quotes them).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pandas as pd

from csmetrics import alerts
from csmetrics.demo import generate
from csmetrics.io.dataset import ingest, open_workspace
from csmetrics.metrics import state
from csmetrics.models.health.score import last_data_day


def paying(ws: Path, days: list[dt.date]) -> dict[dt.date, set[str]]:
    ds = open_workspace(ws)
    try:
        df = ds.backend.execute(state.account_mrr_on(ds, days))
    finally:
        ds.backend.disconnect()
    out: dict[dt.date, set[str]] = {d: set() for d in days}
    for r in df.itertuples(index=False):
        out[pd.Timestamp(r.day).date()].add(str(r.account_id))
    return out


def figures(alerted: set[str], churned: set[str], population: set[str]) -> dict[str, float | int | None]:
    hit = alerted & churned
    base = len(churned) / len(population) if population else None
    precision = len(hit) / len(alerted) if alerted else None
    return {"alerted": len(alerted), "churned_alerted": len(hit),
            "recall": round(len(hit) / len(churned), 3) if churned else None,
            "precision": round(precision, 3) if precision is not None else None,
            "lift": round(precision / base, 2) if precision is not None and base else None}


def main(argv: list[str] | None = None) -> dict[str, object]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--accounts", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--end", default="2026-01-01")
    p.add_argument("--quarters-back", type=int, default=1)
    p.add_argument("--step-days", type=int, default=7)
    p.add_argument("--rules", type=Path, default=None)
    args = p.parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="csmetrics-alerts-bt-") as tmp:
        data, ws = Path(tmp) / "data", Path(tmp) / "ws.duckdb"
        generate(data, accounts=args.accounts, seed=args.seed, end=dt.date.fromisoformat(args.end))
        ingest(data, ws)
        ds = open_workspace(ws)
        try:
            last = last_data_day(ds, dt.date.fromisoformat(args.end))
        finally:
            ds.backend.disconnect()
        T = last - dt.timedelta(days=90 * args.quarters_back)
        runs = [T - dt.timedelta(days=k) for k in range(84 - 84 % args.step_days, -1, -args.step_days)]
        settings = alerts.load_settings(args.rules)
        raised: list[alerts.Alert] = []
        for day in runs:
            raised += alerts.evaluate(ws, day, settings)
        rerun = alerts.evaluate(ws, T, settings)
        pay = paying(ws, [T, T + dt.timedelta(days=90)])
        population = pay[T]
        churned = population - pay[T + dt.timedelta(days=90)]
        in_window = [a for a in raised if T - dt.timedelta(days=90) < a.as_of <= T and a.account_id in population]
        by_rule: dict[str, object] = {}
        for rule in settings.rules:
            mine = [a for a in in_window if a.rule == rule]
            by_rule[rule] = {"alerts": len(mine), **figures({a.account_id for a in mine}, churned, population)}
        result: dict[str, object] = {
            "accounts": args.accounts, "seed": args.seed, "last_data_day": last.isoformat(), "T": T.isoformat(),
            "runs": [d.isoformat() for d in (runs[0], runs[-1])], "n_runs": len(runs),
            "rules_file": str(args.rules) if args.rules else "packaged",
            "paying_on_T": len(population), "churned_in_quarter": len(churned),
            "base_rate": round(len(churned) / len(population), 3),
            "alerts_total": len(in_window), "alerts_per_rule": dict(Counter(a.rule for a in in_window)),
            "all_rules": figures({a.account_id for a in in_window}, churned, population),
            "by_rule": by_rule, "rerun_as_of_T_new_alerts": len(rerun),
            "seconds": round(time.perf_counter() - started, 1),
        }
    return result


if __name__ == "__main__":
    out = main(sys.argv[1:])
    print(json.dumps(out, indent=2))
