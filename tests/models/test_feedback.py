"""Feedback analysis on a fixed corpus: sentiment, themes, NPS impact, periods, outliers."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from csmetrics.cli.main import app
from csmetrics.io import load_data_dir
from csmetrics.models.feedback import FeedbackResult, analyze_feedback
from csmetrics.models.text import extract_themes, sentiment
from csmetrics.schema.errors import UsageError
from tests.metrics.helpers import write_dir
from tests.models.corpus import LABEL_WORDS, THEMES
from tests.models.feedback_data import HIGH_NEGATIVE, LOW_POSITIVE, NPS_RESPONSES, write_feedback_dir

TEXTS = [t for comments in THEMES.values() for t in comments]
TRUTH = [name for name, comments in THEMES.items() for _ in comments]


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> FeedbackResult:
    ds = load_data_dir(write_feedback_dir(tmp_path_factory.mktemp("fb")))
    try:
        return analyze_feedback(ds, grain="month", by="segment")
    finally:
        ds.backend.disconnect()


def test_sentiment_is_positive_for_praise_and_negative_for_complaints() -> None:
    s = sentiment(TEXTS)
    by_theme = {name: s[[i for i, t in enumerate(TRUTH) if t == name]] for name in THEMES}
    assert (by_theme["praise"] >= 0.5).all()
    for name in ("billing", "performance", "onboarding", "support"):
        assert by_theme[name].mean() < -0.05, name
        assert (by_theme[name] <= 0.05).all(), name
    # Domain lexicon: "support" is a topic here, not praise; "slow" is a complaint.
    assert sentiment(["Support answered my ticket."])[0] == 0.0
    assert sentiment(["The dashboard is slow."])[0] < -0.05


def test_themes_recover_the_five_planted_topics_with_readable_labels() -> None:
    model = extract_themes(TEXTS, random_state=0)
    assert model.n_themes == 5
    found: dict[str, int] = {}
    for name in THEMES:
        assigned = Counter(int(model.assignment[i]) for i, t in enumerate(TRUTH) if t == name)
        theme, count = assigned.most_common(1)[0]
        assert count >= 7, (name, assigned)  # at least 7 of its 8 comments together
        found[name] = theme
        assert set(model.terms[theme][:3]) & LABEL_WORDS[name], (name, model.terms[theme])
    assert len(set(found.values())) == 5  # five distinct themes
    for name, theme in found.items():
        assert len(model.examples[theme]) == 2
        assert all(TRUTH[i] == name for i in model.examples[theme])


def test_theme_extraction_is_deterministic_and_honours_a_fixed_count() -> None:
    a, b = extract_themes(TEXTS, random_state=0), extract_themes(TEXTS, random_state=0)
    assert np.array_equal(a.assignment, b.assignment) and a.terms == b.terms
    assert extract_themes(TEXTS, n_themes=3).n_themes == 3
    assert extract_themes(["ok", "fine", "meh"]).n_themes == 0


def test_nps_impact_is_the_theme_detractors_share_of_all_nps_answers(result: FeedbackResult) -> None:
    assert result.nps["responses"] == NPS_RESPONSES
    # promoters: 8 praise + the planted 10 = 9; detractors: 32 complaints + the planted 2 = 33.
    assert result.nps["nps"] == pytest.approx(100 * (9 - 33) / 52)
    complaints = [t for t in result.themes if t.kind == "complaint"]
    assert len(complaints) == 4
    for t in complaints:
        # 8 detractors each (the billing theme also holds the planted 10, a promoter).
        assert t.nps_detractors == 8 and t.nps_impact == pytest.approx(100 * 8 / 52)
        assert t.avg_sentiment < 0
    praise = next(t for t in result.themes if t.kind == "praise")
    assert praise.nps_detractors == 1 and praise.avg_score["nps"] == pytest.approx((8 * 10 + 2) / 9)
    assert sum(t.share for t in result.themes) == pytest.approx(1.0)


def test_planted_outliers_are_found_and_nothing_else(result: FeedbackResult) -> None:
    o = result.outliers
    assert sorted(o["id"]) == ["out-hi", "out-lo"]
    kinds = dict(zip(o["id"], o["outlier"], strict=True))
    assert kinds == {"out-hi": "high score, negative comment", "out-lo": "low score, positive comment"}
    assert set(o["text"]) == {HIGH_NEGATIVE, LOW_POSITIVE}


def test_per_period_and_group_counts_partition_the_comments(result: FeedbackResult) -> None:
    bp = result.by_period
    assert bp["comments"].sum() == len(result.comments) == 42
    jan = bp[bp["period"] == "2025-01"].groupby("theme_label")["comments"].sum()
    assert sorted(jan.tolist()) == [4, 4, 4, 4, 4]
    assert set(bp["group"]) == {"enterprise", "smb"}
    # shares within each (period, group) add up to 1
    assert np.allclose(bp.groupby(["period", "group"])["share"].sum(), 1.0)


def test_ticket_subjects_join_the_comments(tmp_path: Path) -> None:
    from tests.models.feedback_data import feedback_rows

    tickets = [{"ticket_id": f"t{i}", "account_id": "a1", "opened_at": "2025-01-05T10:00:00Z",
                "subject": text} for i, text in enumerate(THEMES["billing"][:3])]
    root = write_dir(tmp_path / "d", accounts=[{"account_id": f"a{i}"} for i in range(6)],
                     survey_responses=feedback_rows(), tickets=tickets)
    ds = load_data_dir(root)
    res = analyze_feedback(ds)
    assert (res.comments["source"] == "ticket").sum() == 3
    billing = next(t for t in res.themes if "billing" in t.terms[:3] or "invoice" in t.terms[:3])
    assert billing.comments == 12


def test_no_comment_is_a_usage_error(tmp_path: Path) -> None:
    root = write_dir(tmp_path / "d", survey_responses=[
        {"response_id": "r1", "account_id": "a1", "survey": "nps", "score": 9,
         "responded_at": "2025-01-01T00:00:00Z", "comment": ""}])
    with pytest.raises(UsageError, match="no comment"):
        analyze_feedback(load_data_dir(root))


def test_feedback_cli_json_and_table(tmp_path: Path) -> None:
    root = write_feedback_dir(tmp_path / "fb")
    runner = CliRunner()
    out = runner.invoke(app, ["feedback", "--data", str(root), "--period", "month", "--by", "segment",
                              "--format", "json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["comments"] == 42 and len(doc["themes"]) == 5 and len(doc["outliers"]) == 2
    assert {"label", "terms", "kind", "comments", "share", "avg_sentiment", "avg_score", "nps_impact",
            "examples"} <= set(doc["themes"][0])
    assert any(r["group"] == "smb" for r in doc["by_period"])
    table = runner.invoke(app, ["feedback", "--data", str(root)])
    assert table.exit_code == 0, table.output
    assert "themes (5)" in table.stdout and "outliers (2)" in table.stdout


def test_with_sentiment_praise_of_a_topic_is_not_merged_with_complaints_about_it() -> None:
    praise_support = [
        "Great support, they solved our issue in minutes.",
        "Wonderful support team, friendly and helpful answers.",
        "Great support and a helpful, friendly team.",
    ]
    texts = TEXTS + praise_support
    model = extract_themes(texts, sentiments=sentiment(texts))
    complaint_support = Counter(int(model.assignment[i]) for i, t in enumerate(TRUTH) if t == "support")
    theme = complaint_support.most_common(1)[0][0]
    assert model.polarity[theme] == "negative"
    for i in range(len(TEXTS), len(texts)):
        assert model.assignment[i] != theme
        assert model.assignment[i] == -1 or model.polarity[model.assignment[i]] == "positive"
    assert model.polarity.count("negative") == 4
