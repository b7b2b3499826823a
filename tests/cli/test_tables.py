"""Tables fit the terminal: periods as rows when they do not fit as columns, figures never cut with "…"."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from csmetrics.cli.main import app
from csmetrics.registry import REGISTRY, load_all
from csmetrics.report.formats import compact_value, format_value
from tests.cli.helpers import demo_workspace, read_tables, runner, tiny_workspace

HEADLINE = ("mrr,net_new_mrr,arpa,active_customers,customer_churn_rate,customer_retention_rate,net_revenue_retention,"
            "gross_revenue_retention,clv,crc,renewal_rate,fcr_rate,nps,csat,ces,product_adoption_rate")
# A figure as the tables print it: 1,218,141.68 / 1.03M / 18.1k / 97.9% / -12.5 / "-" for null.
FIGURE = re.compile(r"^(-|[+-]?[\d,]+(\.\d+)?[kMB%]?)$")
TINY = ["--start", "2025-01-01", "--end", "2025-07-01", "--metrics", "mrr,active_customers,customer_churn_rate"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_workspace(tmp_path_factory.mktemp("demo16"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_workspace(tmp_path_factory.mktemp("tiny"))


def _table(ws: Path, columns: int, *args: str) -> str:
    res = runner.invoke(app, ["metrics", "--workspace", str(ws), *args], env={"COLUMNS": str(columns)})
    assert res.exit_code == 0, res.output
    return res.stdout


def _fits(text: str, columns: int) -> None:
    too_wide = [line for line in text.splitlines() if len(line) > columns]
    assert not too_wide, too_wide


def test_tiny_workspace_at_80_columns_puts_periods_as_rows_with_exact_values(tiny: Path) -> None:
    # Six periods of 1,218,141.68 do not fit 80 columns as columns, even compact; as rows they do in full.
    out = _table(tiny, 80, *TINY)
    _fits(out, 80)
    [(headers, rows)] = read_tables(out)
    assert headers == ["period", "mrr", "active_customers", "customer_churn_rate"]
    assert rows == [["2025-01", "1,200,345.50", "2", "-"],
                    ["2025-02", "1,218,141.68", "2", "50.0%"],
                    *[[f"2025-0{m}", "1,218,141.68", "2", "0.0%"] for m in range(3, 7)]]


def test_tiny_workspace_at_120_columns_keeps_periods_as_columns(tiny: Path) -> None:
    out = _table(tiny, 120, *TINY)
    _fits(out, 120)
    [(headers, rows)] = read_tables(out)
    assert headers == ["metric", *[f"2025-0{m}" for m in range(1, 7)]]
    assert rows == [["mrr", "1,200,345.50", *["1,218,141.68"] * 5],
                    ["active_customers", *["2"] * 6],
                    ["customer_churn_rate", "-", "50.0%", *["0.0%"] * 4]]


def test_wide_keeps_periods_as_columns_in_full_however_narrow_the_terminal(tiny: Path) -> None:
    out = _table(tiny, 80, *TINY, "--wide")
    [(headers, rows)] = read_tables(out)
    assert headers[0] == "metric" and len(headers) == 7
    assert rows[0] == ["mrr", "1,200,345.50", *["1,218,141.68"] * 5]
    assert max(len(line) for line in out.splitlines()) > 80  # printed at its natural width, not cut


def test_transpose_puts_periods_as_rows_even_when_columns_fit(tiny: Path) -> None:
    [(headers, rows)] = read_tables(_table(tiny, 200, *TINY, "--transpose"))
    assert headers == ["period", "mrr", "active_customers", "customer_churn_rate"]
    assert rows[1] == ["2025-02", "1,218,141.68", "2", "50.0%"]


def test_json_and_csv_are_unchanged_by_the_terminal_width(tiny: Path) -> None:
    narrow = _table(tiny, 40, *TINY, "--format", "json")
    assert narrow == _table(tiny, 200, *TINY, "--format", "json")
    assert json.loads(narrow)[1] == {"metric": "mrr", "period": "2025-02", "group": None, "value": 1218141.68}


@pytest.mark.parametrize("columns", [80, 120])
def test_demo_headline_table_shows_every_metric_and_period_uncut(demo: Path, columns: int) -> None:
    """The table `make demo` prints: no "…", every metric and period, each cell the value in full or compact form."""
    load_all()
    args = ["--period", "month", "--last", "12", "--metrics", HEADLINE]
    out = _table(demo, columns, *args)
    assert "…" not in out
    _fits(out, columns)
    values = {(r["metric"], r["period"]): r["value"] for r in json.loads(_table(demo, columns, *args, "--format",
                                                                                 "json"))}
    periods = sorted({p for _, p in values})
    assert len(periods) == 12
    seen: dict[tuple[str, str], str] = {}
    for headers, rows in read_tables(out):
        assert headers[0] == "period"  # 16 metrics x 12 months fit neither 80 nor 120 columns as columns
        for row in rows:
            for metric, cell in zip(headers[1:], row[1:], strict=True):
                seen[(metric, row[0])] = cell
    assert set(seen) == set(values)  # every metric and every period, once
    for (metric, period), cell in seen.items():
        assert FIGURE.match(cell), (metric, period, cell)
        unit = REGISTRY[metric].unit
        v = values[(metric, period)]
        assert cell in (format_value(v, unit), compact_value(v, unit)), (metric, period, cell, v)


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("command", [["feedback"], ["health", "--at-risk"], ["clv"], ["accounts", "--limit", "20"],
                                     ["survival", "--by", "segment"], ["clv", "--model", "subscription", "--by",
                                                                        "segment"], ["health"]])
def test_demo_tables_fit_and_never_cut_a_figure(demo: Path, columns: int, command: list[str]) -> None:
    res = runner.invoke(app, [*command, "--workspace", str(demo)], env={"COLUMNS": str(columns)})
    assert res.exit_code == 0, res.output
    _fits(res.stdout, columns)
    # Quoted comments and examples may be cut (in full in --format json); nothing else may.
    assert "…" not in re.sub(r"“[^”]*”", "", res.stdout)
    for headers, rows in read_tables(res.stdout):
        for row in rows:
            assert len(row) == len(headers)


@pytest.mark.parametrize(("value", "unit", "text"), [
    (1_028_213.73, "currency", "1.03M"), (18_141.68, "currency", "18.1k"), (181_400, "currency", "181k"),
    (999_999, "currency", "1.00M"), (864.05, "currency", "864"), (96.17, "currency", "96.2"),
    (5.123, "currency", "5.12"), (9_999.4, "currency", "9,999"), (-18_141.68, "currency", "-18.1k"),
    (12_300_000, "count", "12.3M"), (1_505, "count", "1,505"), (0.979, "ratio", "97.9%"), (28.44, "score", "28.4"),
    (None, "currency", "-"), (float("nan"), "ratio", "-"),
])
def test_compact_numbers_keep_three_significant_digits(value: float | None, unit: str, text: str) -> None:
    assert compact_value(value, unit) == text


def test_each_command_takes_the_width_it_runs_at_not_the_one_at_import(tiny: Path) -> None:
    from csmetrics.cli import common

    common.console.width = 20  # as if the module had been imported under COLUMNS=20
    try:
        res = runner.invoke(app, ["explain", "mrr", "--period", "2025-03", "--workspace", str(tiny)],
                            env={"COLUMNS": "200"})
        assert res.exit_code == 0, res.output
        # The definition is one line at 200 columns; at 20 it would wrap after a few words.
        assert "Monthly recurring revenue at the end of the period (its last day), in base currency." in res.stdout
        assert common.console.width == 200
    finally:
        common.fit_consoles()


def test_a_title_naming_a_long_path_wraps_at_the_width(tmp_path: Path, tiny: Path) -> None:
    deep = tmp_path / ("a-long-directory-name-" * 4) / "workspace.duckdb"
    deep.parent.mkdir(parents=True)
    deep.write_bytes(tiny.read_bytes())
    out = _table(deep, 80, *TINY)
    _fits(out, 80)
    assert "".join(out.split()).startswith(f"csmetrics:{deep},bymonth")  # the whole path, folded
