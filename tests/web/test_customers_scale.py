"""The customers page paged, sorted and filtered on the server (web/customers.py): rows read back by key, page
boundaries, bad parameters -> 400; a property test that the pages of any query hold each matching account once,
in order. Speed is measured by bench/customers_page.py, not here.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from csmetrics.web.customers import MAX_SIZE, listing
from csmetrics.web.store import Store
from tests.web.company import CSMS

ACCOUNTS = 80  # tests/web/conftest.py's company: A0000..A0079, CSM CSMS[i % 4], segment SEGMENTS[i % 3]


def ids_on(html: str) -> list[str]:
    return re.findall(r'<td><a href="/accounts/([^?"]+)\?', html)


def expected(store: Store, key: str, desc: bool, **eq: str) -> list[str]:
    """The account ids in the order the page must show them, from the API's records (by key)."""
    from csmetrics.web import data

    day = data.last_day(store)
    df = data.accounts_frame(store, day)
    for col, v in eq.items():
        df = df[df[col] == v]
    df = df.sort_values("account_id")
    present = df[df[key].notna()].sort_values(key, ascending=not desc, kind="stable")
    return list(present["account_id"]) + list(df[df[key].isna()]["account_id"])


def test_pages_hold_every_account_once_in_order(shared_client: TestClient, shared_store: Store) -> None:
    want = expected(shared_store, "mrr", True)
    assert len(want) == ACCOUNTS
    seen: list[str] = []
    for page in (1, 2, 3):
        html = shared_client.get("/customers", params={"sort": "mrr", "dir": "desc", "size": 30, "page": page}).text
        seen += ids_on(html)
        assert f"page {page} of 3 (30 per page)" in html
    assert seen == want  # 30 + 30 + 20
    r = shared_client.get("/customers", params={"size": 30, "page": 4})
    assert r.status_code == 400 and "page 4 of 3" in r.text


def test_sort_by_each_column_both_ways(shared_client: TestClient, shared_store: Store) -> None:
    for key in ("account_id", "name", "csm", "segment", "health_score"):
        for desc in (False, True):
            html = shared_client.get("/customers", params={"sort": key, "dir": "desc" if desc else "asc",
                                                           "size": 100}).text
            assert ids_on(html) == expected(shared_store, key, desc), (key, desc)


def test_filters_read_back_by_key(shared_client: TestClient, shared_store: Store) -> None:
    html = shared_client.get("/customers", params={"csm": CSMS[1], "segment": "smb", "sort": "account_id",
                                                   "dir": "asc"}).text
    # CSM index 1 (i % 4 == 1) and smb (i % 3 == 0): i = 9, 21, 33, 45, 57, 69.
    assert ids_on(html) == ["A0009", "A0021", "A0033", "A0045", "A0057", "A0069"]
    assert ids_on(shared_client.get("/customers", params={"q": "company 7", "sort": "account_id", "dir": "asc"}).text) \
        == ["A0007"] + [f"A00{i}" for i in range(70, 80)]
    assert ids_on(shared_client.get("/customers", params={"q": "a001", "sort": "account_id", "dir": "asc"}).text) \
        == [f"A001{i}" for i in range(10)]
    red = ids_on(shared_client.get("/customers", params={"health": "red", "sort": "account_id", "dir": "asc",
                                                         "size": 100}).text)
    assert red == expected(shared_store, "account_id", False, health_color="red")
    assert ids_on(shared_client.get("/customers", params={"q": "nothing like it"}).text) == []


@pytest.mark.parametrize("params, message", [
    ({"sort": "plan"}, "sort 'plan': expected one of account_id, name, segment, csm, mrr, health_score"),
    ({"sort": "mrr; drop table accounts"}, "sort 'mrr; drop table accounts'"),
    ({"dir": "up"}, "dir 'up': expected asc or desc"),
    ({"page": "0"}, "page '0': expected a whole number from 1"),
    ({"page": "two"}, "page 'two'"),
    ({"size": "0"}, f"size '0': expected a whole number from 1 to {MAX_SIZE}"),
    ({"size": str(MAX_SIZE + 1)}, "size '501'"),
    ({"health": "blue"}, "unknown health colour 'blue'"),
    ({"csm": "Nobody"}, "unknown csm 'Nobody'"),
    ({"segment": "huge"}, "unknown segment 'huge'"),
    ({"q": "x" * 201}, "at most 200"),
])
def test_bad_parameters_are_a_400_naming_the_value(shared_client: TestClient, params: dict[str, str],
                                                   message: str) -> None:
    r = shared_client.get("/customers", params=params)
    assert r.status_code == 400, params
    assert message in r.text.replace("&#39;", "'")


FRAMES = st.integers(min_value=0, max_value=40).flatmap(lambda n: st.fixed_dictionaries({
    "account_id": st.just([f"K{i:03d}" for i in range(n)]),
    "name": st.lists(st.sampled_from(["Acme", "acme", "Beta", None]), min_size=n, max_size=n),
    "csm": st.lists(st.sampled_from(["Ann", "Bob", None]), min_size=n, max_size=n),
    "mrr": st.lists(st.sampled_from([0.0, 10.0, 10.0, 25.5]), min_size=n, max_size=n),
    "health_score": st.lists(st.one_of(st.none(), st.floats(0, 100)), min_size=n, max_size=n),
}))


@settings(max_examples=60, deadline=None)
@given(FRAMES, st.sampled_from(["account_id", "name", "csm", "mrr", "health_score"]), st.booleans(),
       st.integers(1, 7), st.sampled_from([None, "Ann"]), st.sampled_from([None, "ac", "K00"]))
def test_any_query_pages_through_each_match_once_in_order(frame: dict[str, list[object]], key: str, desc: bool,
                                                          size: int, csm: str | None, q: str | None) -> None:
    df = pd.DataFrame(frame).astype({"mrr": float, "health_score": float})
    first = listing(df, csm=csm, q=q, sort=key, direction="desc" if desc else "asc", size=str(size))
    rows = [first.rows]
    for p in range(2, first.pages + 1):
        rows.append(listing(df, csm=csm, q=q, sort=key, direction="desc" if desc else "asc", size=str(size),
                            page=str(p)).rows)
    got = pd.concat(rows)
    match = df
    if csm:
        match = match[match["csm"] == csm]
    if q:
        hay = match["account_id"].astype(str).str.lower() + " " + match["name"].fillna("").astype(str).str.lower()
        match = match[hay.str.contains(q.lower(), regex=False)]
    assert first.total == len(match) and first.pages == max(1, math.ceil(len(match) / size))
    assert sorted(got["account_id"]) == sorted(match["account_id"])  # each match exactly once
    # In order: by the key (missing last), ties by account id ascending.
    keys = list(zip(got[key].isna(), got[key].where(got[key].notna(), None), got["account_id"], strict=True))
    for (m1, v1, i1), (m2, v2, i2) in zip(keys, keys[1:], strict=False):
        assert m1 <= m2
        if not m1 and not m2 and v1 != v2:
            assert (v1 > v2) if desc else (v1 < v2)
        elif m1 == m2 and (m1 or v1 == v2):
            assert i1 < i2
    assert np.all(got.index.isin(df.index))
