"""Property tests: a defect injected anywhere is reported exactly there, and only there."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csmetrics.io import load_data_dir
from csmetrics.io.validate import TRIMMED
from csmetrics.schema.tables import TABLES, Column
from tests.io.helpers import VALID, copy_valid, defects, read_rows, set_cell, write_rows

# Each example validates a whole directory (~0.3 s): enough examples to cover the catalogue over runs.
SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def bad_values(col: Column) -> list[str]:
    """Values that break ``col`` on their own, without making another check fire."""
    values = [""] if col.required else []
    if col.type in ("date", "timestamp"):
        values += ["2025-02-30", "2025-13-01", "yesterday", "01/02/2025", "infinity"]
    elif col.type in ("double", "integer"):
        values += ["abc", "1,5", "inf", "NaN"]
        if col.min is not None:
            values.append(str(col.min - 1))
        if col.max is not None:
            values.append(str(col.max + 0.5))
        if col.type == "integer":
            values.append("2.5")
    if col.choices:
        values += ["bogus", "month-ish"]
    return values


INJECTIONS = [
    (f"{name}.csv", row, col.name, value)
    for name, spec in TABLES.items()
    for col in spec.columns
    if col.name in read_rows(VALID / f"{name}.csv")[0]
    for row in range(2, len(read_rows(VALID / f"{name}.csv")) + 1)
    for value in bad_values(col)
]


@SETTINGS
@given(st.lists(st.sampled_from(INJECTIONS), min_size=1, max_size=4, unique_by=lambda i: (i[0], i[1], i[2])))
def test_injected_defects_are_reported_at_their_cells(injections: list[tuple[str, int, str, str]]) -> None:
    with tempfile.TemporaryDirectory(prefix="csm-io-prop-") as tmp:
        data = copy_valid(Path(tmp) / "data")
        for file, row, column, value in injections:
            set_cell(data, file, row, column, value)
        found = {(d.file, d.row, d.column) for d in defects(data)}
    assert found == {(file, row, column) for file, row, column, _ in injections}


comments = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)


@SETTINGS
@given(st.lists(comments, min_size=1, max_size=30), st.data())
def test_rows_stay_exact_whatever_the_text_holds(texts: list[str], data: st.DataObject) -> None:
    """Quotes, commas, line breaks and blank lines in text never shift the row numbers."""
    bad = data.draw(st.integers(0, len(texts) - 1))
    rows = [["response_id", "account_id", "survey", "score", "responded_at", "comment"]]
    rows += [[f"R{i}", "A1", "nps", "11" if i == bad else "7", "2025-01-01", t] for i, t in enumerate(texts)]
    with tempfile.TemporaryDirectory(prefix="csm-io-prop-") as tmp:
        others = ("subscriptions", "charges", "tickets", "usage_events", "renewals", "costs", "fx_rates")
        root = copy_valid(Path(tmp) / "data", *others)
        write_rows(root / "survey_responses.csv", rows, end=data.draw(st.sampled_from(["\n", "\r\n"])))
        [d] = defects(root)
        assert (d.file, d.row, d.column) == ("survey_responses.csv", bad + 2, "score")
        set_cell(root, "survey_responses.csv", bad + 2, "score", "7")
        ds = load_data_dir(root)
        try:
            loaded = ds.table("survey_responses").execute()
        finally:
            ds.backend.disconnect()  # its spill directory goes now, not whenever the dataset is collected
    assert loaded.response_id.tolist() == [f"R{i}" for i in range(len(texts))]
    assert [c if isinstance(c, str) else "" for c in loaded.comment] == [t.strip(TRIMMED) for t in texts]
