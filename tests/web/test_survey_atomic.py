"""Recording an answer is one transaction: a failure at any step inside it writes nothing.

``surveys.record_answer`` marks the link used, inserts the answer and updates the month's
digest. A failure injected at each of those steps must leave the answer table, the used-links
table and the digest exactly as they were, and the link answerable again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import duckdb
import pytest

from csmetrics import surveys
from csmetrics.io.digest import DIGEST

KEY = b"k" * 32
AT = dt.datetime(2026, 6, 10, 8, 30, tzinfo=dt.UTC)


def _snapshot(con: duckdb.DuckDBPyConnection) -> tuple[list[tuple[object, ...]], ...]:
    return (
        con.execute(f"SELECT * FROM {surveys.RESPONSES} ORDER BY response_id").fetchall(),
        con.execute(f"SELECT * FROM {surveys.USED_TABLE} ORDER BY nonce").fetchall(),
        con.execute(f"SELECT * FROM {DIGEST} ORDER BY table_name, month").fetchall(),
    )


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    """A workspace-shaped database: accounts A1 and A2, answers, used links and a digest holding one earlier
    answer's month."""
    c = duckdb.connect()
    c.execute("CREATE TABLE accounts AS SELECT * FROM (VALUES ('A1'), ('A2')) t(account_id)")
    surveys.ensure_tables(c)
    c.execute(f"CREATE TABLE {DIGEST} (table_name VARCHAR, month DATE, n BIGINT, h HUGEINT)")
    c.execute(f"INSERT INTO {DIGEST} VALUES ('survey_responses', DATE '2026-06-01', 1, 12345)")
    return c


def _link(account: str = "A1") -> surveys.SurveyLink:
    return surveys.make_link_token(KEY, account, "nps", now=AT)[1]


class Boom(RuntimeError):
    pass


def _fail_on(sql_fragment: str, con: duckdb.DuckDBPyConnection) -> Callable[..., object]:
    """A stand-in connection whose execute raises on the first statement containing ``sql_fragment``."""
    real = con.execute

    def execute(sql: str, *args: object) -> object:
        if sql_fragment in sql:
            raise Boom(sql_fragment)
        return real(sql, *args)

    return execute


class FailingConnection:
    def __init__(self, con: duckdb.DuckDBPyConnection, fragment: str) -> None:
        self._con = con
        self.execute = _fail_on(fragment, con)


@pytest.mark.parametrize("fragment", [f"INSERT INTO {surveys.RESPONSES}", f"UPDATE {DIGEST}"])
def test_a_failure_inside_the_transaction_writes_nothing(con: duckdb.DuckDBPyConnection, fragment: str) -> None:
    before = _snapshot(con)
    link = _link()
    with pytest.raises(Boom):
        surveys.record_answer(FailingConnection(con, fragment), link, 9, "great", now=AT)  # type: ignore[arg-type]
    assert _snapshot(con) == before
    # The link was not marked used: the customer can answer again, and it is stored once.
    assert surveys.record_answer(con, link, 9, "great", now=AT) == link.response_id
    rows = con.execute(f"SELECT response_id, account_id, score, responded_at FROM {surveys.RESPONSES}").fetchall()
    assert rows == [(link.response_id, "A1", 9.0, dt.datetime(2026, 6, 10, 8, 30))]


def test_a_failure_in_the_digest_update_rolls_back_the_answer(con: duckdb.DuckDBPyConnection,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_add_row(*args: object) -> None:
        raise Boom("digest")

    monkeypatch.setattr(surveys, "add_row", broken_add_row)
    before = _snapshot(con)
    with pytest.raises(Boom):
        surveys.record_answer(con, _link(), 3, None, now=AT)
    assert _snapshot(con) == before


def test_a_recorded_answer_is_committed_and_seen_by_another_connection(tmp_path: object) -> None:
    path = f"{tmp_path}/ws.duckdb"
    writer = duckdb.connect(path)
    writer.execute("CREATE TABLE accounts AS SELECT 'A7' AS account_id")
    surveys.ensure_tables(writer)
    link = _link("A7")
    surveys.record_answer(writer, link, 10, "love it", now=AT)
    reader = writer.cursor()  # a second connection to the same database sees only committed rows
    assert reader.execute(f"SELECT account_id, score, comment FROM {surveys.RESPONSES} WHERE response_id = ?",
                          [link.response_id]).fetchall() == [("A7", 10.0, "love it")]
    writer.close()


def test_the_digest_counts_the_new_answer_in_its_month(con: duckdb.DuckDBPyConnection) -> None:
    link = _link()
    surveys.record_answer(con, link, 8, None, now=AT)
    (h,) = con.execute(f"SELECT CAST(hash(t) AS HUGEINT) FROM {surveys.RESPONSES} AS t").fetchone()  # type: ignore[misc]
    assert con.execute(f"SELECT month, n, h FROM {DIGEST}").fetchall() == [(dt.date(2026, 6, 1), 2, 12345 + h)]


def test_a_replayed_link_writes_nothing_and_leaves_the_connection_usable(con: duckdb.DuckDBPyConnection) -> None:
    link = _link()
    surveys.record_answer(con, link, 6, "meh", now=AT)
    before = _snapshot(con)
    with pytest.raises(surveys.LinkError) as exc:
        surveys.record_answer(con, link, 0, "again", now=AT + dt.timedelta(hours=1))
    assert exc.value.reason == "used"
    assert _snapshot(con) == before
    # No transaction is left open: the next answer commits normally.
    other = _link("A2")
    surveys.record_answer(con, other, 10, None, now=AT)
    assert con.cursor().execute(f"SELECT count(*) FROM {surveys.RESPONSES}").fetchone() == (2,)
