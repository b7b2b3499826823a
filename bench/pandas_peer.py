"""The peer: a straightforward, vectorised pandas version of the core monthly metrics.

    .venv/bin/python bench/pandas_peer.py DATA_DIR --start 2024-01-01 --end 2026-01-01 [--out FILE]

What an analyst would write instead of csmetrics: read the Parquet files with
pandas, then per month the MRR bridge (mrr, new, reactivation, expansion,
contraction, churned), customer churn and retention, tickets and first contact
resolution, NPS / CSAT / CES, and product adoption and usage frequency, with
the definitions of SPEC section 6 (MRR in float, as such a script would).
No Python loop runs over rows; loops run over months only. Its results equal
csmetrics' to 1e-15 (bench/run.py checks them). Writes the tidy
result (metric, period, value) to ``--out`` as Parquet if given and prints one
JSON line with rows and seconds.
"""

from __future__ import annotations

import argparse
import json
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

MONTHS = {"month": 1.0, "quarter": 3.0, "year": 12.0, "week": 12.0 / 52.0}


def read(data: Path, name: str, columns: list[str] | None = None) -> pd.DataFrame | None:
    path = data / f"{name}.parquet"
    return pd.read_parquet(path, columns=columns) if path.exists() else None


def day(s: pd.Series) -> pd.Series:
    """The UTC calendar day of a date or timestamp column, as datetime64 at midnight."""
    s = pd.to_datetime(s)
    if s.dt.tz is not None:
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    return s.dt.normalize()


def subscription_mrr(data: Path, base: str) -> pd.DataFrame:
    s = read(data, "subscriptions")
    assert s is not None
    s["started_at"], s["ended_at"] = day(s["started_at"]), day(s["ended_at"])
    months = s["interval"].fillna("month").str.lower().map(MONTHS).fillna(1.0)
    s["mrr"] = s["amount"] * s["quantity"].fillna(1) * (1 - s["discount"].fillna(0)) / months
    fx = read(data, "fx_rates")
    s["currency"] = s["currency"].fillna(base).str.upper()
    s["rate"] = 1.0
    foreign = s["currency"] != base
    if fx is not None and foreign.any():
        fx["date"] = day(fx["date"])
        f = s.loc[foreign, ["currency", "started_at"]].reset_index().sort_values("started_at")
        m = pd.merge_asof(f, fx.sort_values("date"), left_on="started_at", right_on="date", by="currency")
        s.loc[m["index"].to_numpy(), "rate"] = m["rate"].to_numpy()
    s["mrr"] *= s["rate"]
    return s[["account_id", "started_at", "ended_at", "mrr"]]


def mrr_on(subs: pd.DataFrame, d: pd.Timestamp) -> pd.Series:
    active = (subs["started_at"] <= d) & (subs["ended_at"].isna() | (d < subs["ended_at"]))
    m = subs.loc[active].groupby("account_id", observed=True)["mrr"].sum()
    return m[m > 0]


def revenue(subs: pd.DataFrame, periods: pd.PeriodIndex) -> list[dict[str, object]]:
    paying = subs[(subs["mrr"] > 0) & (subs["ended_at"].isna() | (subs["ended_at"] > subs["started_at"]))]
    first = paying.groupby("account_id", observed=True)["started_at"].min()
    out: list[dict[str, object]] = []
    days = [periods[0].start_time - pd.Timedelta(days=1)] + [p.end_time.normalize() for p in periods]
    at = {d: mrr_on(subs, d) for d in days}
    for i, p in enumerate(periods):
        m = pd.concat({"m0": at[days[i]], "m1": at[days[i + 1]]}, axis=1).fillna(0.0)
        new_acc = first[(first >= p.start_time) & (first <= p.end_time)].index
        m = m.reindex(m.index.union(new_acc), fill_value=0.0)
        had_before = m.index.map(first).to_series(index=m.index) < p.start_time
        m0, m1 = m["m0"], m["m1"]
        is_new = m.index.isin(new_acc)
        start_mrr = m0.sum()
        churned = m0[(m0 > 0) & (m1 == 0)].sum()
        contraction = (m0 - m1)[(m0 > 0) & (m1 > 0) & (m1 < m0)].sum()
        expansion = (m1 - m0)[(m0 > 0) & (m1 > m0)].sum()
        customers_start = int((m0 > 0).sum())
        churned_customers = int(((m0 > 0) & (m1 == 0)).sum() + (is_new & (m1 == 0)).sum())
        values = {
            "mrr": m1.sum(),
            "active_customers": int((m1 > 0).sum()),
            "new_mrr": m1[(m0 == 0) & (m1 > 0) & ~had_before].sum(),
            "reactivation_mrr": m1[(m0 == 0) & (m1 > 0) & had_before].sum(),
            "expansion_mrr": expansion,
            "contraction_mrr": contraction,
            "churned_mrr": churned,
            "mrr_churn_rate": (churned + contraction) / start_mrr if start_mrr else np.nan,
            "net_revenue_retention": (start_mrr - churned - contraction + expansion) / start_mrr
            if start_mrr else np.nan,
            "customers_start": customers_start,
            "new_customers": int(is_new.sum()),
            "churned_customers": churned_customers,
            "customer_churn_rate": churned_customers / customers_start if customers_start else np.nan,
            "customer_retention_rate": ((m0 > 0) & (m1 > 0)).sum() / customers_start if customers_start else np.nan,
        }
        out += [{"metric": k, "period": str(p), "value": float(v)} for k, v in values.items()]
    return out


