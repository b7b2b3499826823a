"""`csmetrics ingest` at the command line: exit codes and where messages go."""

from __future__ import annotations

import inspect
from pathlib import Path

from typer.testing import CliRunner

from csmetrics.cli.main import app
from tests.io.helpers import copy_valid, set_cell, workspace_contents


def runner() -> CliRunner:
    # Click < 8.2 mixes stderr into output unless told not to; 8.2 removed the option and keeps them apart.
    if "mix_stderr" in inspect.signature(CliRunner.__init__).parameters:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    return CliRunner()


def test_ingest_good_data_exits_0(tmp_path: Path) -> None:
    ws = tmp_path / "ws.duckdb"
    result = runner().invoke(app, ["ingest", "--data", str(copy_valid(tmp_path / "data")), "--workspace", str(ws)])
    assert result.exit_code == 0, result.output
    assert "usage_events" in result.stdout
    assert result.stderr == ""
    assert len(workspace_contents(ws)["accounts"]) == 3


def test_ingest_bad_data_exits_2_and_lists_defects_on_stderr(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    set_cell(data, "subscriptions.csv", 3, "ended_at", "2025-02-30")
    set_cell(data, "survey_responses.csv", 2, "score", "11")
    ws = tmp_path / "ws.duckdb"
    result = runner().invoke(app, ["ingest", "--data", str(data), "--workspace", str(ws)], terminal_width=300)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines == [
        "error: the data has 2 defect(s):",
        "  subscriptions.csv row 3, column ended_at: '2025-02-30' is not a date (expected YYYY-MM-DD)",
        "  survey_responses.csv row 2, column score: '11' is out of range for survey nps (expected 0 to 10)",
    ]
    assert "2025-02-30" not in result.stdout
    assert not ws.exists()


def test_ingest_truncated_defects_say_so(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    with (data / "costs.csv").open("a", encoding="utf-8") as f:
        f.writelines(f"X{i},2025-01-01,-1,\n" for i in range(60))
    result = runner().invoke(app, ["ingest", "--data", str(data), "--workspace", str(tmp_path / "w.duckdb")],
                             terminal_width=300)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == "error: the data has 50+ defect(s):"
    assert result.stderr.splitlines()[-1] == "  ... more defects not shown"


def test_ingest_bad_toml_exits_2(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    (data / "csmetrics.toml").write_text("csat_scale_max = [\n", encoding="utf-8")
    result = runner().invoke(app, ["ingest", "--data", str(data), "--workspace", str(tmp_path / "w.duckdb")],
                             terminal_width=300)
    assert result.exit_code == 2
    assert "csmetrics.toml: is not valid TOML" in result.stderr
