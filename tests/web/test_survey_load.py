"""The load script itself, briefly: every acknowledged answer is stored (bench/survey_load.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "survey_load.py"


@pytest.mark.slow
def test_load_script_loses_no_acknowledged_answer(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("survey_load", SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    ws = mod.make_workspace(tmp_path, 20)
    res = mod.run(2.0, 2, ws, [f"L{i:05d}" for i in range(20)], kill=True)
    assert res["answers"] > 0
    assert res["lost"] == 0 and res["duplicates"] == 0 and res["errors"] == 0