def monthly(df: pd.DataFrame, col: str, periods: pd.PeriodIndex) -> pd.DataFrame:
    df = df.assign(_day=day(df[col]))
    df = df[(df["_day"] >= periods[0].start_time) & (df["_day"] <= periods[-1].end_time)]
    return df.assign(period=df["_day"].dt.to_period("M"))


def support(data: Path, periods: pd.PeriodIndex) -> list[dict[str, object]]:
    t = read(data, "tickets", ["opened_at", "resolved_at", "contacts"])
    if t is None:
        return []
    t = monthly(t, "opened_at", periods)
    t["fcr"] = t["resolved_at"].notna() & (t["contacts"] == 1)
    g = t.groupby("period").agg(tickets=("fcr", "size"), fcr=("fcr", "sum"))
    g["fcr_rate"] = g["fcr"] / g["tickets"]
    return _tidy(g[["tickets", "fcr_rate"]])


def surveys(data: Path, periods: pd.PeriodIndex, positive_min: float) -> list[dict[str, object]]:
    s = read(data, "survey_responses", ["survey", "score", "responded_at"])
    if s is None:
        return []
    s = monthly(s, "responded_at", periods)
    s["survey"] = s["survey"].str.lower()
    nps = s[s["survey"] == "nps"]
    n = nps.assign(p=nps["score"] >= 9, d=nps["score"] <= 6).groupby("period").agg(
        n=("p", "size"), p=("p", "mean"), d=("d", "mean"))
    n["nps"] = 100 * (n["p"] - n["d"])
    n["nps_margin_of_error"] = 1.96 * 100 * np.sqrt((n["p"] + n["d"] - (n["p"] - n["d"]) ** 2) / n["n"])
    csat = s[s["survey"] == "csat"].groupby("period")["score"].agg(lambda x: 100 * (x >= positive_min).mean())
    ces = s[s["survey"] == "ces"].groupby("period")["score"].agg(lambda x: 100 * (x >= 5).mean())
    return _tidy(n[["nps", "nps_margin_of_error"]]) + _tidy(csat.to_frame("csat")) + _tidy(ces.to_frame("ces"))


def usage(data: Path, periods: pd.PeriodIndex) -> list[dict[str, object]]:
    u = read(data, "usage_events", ["account_id", "occurred_at", "feature"])
    if u is None:
        return []
    catalogue = u["feature"].nunique()
    u = monthly(u, "occurred_at", periods)
    per = u.groupby(["period", "account_id"], observed=True).agg(
        features=("feature", "nunique"), days=("_day", "nunique"))
    g = per.groupby("period").agg(features=("features", "mean"), usage_frequency=("days", "mean"))
    g["product_adoption_rate"] = g["features"] / catalogue
    return _tidy(g[["product_adoption_rate", "usage_frequency"]])


def _tidy(frame: pd.DataFrame) -> list[dict[str, object]]:
    long = frame.reset_index().melt(id_vars="period", var_name="metric", value_name="value")
    long["period"] = long["period"].astype(str)
    return list(long[["metric", "period", "value"]].to_dict("records"))  # type: ignore[arg-type]


def run(data: Path, start: str, end: str) -> pd.DataFrame:
    cfg_path = data / "csmetrics.toml"
    cfg = tomllib.loads(cfg_path.read_text()) if cfg_path.exists() else {}
    base = str(cfg.get("base_currency", "USD")).upper()
    periods = pd.period_range(start, pd.Timestamp(end) - pd.Timedelta(days=1), freq="M")
    rows = revenue(subscription_mrr(data, base), periods)
    rows += support(data, periods)
    rows += surveys(data, periods, float(cfg.get("csat_positive_min", 4)))
    rows += usage(data, periods)
    return pd.DataFrame(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("--start", required=True)
    ap.add_argument("--end", required=True, help="exclusive")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    t0 = time.perf_counter()
    df = run(args.data, args.start, args.end)
    seconds = time.perf_counter() - t0
    if args.out:
        df.to_parquet(args.out)
    print(json.dumps({"rows": len(df), "seconds": round(seconds, 3)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
