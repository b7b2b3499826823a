"""`csmetrics import segment`: rules U1-U7 of csmetrics.sources.segment on two tiny hand-written files.

tests/fixtures/segment/january.jsonl (8 messages and a blank line):
  m1 track A "Report Built" u1 2025-01-15T11:00:00+01:00   m2 track A Export u1 (repeated on line 8)
  m3 identify                                              m4 track A Export anonymousId anon-2
  m5 track B "Report Built" u3                             m6 page
  m7 track Share with no context.groupId
february.jsonl: m8 track A Share, m9 track C Export (properties.account_id 77), m10 page, m1 again.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import shutil
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import csmetrics
from csmetrics.cli.main import app
from csmetrics.io.dataset import ingest
from csmetrics.schema.errors import DataError
from csmetrics.sources.segment import SegmentSettings, import_path, import_to_data_dir

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "segment"
JAN = FIXTURES / "january.jsonl"
FEB = FIXTURES / "february.jsonl"
runner = CliRunner()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rows(ws: Path, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(ws), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def events(ws: Path) -> dict[str, tuple[object, ...]]:
    """usage_events by segment_message_id: (account_id, occurred_at, feature, user_id)."""
    return {r[0]: r[1:] for r in rows(ws, "SELECT segment_message_id, account_id, occurred_at, feature, user_id "
                                          "FROM usage_events")}


@pytest.fixture
def crm_ws(tmp_path: Path) -> Path:
    """A workspace whose accounts A (CSM ana) and B (CSM bo) came from a CRM export."""
    data = tmp_path / "crm"
    data.mkdir()
    (data / "accounts.csv").write_text("account_id,name,csm\nA,Acme,ana\nB,Beta,bo\n", encoding="utf-8")
    ws = tmp_path / "ws.duckdb"
    ingest(data, ws)
    return ws


def monthly(ws: Path, metrics: list[str], by: str | None = None) -> dict[tuple[str, str | None], list[float]]:
    df = csmetrics.compute(ws, metrics, "month", "2025-01-01", "2025-03-01", by=by, cache=False)
    out: dict[tuple[str, str | None], list[float]] = {}
    for (metric, group), part in df.groupby(["metric", "group"], dropna=False, sort=False):
        vals = dict(zip(part["period"], part["value"], strict=True))
        key = (str(metric), None if group is None or group != group else str(group))
        out[key] = [round(float(vals.get(m, 0.0)), 6) for m in ("2025-01", "2025-02")]
    return out


def test_u1_u3_u4_one_event_per_track_message(tmp_path: Path) -> None:
    ws = tmp_path / "ws.duckdb"
    result = import_path(JAN, ws)
    got = events(ws)
    # U1: m1 at 11:00 +01:00 is 10:00 UTC; m4 has no userId: its anonymousId is the user.
    assert got["m1"] == ("A", dt.datetime(2025, 1, 15, 10, 0), "Report Built", "u1")
    assert got["m4"] == ("A", dt.datetime(2025, 1, 31, 23, 59, 59), "Export", "anon-2")
    assert got["m5"] == ("B", dt.datetime(2025, 1, 2, 8, 0), "Report Built", "u3")
    # U6: m2 appears twice in the file, once in the table. U3/U4: m3, m6 and m7 are not events.
    assert sorted(got) == ["m1", "m2", "m4", "m5"]
    assert result.rows == {"accounts": 2, "usage_events": 4}
    assert "skipped 2 non-track message(s) (identify 1, page 1)" in result.notes
    assert any(n.startswith("1 track event(s) with no account left out") for n in result.notes)
    r = runner.invoke(app, ["sources", "--workspace", str(ws), "--format", "json"])
    doc = json.loads(r.output)[0]
    assert (doc["source"], doc["skipped_non_track"], doc["without_account"], doc["usage_events"]) == \
        ("segment", 2, 1, 4)


def test_u2_account_from_a_property_path(tmp_path: Path) -> None:
    toml = tmp_path / "csmetrics.toml"
    toml.write_text('[sources.segment]\naccount = "properties.account_id"\n', encoding="utf-8")
    ws = tmp_path / "ws.duckdb"
    import_path(FEB, ws, SegmentSettings.load(toml))
    got = events(ws)
    assert got["m9"][0] == "77"  # a JSON number is read as its text
    assert got["m8"][0] == "A"
    assert sorted(r[0] for r in rows(ws, "SELECT account_id FROM accounts")) == ["77", "A"]


def test_u2_a_bad_account_path_names_the_line(tmp_path: Path) -> None:
    toml = tmp_path / "csmetrics.toml"
    toml.write_text('base_currency = "USD"\n\n[sources.segment]\naccount = "type.x"\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"csmetrics.toml line 4, setting sources.segment.account: 'type.x' is not"):
        SegmentSettings.load(toml)


def test_u5_unknown_accounts_are_kept_and_shown_unmatched(crm_ws: Path) -> None:
    import_path(JAN, crm_ws)
    result = import_path(FEB, crm_ws)
    assert (result.matched, result.unmatched) == (2, 1)  # A and B are the CRM's; C is new
    accounts = {r[0]: r[1:] for r in rows(crm_ws, "SELECT account_id, name, csm, source FROM accounts")}
    assert accounts["A"] == ("Acme", "ana", None)  # the CRM's row is untouched
    assert accounts["C"] == (None, None, "segment")
    r = runner.invoke(app, ["sources", "--workspace", str(crm_ws), "--format", "json"])
    doc = json.loads(r.output)[0]
    assert (doc["matched"], doc["unmatched"], doc["unmatched_examples"]) == (2, 1, ["C"])


def test_usage_metrics_per_month_and_by_csm(crm_ws: Path) -> None:
    import_path(JAN, crm_ws)
    import_path(FEB, crm_ws)
    got = monthly(crm_ws, ["usage_accounts", "product_adoption_rate"])
    # Catalogue: Report Built, Export, Share = 3 features (m7's Share was left out, m8's counts).
    # January: A used Report Built + Export (2/3), B Report Built (1/3): mean 0.5.
    # February: A Share (1/3), C Export (1/3): mean 1/3.
    assert got[("usage_accounts", None)] == [2, 2]
    assert got[("product_adoption_rate", None)] == [0.5, round(1 / 3, 6)]
    by_csm = monthly(crm_ws, ["usage_accounts", "product_adoption_rate"], by="csm")
    assert by_csm[("product_adoption_rate", "ana")] == [round(2 / 3, 6), round(1 / 3, 6)]
    assert by_csm[("product_adoption_rate", "bo")][0] == round(1 / 3, 6)
    assert by_csm[("usage_accounts", "(none)")] == [0, 1]  # C, known to no CRM, in February


def test_u6_imports_are_additive_and_reimports_write_nothing(crm_ws: Path) -> None:
    first = import_path(JAN, crm_ws)
    assert first.changed
    before = digest(crm_ws)
    again = import_path(JAN, crm_ws)
    assert not again.changed and digest(crm_ws) == before
    second = import_path(FEB, crm_ws)
    assert second.changed and second.raw_changed == 3  # m8, m9 and page m10; m1 was stored already
    assert sorted(events(crm_ws)) == ["m1", "m2", "m4", "m5", "m8", "m9"]
    before = digest(crm_ws)
    assert not import_path(FEB, crm_ws).changed and not import_path(JAN, crm_ws).changed
    assert digest(crm_ws) == before
    r = runner.invoke(app, ["sources", "--workspace", str(crm_ws), "--format", "json"])
    doc = json.loads(r.output)[0]
    assert (doc["skipped_non_track"], doc["without_account"], doc["usage_events"]) == (3, 1, 6)


def test_other_usage_rows_are_kept(tmp_path: Path) -> None:
    data = tmp_path / "csv"
    data.mkdir()
    (data / "accounts.csv").write_text("account_id\nA\n", encoding="utf-8")
    (data / "usage_events.csv").write_text("account_id,occurred_at,feature\nA,2025-01-05T00:00:00Z,Import\n",
                                           encoding="utf-8")
    ws = tmp_path / "ws.duckdb"
    ingest(data, ws)
    import_path(JAN, ws)
    got = rows(ws, "SELECT feature, source FROM usage_events ORDER BY occurred_at")
    assert got[0] == ("Report Built", "segment") and ("Import", None) in got and len(got) == 5


def test_a_directory_is_read_recursively_and_gzip_is_read(tmp_path: Path) -> None:
    d = tmp_path / "export" / "2025" / "02"
    d.mkdir(parents=True)
    shutil.copy(JAN, tmp_path / "export" / "january.jsonl")
    with gzip.open(d / "february.json.gz", "wb") as fh:
        fh.write(FEB.read_bytes())
    (tmp_path / "export" / "README.txt").write_text("not events", encoding="utf-8")
    seen: list[tuple[str, int, bool]] = []
    ws = tmp_path / "ws.duckdb"
    import_path(tmp_path / "export", ws, progress=lambda kind, n, done: seen.append((kind, n, done)))
    assert sorted(events(ws)) == ["m1", "m2", "m4", "m5", "m8", "m9"]
    # One call per file (in path order: 2025/02/february.json.gz, then january.jsonl), the last one finished.
    assert seen == [("events", 4, False), ("events", 12, True)]


@pytest.mark.parametrize(("line", "message"), [
    ('{"type":"track","messageId":"x","event":"E","timestamp":"yesterday","context":{"groupId":"A"}}',
     "line 3, field timestamp: 'yesterday' is not an ISO 8601 timestamp"),
    ('{"type":"track","messageId":"x","timestamp":"2025-01-01T00:00:00Z","context":{"groupId":"A"}}',
     "line 3, field event: is missing or empty"),
    ('{"messageId":"x","event":"E","timestamp":"2025-01-01T00:00:00Z"}',
     "line 3, field type: is missing or not a text"),
    ('{"type":"track", "event": ', "line 3: is not valid JSON"),
    ('["track"]', "line 3: is not a JSON object"),
])
def test_u7_a_bad_line_names_file_line_and_field_exits_2_and_writes_nothing(
        crm_ws: Path, tmp_path: Path, line: str, message: str) -> None:
    bad = tmp_path / "bad.jsonl.gz"
    good = FEB.read_text(encoding="utf-8").splitlines()
    with gzip.open(bad, "wt", encoding="utf-8") as fh:
        fh.write("\n".join([*good[:2], line, *good[2:]]) + "\n")
    before = digest(crm_ws)
    r = runner.invoke(app, ["import", "segment", str(bad), "--workspace", str(crm_ws)])
    assert r.exit_code == 2, r.output
    assert f"bad.jsonl.gz {message}" in " ".join(r.output.split())
    assert digest(crm_ws) == before


def test_a_path_with_no_event_files_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    r = runner.invoke(app, ["import", "segment", str(tmp_path / "empty"), "--workspace", str(tmp_path / "w.duckdb")])
    assert r.exit_code == 2 and "holds no .json, .jsonl or .ndjson file" in " ".join(r.output.split())
    assert not (tmp_path / "w.duckdb").exists()


def test_out_writes_contract_csv_files(tmp_path: Path) -> None:
    counts = import_to_data_dir(JAN, tmp_path / "out")
    assert counts == {"accounts": 2, "usage_events": 4}
    lines = (tmp_path / "out" / "usage_events.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "account_id,occurred_at,feature,user_id,source,segment_message_id"
    assert lines[1] == "B,2025-01-02 08:00:00,Report Built,u3,segment,m5"
    ws = tmp_path / "ws.duckdb"
    ingest(tmp_path / "out", ws)
    assert rows(ws, "SELECT count(*) FROM usage_events") == [(4,)]


def test_cli_import_summary(tmp_path: Path) -> None:
    r = runner.invoke(app, ["import", "segment", str(JAN), "--workspace", str(tmp_path / "w.duckdb")])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "usage_events │ 4" in text and "skipped 2 non-track message(s) (identify 1, page 1)" in text
    r = runner.invoke(app, ["sync", "segment", "--workspace", str(tmp_path / "w.duckdb")])
    assert r.exit_code == 2 and "use `csmetrics import segment PATH`" in " ".join(r.output.split())


LINES = [line for f in (JAN, FEB) for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations(range(len(LINES))), cut=st.integers(min_value=0, max_value=len(LINES)))
def test_any_split_of_the_messages_into_two_imports_gives_the_same_events(
        tmp_path_factory: pytest.TempPathFactory, order: list[int], cut: int) -> None:
    """Invariant of rule U6: events are a set keyed by messageId, whatever files carry them, in any order."""
    d = tmp_path_factory.mktemp("split")
    shuffled = [LINES[i] for i in order]
    (d / "a.jsonl").write_text("\n".join(shuffled[:cut]) + "\n", encoding="utf-8")
    (d / "b.jsonl").write_text("\n".join(shuffled[cut:]) + "\n", encoding="utf-8")
    ws = d / "ws.duckdb"
    import_path(d / "a.jsonl", ws)
    import_path(d / "b.jsonl", ws)
    assert sorted(events(ws)) == ["m1", "m2", "m4", "m5", "m8", "m9"]
    assert rows(ws, "SELECT type, count(*) FROM _segment_objects GROUP BY type ORDER BY type") == [
        ("non_track", 3), ("without_account", 1)]
