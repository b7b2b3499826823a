"""Re-ingesting usage events: the anti-join reads only stored rows in the new rows' time range.

csmetrics.io.dataset._insert_new restricts the stored side of the
de-duplication to ``occurred_at`` between the new rows' first and last time.
A stored row can equal a new one only inside that range, so the rows stored
are exactly those of a full comparison: checked here by key (every row read
back), at the edges of the range and with repeats inside a file.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import duckdb
from hypothesis import given
from hypothesis import strategies as st

from csmetrics.io import ingest
from tests.io.helpers import write_rows
from tests.io.test_fast_path import SETTINGS

HEADER = ["account_id", "occurred_at", "feature", "user_id"]


def stored(ws: Path) -> list[tuple[str, dt.datetime, str, str | None]]:
    con = duckdb.connect(str(ws), read_only=True)
    try:
        return con.execute("SELECT account_id, occurred_at, feature, user_id FROM usage_events "
                           "ORDER BY ALL").fetchall()
    finally:
        con.close()


def feed(root: Path, rows: list[list[str]]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    write_rows(root / "accounts.csv", [["account_id"], ["A1"], ["A2"]])
    write_rows(root / "usage_events.csv", [HEADER, *rows])
    return root


def at(day: int, hour: int = 9) -> str:
    return f"2025-03-{day:02d}T{hour:02d}:00:00Z"


def test_delta_adds_only_new_rows_at_the_edges_of_its_range(tmp_path: Path) -> None:
    ws = tmp_path / "ws.duckdb"
    first = [["A1", at(1), "reports", "u1"], ["A1", at(5), "reports", "u1"], ["A2", at(5), "export", ""],
             ["A1", at(9), "reports", "u1"], ["A2", at(20), "export", "u2"]]
    ingest(feed(tmp_path / "first", first), ws)
    # The delta spans March 5 09:00 to March 9 09:00: its first and last rows are stored already
    # (at the range's edges), one row differs from a stored one only by user_id, one repeats in the file,
    # and the stored rows of March 1 and 20 lie outside its range.
    delta = [["A1", at(5), "reports", "u1"], ["A2", at(5), "export", ""], ["A2", at(5), "export", "u9"],
             ["A1", at(7), "alerts", "u1"], ["A1", at(7), "alerts", "u1"], ["A1", at(9), "reports", "u1"]]
    counts = ingest(feed(tmp_path / "delta", delta), ws)
    assert counts["usage_events"] == {"read": 6, "stored": 7}
    t = dt.datetime
    assert stored(ws) == [
        ("A1", t(2025, 3, 1, 9), "reports", "u1"),
        ("A1", t(2025, 3, 5, 9), "reports", "u1"),
        ("A1", t(2025, 3, 7, 9), "alerts", "u1"),
        ("A1", t(2025, 3, 9, 9), "reports", "u1"),
        ("A2", t(2025, 3, 5, 9), "export", "u9"),
        ("A2", t(2025, 3, 5, 9), "export", None),  # (NULLs sort last)
        ("A2", t(2025, 3, 20, 9), "export", "u2"),
    ]
    # The same delta again changes nothing.
    assert ingest(feed(tmp_path / "delta", delta), ws)["usage_events"] == {"read": 6, "stored": 7}


events = st.lists(st.tuples(st.sampled_from(["A1", "A2"]), st.integers(1, 28), st.integers(0, 23),
                            st.sampled_from(["reports", "export"]), st.sampled_from(["u1", ""])),
                  min_size=1, max_size=12)


@SETTINGS
@given(events, events)
def test_two_ingests_store_the_union_of_distinct_rows(first: list[tuple[str, int, int, str, str]],
                                                     second: list[tuple[str, int, int, str, str]]) -> None:
    def rows(evs: list[tuple[str, int, int, str, str]]) -> list[list[str]]:
        return [[a, at(d, h), f, u] for a, d, h, f, u in evs]

    with tempfile.TemporaryDirectory(prefix="csm-delta-") as tmp:
        root = Path(tmp)
        ws = root / "ws.duckdb"
        ingest(feed(root / "first", rows(first)), ws)
        ingest(feed(root / "second", rows(second)), ws)
        want = sorted({(a, dt.datetime(2025, 3, d, h), f, u or None) for a, d, h, f, u in first + second},
                      key=repr)
        assert sorted(stored(ws), key=repr) == want
