"""csmetrics.toml: settings, their checks, and the CSAT scale they set."""

from __future__ import annotations

from pathlib import Path

import pytest

from csmetrics.config import Config
from csmetrics.io import load_data_dir
from tests.io.helpers import copy_valid, defects, messages, set_cell


def with_toml(tmp_path: Path, text: str) -> Path:
    data = copy_valid(tmp_path / "data")
    (data / "csmetrics.toml").write_text(text, encoding="utf-8")
    return data


def test_settings_are_read(tmp_path: Path) -> None:
    data = with_toml(tmp_path, 'base_currency = "usd"\ncsat_scale_max = 10\ncsat_positive_min = 6\n'
                                'gross_margin = 0.8\nlifespan_months = 24\nweek_start = "Sunday"\n')
    assert load_data_dir(data).config == Config(
        base_currency="USD", csat_scale_max=10, csat_positive_min=6, gross_margin=0.8,
        lifespan_months=24, week_start="sunday")


def test_no_toml_means_defaults(tmp_path: Path) -> None:
    assert load_data_dir(copy_valid(tmp_path / "data")).config == Config()


def test_csat_8_is_accepted_on_a_10_point_scale(tmp_path: Path) -> None:
    data = with_toml(tmp_path, "csat_scale_max = 10\ncsat_positive_min = 6\n")
    set_cell(data, "survey_responses.csv", 4, "score", "8")
    assert load_data_dir(data).table("survey_responses").score.execute().tolist()[2] == 8
    set_cell(data, "survey_responses.csv", 4, "score", "11")
    assert messages(data) == [
        "survey_responses.csv row 4, column score: '11' is out of range for survey csat (expected 1 to 10)"
    ]


def test_invalid_toml(tmp_path: Path) -> None:
    data = with_toml(tmp_path, "csat_scale_max = 10\nbase_currency = \n")
    [d] = defects(data)
    assert (d.file, d.row, d.column) == ("csmetrics.toml", None, None)
    assert str(d).startswith("csmetrics.toml: is not valid TOML: ")
    assert "line 2" in str(d)


def test_toml_that_is_not_utf8(tmp_path: Path) -> None:
    data = copy_valid(tmp_path / "data")
    (data / "csmetrics.toml").write_bytes(b'base_currency = "\xe9"\n')
    assert str(defects(data)[0]).startswith("csmetrics.toml: is not valid TOML: ")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("csat_max = 10\n",
                     "csmetrics.toml line 1, setting csat_max: is not a known setting (known: base_currency, "
                     "csat_positive_min, csat_scale_max, gross_margin, lifespan_months, week_start)",
                     id="unknown-key"),
        pytest.param('csat_scale_max = "ten"\n',
                     "csmetrics.toml line 1, setting csat_scale_max: 'ten' is not a number", id="text-for-number"),
        pytest.param("gross_margin = true\n",
                     "csmetrics.toml line 1, setting gross_margin: 'True' is not a number", id="bool-for-number"),
        pytest.param("gross_margin = 1.5\n",
                     "csmetrics.toml line 1, setting gross_margin: '1.5' is out of range (expected > 0 and <= 1)",
                     id="margin-above-1"),
        pytest.param("csat_scale_max = 5\ncsat_positive_min = 6\n",
                     "csmetrics.toml line 2, setting csat_positive_min: '6' is out of range "
                     "(expected <= csat_scale_max 5)",
                     id="positive-above-scale"),
        pytest.param("lifespan_months = 0\n",
                     "csmetrics.toml line 1, setting lifespan_months: '0' is out of range (expected > 0)",
                     id="lifespan-0"),
        pytest.param('week_start = "someday"\n',
                     "csmetrics.toml line 1, setting week_start: 'someday' is not a weekday name (e.g. monday)",
                     id="bad-weekday"),
        pytest.param("base_currency = 5\n",
                     "csmetrics.toml line 1, setting base_currency: '5' is not a currency code (e.g. USD)",
                     id="bad-currency"),
        pytest.param('sources = "stripe"\n',
                     "csmetrics.toml line 1, setting sources: is not a table of source tables (e.g. [sources.stripe])",
                     id="sources-not-a-table"),
    ],
)
def test_bad_setting(tmp_path: Path, text: str, message: str) -> None:
    assert messages(with_toml(tmp_path, text)) == [message]


def test_all_bad_settings_are_reported_together(tmp_path: Path) -> None:
    data = with_toml(tmp_path, 'colour = "red"\ncsat_scale_max = "x"\nweek_start = 3\n')
    assert [d.column for d in defects(data)] == ["colour", "csat_scale_max", "week_start"]


def test_base_currency_decides_which_currencies_need_rates(tmp_path: Path) -> None:
    # With EUR as base, the rows saying USD need a USD rate; EUR rows and empty currencies (= base) need none.
    data = with_toml(tmp_path, 'base_currency = "EUR"\n')
    assert messages(data) == [
        "subscriptions.csv row 2, column currency: 'USD' has no fx rate on or before 2025-01-01 "
        "(expected a row in fx_rates, or the base currency EUR)",
        "charges.csv row 2, column currency: 'USD' has no fx rate on or before 2025-02-10 "
        "(expected a row in fx_rates, or the base currency EUR)",
    ]


def test_source_tables_are_accepted_beside_the_settings(tmp_path: Path) -> None:
    # A data directory's csmetrics.toml may also configure connectors (docs/stripe.md).
    data = with_toml(tmp_path, 'gross_margin = 0.8\n\n[sources.stripe]\napi_key_env = "MY_STRIPE_KEY"\n')
    assert load_data_dir(data).config == Config(gross_margin=0.8)
