"""A small company whose survey comments are the fixed corpus, with planted outliers.

Arithmetic the tests rely on: 40 corpus comments over two months (January:
the first four of each theme, February: the last four). Complaints are NPS
answers scoring 4 (detractors); praise scores 10 (promoters). Two planted
outliers are NPS answers: a 10 with a clearly negative billing comment, and a
2 with a clearly positive comment. Ten more NPS answers without comment score
8 (passives). NPS responses: 40 + 2 + 10 = 52.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.metrics.helpers import write_dir
from tests.models.corpus import THEMES

HIGH_NEGATIVE = "Terrible billing, we were charged twice and the invoice is wrong. Awful and frustrating."
LOW_POSITIVE = "Great people, love the product and the team is wonderful, really happy with it!"
NPS_RESPONSES = 52


def feedback_rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    n = 0
    for theme, comments in THEMES.items():
        for i, text in enumerate(comments):
            n += 1
            month = "01" if i < 4 else "02"
            rows.append({
                "response_id": f"r{n:03d}", "account_id": f"a{n % 6}", "survey": "nps",
                "score": 10 if theme == "praise" else 4, "responded_at": f"2025-{month}-{10 + i:02d}T12:00:00Z",
                "comment": text,
            })
    rows.append({"response_id": "out-hi", "account_id": "a1", "survey": "nps", "score": 10,
                 "responded_at": "2025-02-20T09:00:00Z", "comment": HIGH_NEGATIVE})
    rows.append({"response_id": "out-lo", "account_id": "a2", "survey": "nps", "score": 2,
                 "responded_at": "2025-02-21T09:00:00Z", "comment": LOW_POSITIVE})
    for i in range(10):
        rows.append({"response_id": f"p{i}", "account_id": f"a{i % 6}", "survey": "nps", "score": 8,
                     "responded_at": "2025-01-25T09:00:00Z", "comment": ""})
    return rows


def write_feedback_dir(root: Path) -> Path:
    accounts = [{"account_id": f"a{i}", "segment": "smb" if i % 2 else "enterprise"} for i in range(6)]
    return write_dir(root, accounts=accounts, survey_responses=feedback_rows())
