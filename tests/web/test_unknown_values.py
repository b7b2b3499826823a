"""Unknown filter values are errors naming the valid values, not empty reports; usage errors exit 2.

The web test company has segments enterprise, mid-market, smb and CSMs Alice Ng, Bruno Diaz, Chen Li,
Dana Fox; by default the pages show the 12 months 2025-07 to 2026-06 (the pinned today is 2026-06-15).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from typer.testing import CliRunner

from csmetrics.cli.main import app as cli

runner = CliRunner()
SEGMENTS = "expected one of enterprise, mid-market, smb"
CSMS = "expected one of Alice Ng, Bruno Diaz, Chen Li, Dana Fox"


def _said(text: str) -> str:
    return " ".join(text.split())


def test_a_bridge_month_outside_the_range_is_a_400_with_the_reason(shared_client: TestClient) -> None:
    r = shared_client.get("/revenue", params={"bridge": "2025-05"})
    assert r.status_code == 400
    assert str(escape("bridge '2025-05' is not a month of the range shown (2025-07 to 2026-06)")) in r.text
    assert "MRR bridge of" not in r.text


def test_a_bridge_month_inside_the_range_is_the_one_shown(shared_client: TestClient) -> None:
    r = shared_client.get("/revenue", params={"bridge": "2025-05", "start": "2025-01-01"})
    assert r.status_code == 200
    assert "MRR bridge of 2025-05" in r.text and "<option selected>2025-05</option>" in r.text
    # Without bridge: the latest month with a movement (not 2025-05).
    assert "MRR bridge of 2025-05" not in shared_client.get("/revenue", params={"start": "2025-01-01"}).text


@pytest.mark.parametrize("path", ["/", "/revenue", "/retention", "/customers", "/csms", "/feedback",
                                  "/accounts/A0001", "/explain/mrr"])
def test_an_unknown_segment_on_a_page_is_a_400_naming_the_valid_ones(shared_client: TestClient, path: str) -> None:
    r = shared_client.get(path, params={"segment": "nosuch"})
    assert r.status_code == 400
    assert str(escape(f"unknown segment 'nosuch': {SEGMENTS}")) in r.text


def test_an_unknown_csm_or_health_colour_on_customers_is_a_400(shared_client: TestClient) -> None:
    r = shared_client.get("/customers", params={"csm": "Zed"})
    assert r.status_code == 400 and str(escape(f"unknown csm 'Zed': {CSMS}")) in r.text
    r = shared_client.get("/customers", params={"health": "purple"})
    assert r.status_code == 400
    assert str(escape("unknown health colour 'purple': expected one of green, yellow, red")) in r.text
    # Known values and the form's empty "all" still work.
    ok = shared_client.get("/customers", params={"csm": "Chen Li", "health": "", "segment": "smb"})
    # Chen Li (i % 4 == 2) and smb (i % 3 == 0): i = 6, 18, 30, 42, 54, 66, 78.
    assert ok.status_code == 200 and "7 account(s)" in ok.text


def test_unknown_segment_or_csm_on_the_api_is_a_400_naming_the_valid_ones(shared_client: TestClient) -> None:
    r = shared_client.get("/api/v1/accounts", params={"segment": "nosuch"})
    assert r.status_code == 400 and r.json()["detail"] == f"unknown segment 'nosuch': {SEGMENTS}"
    r = shared_client.get("/api/v1/accounts", params={"csm": "Zed"})
    assert r.status_code == 400 and r.json()["detail"] == f"unknown csm 'Zed': {CSMS}"
    # A known segment: exactly its accounts (i % 3 == 0 is smb: A0000, A0003, ... of 80 accounts = 27).
    smb = shared_client.get("/api/v1/accounts", params={"segment": "smb"}).json()
    assert len(smb) == 27 and {r["segment"] for r in smb} == {"smb"}


def test_a_long_unknown_value_is_not_echoed_whole(shared_client: TestClient) -> None:
    r = shared_client.get("/api/v1/accounts", params={"segment": "x" * 190})
    assert r.status_code == 400 and "x" * 80 + "..." in r.json()["detail"] and "x" * 81 not in r.json()["detail"]


def test_report_with_an_unknown_segment_exits_2_naming_the_valid_ones(workspace: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    res = runner.invoke(cli, ["report", "--workspace", str(workspace), "--out", str(out), "--segment", "nosuch"])
    assert res.exit_code == 2
    assert f"unknown segment 'nosuch': {SEGMENTS}" in _said(res.output)
    assert not out.exists()


def test_survey_link_with_an_unknown_survey_is_a_usage_error(workspace: Path) -> None:
    res = runner.invoke(cli, ["survey", "link", "--workspace", str(workspace), "--account", "A0001",
                              "--survey", "foo"])
    assert res.exit_code == 2
    assert "--survey 'foo': unknown survey, expected one of nps, csat, ces" in _said(res.output)
    assert "/survey/" not in res.stdout
