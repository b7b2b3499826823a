"""A tiny hand-made workspace, the demo company, and a reader for the tables Rich prints."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from csmetrics.cli.main import app
from tests.metrics.helpers import sub, write_dir

runner = CliRunner()


def tiny_workspace(tmp: Path) -> Path:
    """Three accounts, January to June 2025.

    a pays 1,200,000.00 from Jan 1 (open); b pays 345.50 from Jan 1 to Feb 15;
    c pays 18,141.68 from Feb 10 (open). So, at each month end:
    MRR Jan = 1,200,000 + 345.50 = 1,200,345.50; from Feb on b is gone and c is in:
    1,200,000 + 18,141.68 = 1,218,141.68. Active customers: 2 every month.
    Customer churn: Jan null (no customer at the start); Feb: b of the 2 at the start
    (a, b) churned = 50.0%; Mar-Jun: 0 of 2 = 0.0%.
    """
    data = write_dir(
        tmp / "data",
        accounts=[{"account_id": a, "name": n, "segment": s} for a, n, s in
                  [("a", "Acme Holdings", "ent"), ("b", "Bolt", "smb"), ("c", "Cobalt Labs", "smb")]],
        subscriptions=[sub("s1", "a", "2025-01-01", None, 1_200_000), sub("s2", "b", "2025-01-01", "2025-02-15", 345.5),
                       sub("s3", "c", "2025-02-10", None, 18_141.68)],
    )
    ws = tmp / "tiny.duckdb"
    res = runner.invoke(app, ["ingest", "--data", str(data), "--workspace", str(ws)])
    assert res.exit_code == 0, res.output
    return ws


def demo_workspace(tmp: Path) -> Path:
    """The demo company as `make demo` builds it (default size; the clock is pinned by conftest)."""
    out, ws = tmp / "demo", tmp / "demo.duckdb"
    res = runner.invoke(app, ["demo", "--out", str(out)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["ingest", "--data", str(out), "--workspace", str(ws)])
    assert res.exit_code == 0, res.output
    return ws


def read_tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """Each heavy-box table in ``text`` as (headers, body rows of cell texts).

    A header that Rich wrapped over several lines is joined back without spaces, so a
    metric name broken after its underscores ("customer_" / "churn_" / "rate") reads whole.
    """
    tables: list[tuple[list[str], list[list[str]]]] = []
    head: list[list[str]] = []
    rows: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("┏"):
            head, rows = [], []
        elif line.startswith("┃"):
            head.append([c.strip() for c in line.strip().strip("┃").split("┃")])
        elif line.startswith("│"):
            rows.append([c.strip() for c in line.strip().strip("│").split("│")])
        elif line.startswith("└"):
            headers = ["".join(h[i] for h in head) for i in range(len(head[0]))]
            tables.append((headers, rows))
    return tables
