"""--version, usage errors exit 2 in one line, progress only on stderr, JSON never fails on NaN, explain labels."""

from __future__ import annotations

import datetime as dt
import io
import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from csmetrics import clock
from csmetrics.cli import common
from csmetrics.cli.main import app
from csmetrics.report.formats import dumps_finite
from tests.cli.helpers import demo_workspace, read_tables, runner, tiny_workspace


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_workspace(tmp_path_factory.mktemp("tiny"))


def test_version_prints_the_package_version_and_exits_0() -> None:
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0
    assert res.stdout == f"csmetrics {version('csmetrics')}\n"


# -- usage errors -----------------------------------------------------------------------------------------------

W = "{ws}"
BAD = [
    ["metrics", "--workspace", W, "--period", "fortnight"],
    ["metrics", "--workspace", W, "--metrics", "nosuch"],
    ["metrics", "--workspace", W, "--start", "2025-13-01"],
    ["metrics", "--workspace", W, "--by", "nosuch"],
    ["metrics", "--workspace", W, "--format", "xml"],
    ["metrics", "--workspace", W, "--engine", "nosuch"],
    ["metrics", "--workspace", "{tmp}/nosuch.duckdb"],
    ["explain", "nosuch", "--period", "2025-02", "--workspace", W],
    ["explain", "mrr", "--period", "2025-13", "--workspace", W],
    ["explain", "mrr", "--period", "2025-02", "--workspace", W, "--format", "xml"],
    ["explain", "mrr", "--period", "2025-02", "--workspace", W, "--group", "x"],
    ["explain", "mrr", "--period", "2025-02", "--workspace", W, "--by", "segment", "--group", "nosuch"],
    ["accounts", "--workspace", W, "--color", "blue"],
    ["accounts", "--workspace", W, "--format", "xml"],
    ["accounts", "--workspace", W, "--as-of", "2025-02-30"],
    ["accounts", "--workspace", W, "--health-config", "{tmp}/nosuch.toml"],
    ["health", "--workspace", W, "--format", "xml"],
    ["health", "history", "--workspace", W, "--account", "nosuch"],
    ["health", "history", "--workspace", W, "--period", "fortnight"],
    ["health", "history", "--workspace", W, "--format", "csv"],
    ["health", "backtest", "--workspace", W, "--horizon", "5x"],
    ["feedback", "--workspace", W, "--format", "csv"],
    ["feedback", "--workspace", W, "--start", "nope"],
    ["survival", "--workspace", W, "--by", "nosuch"],
    ["survival", "--workspace", W, "--as-of", "nope"],
    ["survival", "--workspace", W, "--format", "csv"],
    ["clv", "--workspace", W, "--model", "nosuch"],
    ["clv", "--workspace", W, "--unit", "fortnight"],
    ["clv", "--workspace", W, "--model", "subscription", "--lifetime", "nosuch"],
    ["clv", "--workspace", W, "--model", "subscription", "--by", "nosuch"],
    ["survey", "link", "--workspace", W, "--account", "a", "--survey", "foo"],
    ["ingest", "--data", "{tmp}/nosuch", "--workspace", "{tmp}/x.duckdb"],
    ["demo", "--out", "{tmp}/demo", "--format", "xml"],
]


@pytest.mark.parametrize("argv", BAD, ids=[" ".join(a[:1] + [x for x in a[1:] if x.startswith("--")][-1:])
                                           + f"-{i}" for i, a in enumerate(BAD)])
def test_a_bad_option_value_exits_2_with_a_one_line_message(tiny: Path, tmp_path: Path, argv: list[str]) -> None:
    res = runner.invoke(app, [a.format(ws=tiny, tmp=tmp_path) for a in argv])
    assert res.exit_code == 2, (res.exit_code, res.output)
    lines = res.stderr.strip().splitlines()
    assert lines[0].startswith("error: "), res.stderr
    # One line, except the data-defect list (the defect on the line after its heading).
    assert len(lines) == 1 or (lines[0].startswith("error: the data has 1 defect") and len(lines) == 2), lines
    assert "Traceback" not in res.output and res.exception is None or isinstance(res.exception, SystemExit)


@pytest.mark.parametrize("argv", [["accounts", "--limit", "-1"], ["clv", "--limit", "-1"], ["metrics", "--last", "0"],
                                  ["health", "--at-risk", "--limit", "-2"], ["feedback", "--themes", "0"]])
def test_an_out_of_range_number_exits_2_naming_the_option(tiny: Path, argv: list[str]) -> None:
    res = runner.invoke(app, [*argv, "--workspace", str(tiny)])
    assert res.exit_code == 2, res.output
    assert f"Invalid value for '{argv[-2]}'" in res.output and "Traceback" not in res.output


# -- progress ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [["metrics", "--metrics", "mrr", "--start", "2025-01-01", "--end", "2025-03-01"],
                                  ["accounts"], ["explain", "mrr", "--period", "2025-02"]])
