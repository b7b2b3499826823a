"""`csmetrics import delighted`: rules S1-S6 of csmetrics.sources.surveycsv on a 6-row export.

tests/fixtures/delighted/responses.csv:
  1001 10 ana@acme.com   2025-01-10 09:00 -0800 (17:00 UTC)   Company ID H1
  1002  6 bob@beta.io    2025-01-20 12:00Z                     H2
  1003  9 cy@gamma.org   2025-01-31 23:30 -0800 = 1 Feb 07:30 UTC  H3
  1004  3 dan@Acme.COM   2025-02-05 10:00 +0000                H1
  1005  8 eve@unknown.net  1738836000 (2025-02-06 10:00 UTC)   (no Company ID)
  1006  0 (no e-mail)    2025-02-10T00:00:00Z                  (no Company ID)
Workspace accounts (a CRM export): H1 Acme ana acme.com, H2 Beta bo beta.io, H3 Gamma ana https://www.gamma.org/.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

import csmetrics
from csmetrics.cli.main import app
from csmetrics.io.dataset import ingest
from csmetrics.schema.errors import DataError
from csmetrics.sources.surveycsv import (
    DELIGHTED,
    CsvFormat,
    SurveyCsvSettings,
    import_csv,
    import_to_data_dir,
    parse_time,
)

EXPORT = Path(__file__).resolve().parents[2] / "fixtures" / "delighted" / "responses.csv"
runner = CliRunner()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rows(ws: Path, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(ws), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def answers(ws: Path) -> dict[str, tuple[object, ...]]:
    return {r[0]: r[1:] for r in rows(ws, "SELECT response_id, account_id, survey, score, responded_at, comment, "
                                          "respondent FROM survey_responses")}


@pytest.fixture
def crm_ws(tmp_path: Path) -> Path:
    data = tmp_path / "crm"
    data.mkdir()
    (data / "accounts.csv").write_text("account_id,name,csm,domain\nH1,Acme,ana,acme.com\nH2,Beta,bo,beta.io\n"
                                       "H3,Gamma,ana,https://www.gamma.org/\n", encoding="utf-8")
    ws = tmp_path / "ws.duckdb"
    ingest(data, ws)
    return ws


def settings(tmp_path: Path, body: str) -> SurveyCsvSettings:
    toml = tmp_path / "csmetrics.toml"
    toml.write_text("[sources.delighted]\n" + body, encoding="utf-8")
    return SurveyCsvSettings.load(toml, "delighted")


def monthly(ws: Path, metrics: list[str], by: str | None = None) -> dict[tuple[str, str | None], list[float | None]]:
    df = csmetrics.compute(ws, metrics, "month", "2025-01-01", "2025-03-01", by=by, cache=False)
    out: dict[tuple[str, str | None], list[float | None]] = {}
    for (metric, group), part in df.groupby(["metric", "group"], dropna=False, sort=False):
        vals = dict(zip(part["period"], part["value"], strict=True))
        key = (str(metric), None if group is None or group != group else str(group))
        out[key] = [None if vals.get(m) is None or vals[m] != vals[m] else round(float(vals[m]), 6)
                    for m in ("2025-01", "2025-02")]
    return out


def test_s1_one_answer_per_row(crm_ws: Path) -> None:
    import_csv(EXPORT, crm_ws, DELIGHTED)
    got = answers(crm_ws)
    assert got["delighted:1001"] == ("H1", "nps", 10.0, dt.datetime(2025, 1, 10, 17, 0), "Love it", "ana@acme.com")
    assert got["delighted:1002"][4] is None  # an empty comment is null
    assert got["delighted:1003"][3:5] == (dt.datetime(2025, 2, 1, 7, 30), 'Great, "really" great')
    assert got["delighted:1005"][3] == dt.datetime(2025, 2, 6, 10, 0)  # Unix seconds
    assert rows(crm_ws, "SELECT delighted_response_id FROM survey_responses WHERE response_id = 'delighted:1004'") \
        == [("1004",)]


def test_s3_s4_accounts_from_email_domains(crm_ws: Path) -> None:
    result = import_csv(EXPORT, crm_ws, DELIGHTED)
    got = {k: v[0] for k, v in answers(crm_ws).items()}
    # acme.com -> H1 (Acme.COM too), beta.io -> H2, gamma.org -> H3 (https://www.gamma.org/ in the CRM);
    # unknown.net matches no account: kept as its own account; 1006 has no e-mail: delighted:unknown.
    assert got == {"delighted:1001": "H1", "delighted:1002": "H2", "delighted:1003": "H3", "delighted:1004": "H1",
                   "delighted:1005": "unknown.net", "delighted:1006": "delighted:unknown"}
    assert (result.matched, result.unmatched) == (3, 2)
    r = runner.invoke(app, ["sources", "--workspace", str(crm_ws), "--format", "json"])
    doc = json.loads(r.output)[0]
    assert (doc["source"], doc["matched"], doc["unmatched"], doc["without_account"]) == ("delighted", 3, 2, 1)
    assert doc["unmatched_examples"] == ["delighted:unknown", "unknown.net"]


def test_s2_accounts_from_a_property_column(crm_ws: Path, tmp_path: Path) -> None:
    import_csv(EXPORT, crm_ws, DELIGHTED, settings(tmp_path, 'account_property = "Company ID"\n'))
    got = {k: v[0] for k, v in answers(crm_ws).items()}
    assert [got[f"delighted:{i}"] for i in range(1001, 1007)] == ["H1", "H2", "H3", "H1", "delighted:unknown",
                                                                  "delighted:unknown"]


def test_a_domain_shared_by_two_accounts_matches_neither(tmp_path: Path) -> None:
    data = tmp_path / "crm"
    data.mkdir()
    (data / "accounts.csv").write_text("account_id,domain\nH1,acme.com\nH9,www.acme.com\nH2,beta.io\n",
                                       encoding="utf-8")
    ws = tmp_path / "ws.duckdb"
    ingest(data, ws)
    import_csv(EXPORT, ws, DELIGHTED)
    got = {k: v[0] for k, v in answers(ws).items()}
    assert got["delighted:1001"] == "acme.com" and got["delighted:1002"] == "H2"


def test_nps_per_month_total_and_by_csm(crm_ws: Path) -> None:
    import_csv(EXPORT, crm_ws, DELIGHTED)
    got = monthly(crm_ws, ["nps"])
    # January: 1001 promoter, 1002 detractor: 100 x (1 - 1) / 2 = 0.
    # February: 1003 promoter, 1004 detractor, 1005 passive, 1006 detractor: 100 x (1 - 2) / 4 = -25.
    assert got[("nps", None)] == [0.0, -25.0]
    by_csm = monthly(crm_ws, ["nps"], by="csm")
    assert by_csm[("nps", "ana")] == [100.0, 0.0]  # Jan 1001 (H1); Feb 1003 P (H3), 1004 D (H1)
    assert by_csm[("nps", "bo")] == [-100.0, None]  # 1002 only
    assert by_csm[("nps", "(none)")] == [None, -50.0]  # 1005 passive, 1006 detractor: 100 x (0 - 1) / 2


def test_s5_additive_by_id_and_reimport_writes_nothing(crm_ws: Path, tmp_path: Path) -> None:
    lines = EXPORT.read_text(encoding="utf-8").splitlines()
    first = tmp_path / "first.csv"
    first.write_text("\n".join(lines[:3]) + "\n", encoding="utf-8")  # 1001, 1002
    second = tmp_path / "second.csv"
    second.write_text("\n".join([lines[0], lines[2].replace(",,", ",Changed my mind,", 1), *lines[3:]]) + "\n",
                      encoding="utf-8")  # 1002 with a comment now, 1003..1006
    import_csv(first, crm_ws, DELIGHTED)
    before = digest(crm_ws)
    assert not import_csv(first, crm_ws, DELIGHTED).changed and digest(crm_ws) == before
    result = import_csv(second, crm_ws, DELIGHTED)
    assert result.changed and result.objects == 6  # 1001 and 1002 kept from the first export
    got = answers(crm_ws)
    assert sorted(got) == [f"delighted:{i}" for i in range(1001, 1007)]
    assert got["delighted:1002"][4] == "Changed my mind"
    before = digest(crm_ws)
    assert not import_csv(second, crm_ws, DELIGHTED).changed and digest(crm_ws) == before


def test_unmatched_answers_join_the_crm_account_at_the_next_import(tmp_path: Path) -> None:
    ws = tmp_path / "ws.duckdb"
    import_csv(EXPORT, ws, DELIGHTED)  # no accounts yet: every answer is unmatched, under its domain
    assert answers(ws)["delighted:1001"][0] == "acme.com"
    data = tmp_path / "crm"
    data.mkdir()
    (data / "accounts.csv").write_text("account_id,domain\nH1,acme.com\n", encoding="utf-8")
    (data / "fx_rates.csv").write_text("currency,date,rate\n", encoding="utf-8")
    ingest(data, ws)  # a CSV ingest replaces the accounts table: acme.com's answers must be re-mapped
    assert import_csv(EXPORT, ws, DELIGHTED).changed
    assert answers(ws)["delighted:1001"][0] == "H1" and answers(ws)["delighted:1004"][0] == "H1"


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t.replace("1002,6,", "1002,11,"), "responses.csv row 3, column Score: '11' is not a nps score "
                                                  "(expected a number from 0 to 10)"),
    (lambda t: t.replace("1002,6,", "1002,six,"), "row 3, column Score: 'six' is not a nps score"),
    (lambda t: t.replace("2025-01-20T12:00:00Z", "20/01/2025"), "row 3, column Created At: '20/01/2025' is not a time"),
    (lambda t: t.replace("1003,", "1001,", 1), "row 4, column Response ID: '1001' is a duplicate response id "
                                               "(first seen on row 2)"),
    (lambda t: t.replace("1004,", ",", 1), "row 5, column Response ID: is empty"),
    (lambda t: t.replace("Score", "Rating", 1), "responses.csv row 1, column 'Score' or 'score': is missing from the "
                                                "header"),
])
def test_s6_a_bad_row_names_file_row_and_column_exits_2_and_writes_nothing(
        crm_ws: Path, tmp_path: Path, edit: object, message: str) -> None:
    bad = tmp_path / "responses.csv"
    bad.write_text(edit(EXPORT.read_text(encoding="utf-8")), encoding="utf-8")  # type: ignore[operator]
    before = digest(crm_ws)
    r = runner.invoke(app, ["import", "delighted", str(bad), "--workspace", str(crm_ws)])
    assert r.exit_code == 2, r.output
    assert message in " ".join(r.output.split())
    assert digest(crm_ws) == before


def test_settings_override_headers_and_are_checked(tmp_path: Path, crm_ws: Path) -> None:
    export = tmp_path / "renamed.csv"
    export.write_text(EXPORT.read_text(encoding="utf-8").replace("Score", "NPS", 1), encoding="utf-8")
    import_csv(export, crm_ws, DELIGHTED, settings(tmp_path, 'columns = {score = "NPS"}\n'))
    assert answers(crm_ws)["delighted:1001"][2] == 10.0
    with pytest.raises(DataError, match=r"line 2, setting sources.delighted.columns: 'rating' is not a field"):
        settings(tmp_path, 'columns = {rating = "NPS"}\n')


def test_parse_time_forms() -> None:
    assert parse_time("2025-01-10 09:00:00 -0800") == dt.datetime(2025, 1, 10, 17, 0)
    assert parse_time("2025-01-10T09:00:00+01:00") == dt.datetime(2025, 1, 10, 8, 0)
    assert parse_time("2025-01-10 09:00:00 UTC") == dt.datetime(2025, 1, 10, 9, 0)
    assert parse_time("1738836000") == dt.datetime(2025, 2, 6, 10, 0)
    assert parse_time("2025-01-10") == dt.datetime(2025, 1, 10)
    assert parse_time("10 Jan") is None and parse_time("") is None


def test_another_tool_is_a_few_lines(tmp_path: Path, crm_ws: Path) -> None:
    typeform = CsvFormat(source="typeform", title="Typeform NPS export", survey="nps",
                         response_id=("#",), score=("How likely are you to recommend us?",),
                         responded_at=("Submit Date (UTC)",), respondent=("Email",))
    export = tmp_path / "typeform.csv"
    export.write_text("#,How likely are you to recommend us?,Email,Submit Date (UTC)\n"
                      "abc1,9,zoe@beta.io,2025-02-03 10:00:00\n", encoding="utf-8")
    import_csv(export, crm_ws, typeform)
    assert rows(crm_ws, "SELECT response_id, account_id, score, source FROM survey_responses") == [
        ("typeform:abc1", "H2", 9.0, "typeform")]


def test_out_and_cli(tmp_path: Path, crm_ws: Path) -> None:
    assert import_to_data_dir(EXPORT, tmp_path / "out", DELIGHTED) == {"accounts": 5, "survey_responses": 6}
    header = (tmp_path / "out" / "survey_responses.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("response_id,account_id,survey,score,responded_at")
    r = runner.invoke(app, ["import", "delighted", str(EXPORT), "--workspace", str(crm_ws)])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "survey_responses │ 6" in text and "1 answer(s) with no account property or e-mail" in text
