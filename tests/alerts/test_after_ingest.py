"""`csmetrics ingest` evaluates the workspace's alerts after it writes (alerts.toml next to the workspace)."""

from __future__ import annotations

from pathlib import Path

import duckdb
from typer.testing import CliRunner

from csmetrics.cli.main import app
from tests.metrics.helpers import write_dir

ONLY_DETRACTORS = "".join(f"[rules.{r}]\nenabled = false\n" for r in (
    "health_worsens", "score_drop", "csat_negative", "usage_drop", "renewal_risk", "mrr_contraction"))


def _alert_keys(ws: Path) -> list[tuple[str, str]]:
    con = duckdb.connect(str(ws), read_only=True)
    try:
        return con.execute("SELECT rule, account_id FROM _csmetrics_alerts ORDER BY ALL").fetchall()
    finally:
        con.close()


def _answers(tmp_path: Path, *rows: dict[str, object]) -> Path:
    """A data directory of survey answers for accounts already in the workspace (accounts.csv: header only)."""
    data = write_dir(tmp_path / "new", survey_responses=list(rows))
    (data / "accounts.csv").write_text("account_id\n", encoding="utf-8")
    return data


def test_ingest_raises_the_alert_of_a_new_detractor_once(ws: Path, tmp_path: Path) -> None:
    (ws.parent / "alerts.toml").write_text(ONLY_DETRACTORS, encoding="utf-8")
    runner = CliRunner()
    first = runner.invoke(app, ["alerts", "run", "--workspace", str(ws), "--no-deliver"])
    assert first.exit_code == 0, first.output
    before = _alert_keys(ws)
    assert before == [("nps_detractor", "A1")]  # R1, NPS 3 on 2026-06-12 (tests/alerts/company.py)
    # a new detractor answer from Beta (A2) on the pinned day arrives by ingest
    data = _answers(tmp_path, {"response_id": "R9", "account_id": "A2", "survey": "nps", "score": 2,
                               "responded_at": "2026-06-15", "comment": "Billing is confusing"})
    r = runner.invoke(app, ["ingest", "--data", str(data), "--workspace", str(ws)])
    assert r.exit_code == 0, r.output
    assert "alerts: 1 new" in r.stderr
    assert _alert_keys(ws) == [("nps_detractor", "A1"), ("nps_detractor", "A2")]
    again = runner.invoke(app, ["ingest", "--data", str(data), "--workspace", str(ws)])
    assert again.exit_code == 0 and "alerts: 0 new" in again.stderr  # the same data raises nothing new
    assert len(_alert_keys(ws)) == 2


def test_ingest_without_alerts_toml_evaluates_nothing(ws: Path, tmp_path: Path) -> None:
    data = _answers(tmp_path, {"response_id": "R9", "account_id": "A2", "survey": "nps", "score": 2,
                               "responded_at": "2026-06-15"})
    r = CliRunner().invoke(app, ["ingest", "--data", str(data), "--workspace", str(ws)])
    assert r.exit_code == 0, r.output
    assert "alerts" not in r.stderr
    con = duckdb.connect(str(ws), read_only=True)
    try:
        tables = {t[0] for t in con.execute("SHOW TABLES").fetchall()}
    finally:
        con.close()
    assert "_csmetrics_alerts" not in tables or _alert_keys(ws) == []
