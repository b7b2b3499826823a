"""`csmetrics import stripe`: the fixture account's monthly MRR movements equal the hand-computed ones."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import csmetrics
from csmetrics.cli.main import app
from csmetrics.io.dataset import ingest
from csmetrics.schema.errors import DataError
from csmetrics.sources.stripe import import_dir
from csmetrics.sources.stripe.pipeline import StripeSettings
from tests.sources.stripe.account import CUSTOMER_MRR, EXPECTED, MONTHS, write
from tests.sources.stripe.conftest import digest, table_rows

runner = CliRunner()


def monthly(ws: Path, metrics: list[str], by: str | None = None) -> dict[tuple[str, str | None], list[float]]:
    df = csmetrics.compute(ws, metrics, "month", "2025-01-01", "2025-07-01", by=by, cache=False)
    out: dict[tuple[str, str | None], list[float]] = {}
    for (metric, group), part in df.groupby(["metric", "group"], dropna=False, sort=False):
        vals = dict(zip(part["period"], part["value"], strict=True))
        out[(str(metric), None if group is None or group != group else str(group))] = [
            round(float(vals[m]), 6) for m in MONTHS]
    return out


def test_import_gives_the_hand_computed_mrr_movements(fx_workspace: Path, account_dir: Path) -> None:
    import_dir(account_dir, fx_workspace)
    got = monthly(fx_workspace, list(EXPECTED))
    for metric, want in EXPECTED.items():
        assert got[(metric, None)] == want, metric


def test_each_customer_has_its_hand_computed_mrr(fx_workspace: Path, account_dir: Path) -> None:
    import_dir(account_dir, fx_workspace)
    got = monthly(fx_workspace, ["mrr"], by="stripe_customer_id")
    for cus, want in CUSTOMER_MRR.items():
        assert got.get(("mrr", cus), [0.0] * 6) == want, cus


def test_the_fixture_directory_is_the_builders_output(tmp_path: Path, account_dir: Path) -> None:
    built = write(tmp_path / "built")
    assert sorted(p.name for p in built.iterdir()) == sorted(p.name for p in account_dir.iterdir())
    for p in built.iterdir():
        assert p.read_text() == (account_dir / p.name).read_text(), p.name


def test_reimport_changes_nothing(fx_workspace: Path, account_dir: Path) -> None:
    import_dir(account_dir, fx_workspace)
    before = digest(fx_workspace)
    result = import_dir(account_dir, fx_workspace)
    assert not result.changed and digest(fx_workspace) == before


def test_other_tables_and_other_sources_rows_are_kept(tmp_path: Path, account_dir: Path) -> None:
    data = tmp_path / "crm"
    data.mkdir()
    (data / "accounts.csv").write_text("account_id,name,segment,csm\ncus_A,Acme (CRM),strategic,ana\n"
                                       "X-1,Other Co,smb,bo\n", encoding="utf-8")
    (data / "tickets.csv").write_text("ticket_id,account_id,opened_at,contacts\nT1,cus_A,2025-02-01T10:00:00Z,1\n",
                                      encoding="utf-8")
    (data / "subscriptions.csv").write_text("subscription_id,account_id,started_at,amount\n"
                                            "S1,X-1,2025-01-01,10\n", encoding="utf-8")
    (data / "fx_rates.csv").write_text("currency,date,rate\nJPY,2024-12-01,0.007\n", encoding="utf-8")
    ws = tmp_path / "ws.duckdb"
    ingest(data, ws)
    result = import_dir(account_dir, ws)
    assert result.matched == 1  # cus_A was already stored by the CRM ingest
    accounts = {r[0]: r for r in table_rows(ws, "accounts", "account_id")}
    # The CRM's values win; Stripe only fills what the CRM left empty (created_at, email...).
    assert accounts["cus_A"][1:4] == ("Acme (CRM)", accounts["cus_A"][2], "strategic")
    assert accounts["cus_A"][2] is not None and "X-1" in accounts
    assert table_rows(ws, "tickets", "ticket_id")[0][0] == "T1"
    subs = [r[0] for r in table_rows(ws, "subscriptions", "subscription_id")]
    assert "S1" in subs and "si_A@2025-01-01" in subs
    # 2410 (Stripe, January) + 10 (the CRM's S1)
    assert monthly(ws, ["mrr"])[("mrr", None)][0] == 2420


def test_account_id_from_a_metadata_key(fx_workspace: Path, account_dir: Path, tmp_path: Path) -> None:
    toml = tmp_path / "csmetrics.toml"
    toml.write_text('[sources.stripe]\naccount_id = "metadata.account_id"\n', encoding="utf-8")
    result = import_dir(account_dir, fx_workspace, StripeSettings.load(toml))
    ids = [r[0] for r in table_rows(fx_workspace, "accounts", "account_id")]
    assert "ACC-A" in ids and "cus_P" in ids  # cus_P has no account_id key: keeps its customer id
    assert result.unmatched == 1
    assert monthly(fx_workspace, ["mrr"])[("mrr", None)] == EXPECTED["mrr"]


def test_metadata_keys_become_account_columns(fx_workspace: Path, account_dir: Path) -> None:
    import_dir(account_dir, fx_workspace)
    got = monthly(fx_workspace, ["mrr"], by="tier")
    # gold: A 100 + F 80 + K 30 in January
    assert got[("mrr", "gold")][0] == 210
    by_segment = monthly(fx_workspace, ["mrr"], by="segment")
    assert by_segment[("mrr", "smb")][0] == 100 + 100 + 1300 + 365  # A B D E


def test_cli_import_and_out(tmp_path: Path, fx_workspace: Path, account_dir: Path) -> None:
    r = runner.invoke(app, ["import", "stripe", str(account_dir), "--workspace", str(fx_workspace)])
    assert r.exit_code == 0, r.output
    assert "subscriptions" in r.output and "21" in r.output
    out = tmp_path / "out"
    r = runner.invoke(app, ["import", "stripe", str(account_dir), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert (out / "subscriptions.csv").read_text().splitlines()[0].startswith("subscription_id,account_id")
    r = runner.invoke(app, ["sources", "--workspace", str(fx_workspace), "--format", "json"])
    doc = json.loads(r.output)
    assert doc[0]["source"] == "stripe" and doc[0]["subscriptions"] == 21 and doc[0]["charges"] == 2


@pytest.mark.parametrize(("file", "content", "message"), [
    ("invoices.json", '{"id": "in_1", "object": "invoice"\n', "invoices.json line 1: is not valid JSON"),
    ("customers.json", '{"object": "list", "data": [\n{"id": "cus_1", "object": "customer", "created": 1},\n'
     '{"id": "cus_2", "object": "customer", "created": "yesterday"}]}\n',
     "customers.json object 1, field created: 'yesterday' is not an integer"),
    ("charges.json", '{"id": "ch_1", "object": "refund", "amount": 1, "created": 1, "currency": "usd", '
     '"status": "succeeded"}\n', "charges.json line 1, field object: 'refund' is the wrong object type"),
])
def test_bad_files_name_file_position_and_field_and_write_nothing(
        tmp_path: Path, fx_workspace: Path, account_dir: Path, file: str, content: str, message: str) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(account_dir, bad)
    (bad / file).write_text(content, encoding="utf-8")
    before = digest(fx_workspace)
    r = runner.invoke(app, ["import", "stripe", str(bad), "--workspace", str(fx_workspace)])
    assert r.exit_code == 2
    assert message in r.output
    assert digest(fx_workspace) == before


def test_a_nested_line_field_is_named(tmp_path: Path, account_dir: Path) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(account_dir, bad)
    lines = (bad / "invoices.json").read_text().splitlines()
    doc = json.loads(lines[2])
    doc["lines"]["data"][0]["period"]["start"] = "2025-01-01"
    lines[2] = json.dumps(doc)
    (bad / "invoices.json").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"invoices.json line 3, field lines.data\[0\].period.start"):
        import_dir(bad, tmp_path / "ws.duckdb")
    assert not (tmp_path / "ws.duckdb").exists()


def test_a_missing_fx_rate_is_the_ingest_error_and_writes_nothing(tmp_path: Path, account_dir: Path) -> None:
    ws = tmp_path / "ws.duckdb"
    with pytest.raises(DataError, match=r"subscriptions mapped from stripe row \d+, column currency: 'JPY' has no fx "
                                        r"rate on or before 2025-01-01 .*stripe_lines in_N_1/il_N_1_1"):
        import_dir(account_dir, ws)
    assert not ws.exists()
