"""The planted comment themes and outliers of the demo company come out of `feedback`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from csmetrics import demo
from csmetrics.io import load_data_dir
from csmetrics.models.feedback import analyze_feedback


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    demo.generate(out, accounts=300, seed=0, end=dt.date(2026, 1, 1))
    return out


def test_every_planted_complaint_theme_is_a_complaint_theme(demo_dir: Path) -> None:
    ds = load_data_dir(demo_dir)
    try:
        res = analyze_feedback(ds)
    finally:
        ds.backend.disconnect()
    complaint_words = [set(" ".join(t.terms).split()) for t in res.themes if t.kind == "complaint"]
    for theme, phrases in demo.PLANTED["themes"].items():
        words = {w for p in phrases for w in p.split()}
        assert any(words & found for found in complaint_words), (theme, complaint_words)
    praise_words = set(" ".join(" ".join(t.terms) for t in res.themes if t.kind == "praise").split())
    assert {"easy", "support", "dashboards"} & praise_words
    # every planted outlier is flagged
    r = pd.read_csv(demo_dir / "survey_responses.csv")
    planted = demo.PLANTED["outliers"]
    texts = set(planted["negative_comments"]) | set(planted["positive_comments"])
    ids = set(r.loc[r["comment"].isin(texts), "response_id"])
    assert ids and ids <= set(res.outliers["id"])
