"""`serve --data` removes its temporary workspace when stopped by SIGTERM (what a process manager sends),
as it does on Ctrl+C (SIGINT). A real server process; TMPDIR points where the workspace is made."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from tests.web.serving import serving


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_shuts_serve_down_and_removes_its_temporary_workspace(
    company_dir: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    with serving("--data", str(company_dir), env={"TMPDIR": str(tmp)}) as srv:
        made = sorted(tmp.glob("csmetrics-serve-*"))
        assert len(made) == 1 and (made[0] / "workspace.duckdb").is_file()
        assert f"temporary workspace {made[0]}" in "".join(srv.stderr)  # where it is, said on stderr
        r = httpx.get(f"{srv.base}/api/v1/metrics", params={"metrics": "mrr", "last": "1"},
                      headers={"Authorization": f"Bearer {srv.token}"})
        assert r.status_code == 200 and r.json()[0]["period"] == "2026-06"
        srv.proc.send_signal(sig)
        code = srv.proc.wait(timeout=60)
        assert srv.proc.stderr is not None
        said = srv.proc.stderr.read()
    assert code == 0, said
    assert not made[0].exists(), said
    assert not list(tmp.glob("csmetrics-serve-*"))
    assert "Traceback" not in said