def test_progress_goes_to_stderr_and_json_on_stdout_stays_valid(tiny: Path, monkeypatch: pytest.MonkeyPatch,
                                                                argv: list[str]) -> None:
    # stderr made a terminal, so the spinner runs; stdout must hold nothing but the JSON.
    buf = io.StringIO()
    monkeypatch.setattr(common, "err", Console(file=buf, force_terminal=True, width=80))
    res = runner.invoke(app, [*argv, "--workspace", str(tiny), "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc
    assert "..." in buf.getvalue()  # the spinner's message ("computing metrics (duckdb)...", ...) went to stderr
    assert "\x1b" not in res.stdout


def test_without_a_terminal_no_spinner_is_drawn(tiny: Path) -> None:
    res = runner.invoke(app, ["metrics", "--workspace", str(tiny), "--metrics", "mrr", "--format", "json",
                              "--start", "2025-01-01", "--end", "2025-02-01"])
    assert res.exit_code == 0
    assert "computing" not in res.stderr and json.loads(res.stdout)[0]["value"] == 1200345.5


# -- JSON and NaN -----------------------------------------------------------------------------------------------

def test_non_finite_numbers_become_null_and_are_named() -> None:
    text, note = dumps_finite({"fit": {"se": {"a": float("nan"), "r": 0.4}},
                               "rows": [{"clv": float("inf")}, {"clv": 1.0}, {"clv": float("-inf")}]})
    assert json.loads(text) == {"fit": {"se": {"a": None, "r": 0.4}}, "rows": [{"clv": None}, {"clv": 1.0},
                                                                                {"clv": None}]}
    assert note == "not finite, written as null: fit.se.a, rows[].clv (2 values)"
    assert dumps_finite({"x": 1.5}) == ('{"x": 1.5}', "")


class _Curves:
    def to_dict(self) -> dict[str, Any]:
        return {"as_of": "2025-06-30", "curves": [{"group": None, "median_months": float("nan"), "customers": 3}]}


def test_a_nan_in_a_model_result_is_null_in_json_with_a_note(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import csmetrics.models.survival as survival

    monkeypatch.setattr(survival, "kaplan_meier", lambda *a, **k: _Curves())
    res = runner.invoke(app, ["survival", "--workspace", str(tiny), "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["curves"][0] == {"group": None, "median_months": None, "customers": 3}
    assert res.stderr.strip() == "note: not finite, written as null: curves[].median_months"


def test_demo_clv_json_does_not_crash_on_undefined_standard_errors(tmp_path: Path) -> None:
    # The demo made on 2026-11-28 (data to 2026-10-31), as in issue 16: its BG/NBD fit is degenerate
    # (a = 0.0009) and the standard errors of a and b, and of every Gamma-Gamma parameter, are NaN.
    with clock.frozen(dt.date(2026, 11, 28)):
        ws = demo_workspace(tmp_path)
        res = runner.invoke(app, ["clv", "--workspace", str(ws), "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    undefined = [k for k, v in doc["bgnbd"]["standard_errors"].items() if v is None]
    assert undefined  # the demo's degenerate fit has standard errors that are not finite
    assert undefined == ["a", "b"]
    assert res.stderr.strip().splitlines()[-1] == (
        "note: not finite, written as null: bgnbd.standard_errors.a, bgnbd.standard_errors.b, "
        "gamma_gamma.standard_errors.p, gamma_gamma.standard_errors.q, gamma_gamma.standard_errors.gamma")


# -- explain ----------------------------------------------------------------------------------------------------

def test_explain_names_mrr_columns_as_the_definition_does(tiny: Path) -> None:
    res = runner.invoke(app, ["explain", "customer_churn_rate", "--period", "2025-02", "--workspace", str(tiny)],
                        env={"COLUMNS": "120"})
    assert res.exit_code == 0, res.output
    out = " ".join(res.stdout.split())
    assert "customer_churn_rate for 2025-02: 50.0%" in out
    headers = [h.replace(" ", "") for hs, _ in read_tables(res.stdout) for h in hs]  # wrapped headers, unspaced
    assert "MRRatstart(daybeforeP:2025-01-31)" in headers and "MRRatend(lastdayofP:2025-02-28)" in headers
    assert "m0" not in headers and "m1" not in headers
    assert "worked example from the seed article, not this period's data: 64 / 1000 = 6.4%" in out
    doc = json.loads(runner.invoke(app, ["explain", "customer_churn_rate", "--period", "2025-02", "--workspace",
                                         str(tiny), "--format", "json"]).stdout)
    assert doc["rows"] == [{"account_id": "b", "first_day": "2025-01-01", "m0": 345.5, "m1": 0.0,
                            "movement": "churned"}]  # keys unchanged: b paid 345.50 on Jan 31, nothing on Feb 28
    assert doc["column_labels"] == {"m0": "MRR at start (day before P: 2025-01-31)",
                                    "m1": "MRR at end (last day of P: 2025-02-28)"}
