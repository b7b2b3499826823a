"""Rules H1, H3 and H6 hold for any portal: one account per live company, csm = its owner's name or empty."""

from __future__ import annotations

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from csmetrics.sources.hubspot.map import MapSettings, archived_companies, map_tables, unknown_owners
from csmetrics.sources.hubspot.objects import to_raw
from tests.sources.hubspot.portal import company, owner

NAMES = st.text(alphabet="abcdefgh ", min_size=0, max_size=6)
OWNER_IDS = ["61000001", "61000002", "61000003", "61000004"]

portals = st.fixed_dictionaries({
    "owners": st.dictionaries(st.sampled_from(OWNER_IDS), st.tuples(NAMES, NAMES), max_size=3),
    "companies": st.dictionaries(st.integers(1, 10_000).map(str),
                                 st.tuples(st.one_of(st.none(), st.sampled_from(OWNER_IDS)), st.booleans()),
                                 max_size=12),
})


@settings(max_examples=40, deadline=None)
@given(portals)
def test_accounts_are_the_live_companies_with_their_owners_names(portal: dict[str, dict[str, tuple]]) -> None:
    owners = [owner(oid, first, last, 1) for oid, (first, last) in portal["owners"].items()]
    companies = [company(cid, f"Co {cid}", None, "2025-03-01T00:00:00Z", oid, None, None, None, archived=arch)
                 for cid, (oid, arch) in portal["companies"].items()]
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("CREATE TABLE raw (type VARCHAR, id VARCHAR, parent VARCHAR, created BIGINT, body VARCHAR)")
        rows = [to_raw("owners", o) for o in owners] + [to_raw("companies", c) for c in companies]
        if rows:
            con.executemany("INSERT INTO raw VALUES (?, ?, ?, ?, ?)",
                            [(r.type, r.id, r.parent, r.created, r.body) for r in rows])
        mapped = map_tables(con, "raw", MapSettings())
        got = dict(con.execute(f"SELECT account_id, csm FROM {mapped['accounts']}").fetchall())
        live = {cid: oid for cid, (oid, arch) in portal["companies"].items() if not arch}
        assert set(got) == set(live)
        for cid, oid in live.items():
            first, last = portal["owners"].get(oid, ("", "")) if oid else ("", "")
            name = " ".join(p.strip() for p in (first, last) if p.strip())
            # no owner, an unknown owner, or one with no name and (here) an email: the email stands in
            expected = None if oid is None or oid not in portal["owners"] else (name or owner(oid, first, last, 1)
                                                                                 ["email"].strip() or None)
            assert got[cid] == expected, (cid, oid)
        assert archived_companies(con) == sum(arch for _, arch in portal["companies"].values())
        assert unknown_owners(con) == sum(1 for oid in live.values() if oid and oid not in portal["owners"])
    finally:
        con.close()
