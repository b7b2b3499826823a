"""The connector framework shared by every source: who names an account, live matching, settings, no-op re-landing.

Two toy sources play a CRM (``crm``, authority) and a help desk (``desk``): the
framework's rules are checked on hand-made objects, independent of any vendor.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from csmetrics.schema.errors import DataError
from csmetrics.sources.settings import read_section
from csmetrics.sources.status import status
from csmetrics.sources.workspace import RawObject, land_objects, open_landing
from tests.sources.stripe.conftest import digest


def _objects(rows: list[dict[str, str | None]]) -> list[RawObject]:
    return [RawObject("org", r["id"] or "", "", 1735689600, json.dumps(r, sort_keys=True, separators=(",", ":")))
            for r in rows]


def _mapper(source: str):  # type: ignore[no-untyped-def]
    def mapper(con: duckdb.DuckDBPyConnection, raw: str) -> dict[str, str]:
        con.execute(f"""CREATE OR REPLACE TEMP TABLE m_{source}_accounts AS
            SELECT json_extract_string(body, '$.id') AS account_id, json_extract_string(body, '$.name') AS name,
                   json_extract_string(body, '$.csm') AS csm, '{source}' AS source
            FROM {raw} ORDER BY account_id""")
        return {"accounts": f"m_{source}_accounts"}
    return mapper


def _land(ws: Path, source: str, rows: list[dict[str, str | None]], authority: bool) -> None:
    land = open_landing(ws, source, authority=authority)
    try:
        land_objects(land, _objects(rows), _mapper(source), cursors={})
    finally:
        land.close()


CRM = [{"id": "1", "name": "Acme Corp", "csm": "Ann Lee"}, {"id": "2", "name": "Globex", "csm": None}]
DESK = [{"id": "1", "name": "acme support org", "csm": "desk agent"}, {"id": "2", "name": "globex org", "csm": "Bo"},
        {"id": "9", "name": "Initech", "csm": None}]


def _accounts(ws: Path) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(ws), read_only=True)
    try:
        return con.execute("SELECT account_id, name, csm, source FROM accounts ORDER BY account_id").fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("crm_first", [True, False])
def test_the_crm_names_the_account_whatever_the_order(tmp_path: Path, crm_first: bool) -> None:
    ws = tmp_path / "ws.duckdb"
    order = [("crm", CRM, True), ("desk", DESK, False)]
    for source, rows, authority in order if crm_first else order[::-1]:
        _land(ws, source, rows, authority)
    # 1: the CRM's name and CSM; 2: the CRM's name, its empty CSM filled by the desk; 9: the desk's own account
    assert _accounts(ws) == [("1", "Acme Corp", "Ann Lee", "crm"), ("2", "Globex", "Bo", "crm"),
                             ("9", "Initech", None, "desk")]


def test_sources_reports_live_matches_with_examples(tmp_path: Path) -> None:
    ws = tmp_path / "ws.duckdb"
    _land(ws, "desk", DESK, False)
    before = {r["source"]: r for r in status(ws)}
    assert (before["desk"]["matched"], before["desk"]["unmatched"]) == (0, 3)  # no CRM yet: nobody else knows them
    _land(ws, "crm", CRM, True)
    rows = {r["source"]: r for r in status(ws)}
    assert (rows["desk"]["matched"], rows["desk"]["unmatched"]) == (2, 1)
    assert rows["desk"]["unmatched_examples"] == ["9 (Initech)"]
    assert rows["desk"]["accounts"] == 3 and rows["crm"]["accounts"] == 2
    assert rows["crm"]["matched"] is None and rows["crm"]["unmatched"] is None  # the CRM defines the accounts
    assert rows["crm"]["stale"] is False and rows["crm"]["staleness_days"] == 0.0  # clock pinned in conftest
    assert list(rows) == ["crm", "desk"]


def test_staleness_against_max_age(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = tmp_path / "ws.duckdb"
    _land(ws, "crm", CRM, True)
    monkeypatch.setenv("CSMETRICS_NOW", "2026-06-18T12:00:00+00:00")  # three days after the pinned sync
    row = status(ws, {"crm": 5})[0]
    assert (row["staleness_days"], row["max_age_days"], row["stale"]) == (3.0, 5, False)
    assert status(ws, {"crm": 2.5})[0]["stale"] is True
    assert status(ws)[0]["stale"] is True  # default maximum: 2 days


def test_relanding_the_same_objects_writes_nothing(tmp_path: Path) -> None:
    ws = tmp_path / "ws.duckdb"
    _land(ws, "crm", CRM, True)
    _land(ws, "desk", DESK, False)
    before = digest(ws)
    _land(ws, "crm", CRM, True)
    _land(ws, "desk", DESK, False)
    assert digest(ws) == before


def test_settings_defects_name_file_line_and_key(tmp_path: Path) -> None:
    cfg = tmp_path / "csmetrics.toml"
    cfg.write_text('base_currency = "EUR"\n\n[sources.desk]\nsubdomain = 3\ncolour = "red"\nmax_age_days = 0\n',
                   encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_section(cfg, "desk", {"subdomain": str})
    got = {(d.column, d.row) for d in err.value.defects}
    assert got == {("sources.desk.subdomain", 4), ("sources.desk.colour", 5), ("sources.desk.max_age_days", 6)}
    cfg.write_text('base_currency = "EUR"\n[sources.desk]\nsubdomain = "acme"\nmax_age_days = 7\n', encoding="utf-8")
    section = read_section(cfg, "desk", {"subdomain": str})
    assert (section.values["subdomain"], section.max_age_days, section.base.base_currency) == ("acme", 7.0, "EUR")
