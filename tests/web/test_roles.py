"""Roles and scope: a generated matrix of every route x role, and a CSM token sees exactly its book.

The matrix walks ``app.routes`` (through included routers): every route must
have an entry in :data:`EXPECTED`, so a new endpoint without a scope decision
fails this suite. For each route it asks as no token, a bad token, admin,
viewer and ``csm:Ann`` (tests/web/book.py: Ann's book is A1 and A2, Bob's is
B1 and B2) and checks the status, and for data routes the content as Ann:
only A1/A2, Ann's totals (hand-computed in book.py), B1 answered 404.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from csmetrics import surveys
from csmetrics.io import ingest
from csmetrics.web import auth
from csmetrics.web.ratelimit import FailureLimiter
from csmetrics.web.store import Store
from tests.web.book import ACTIVE_MAY, ANN, BOB, MAY, MRR_MAY, make_book_company

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from csmetrics.web.app import create_app

ROLES = ("none", "bad", "admin", "viewer", "csm")
ROLE_OF = {"admin": "admin", "viewer": "viewer", "csm": f"csm:{ANN}"}
BAD = "csm_deadbeef_notarealsecret"
MAY_RANGE = {"start": "2026-05-01", "end": "2026-06-01"}


@pytest.fixture(scope="module")
def book_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_book_company(tmp_path_factory.mktemp("book") / "data")


def _book_store(book_dir: Path, where: Path) -> Store:
    ws = where / "workspace.duckdb"
    ingest(book_dir, ws)
    return Store(ws)


@pytest.fixture(scope="module")
def book_store(book_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    s = _book_store(book_dir, tmp_path_factory.mktemp("bookws"))
    yield s
    s.close()


@pytest.fixture(scope="module")
def tokens(book_store: Store) -> dict[str, str]:
    return {r: book_store.create_token(r, role) for r, role in ROLE_OF.items()}


@pytest.fixture(scope="module")
def app_client(book_store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(book_store), follow_redirects=False) as c:
        yield c


def _headers(role: str, tokens: dict[str, str]) -> dict[str, str]:
    if role == "none":
        return {}
    return {"Authorization": f"Bearer {BAD if role == 'bad' else tokens[role]}"}


# -- the expectation table ----------------------------------------------------------------------

Check = Callable[[Any, str], None]
"""check(response, role): content assertions for a data route (role one of admin, viewer, csm)."""


@dataclass
class Case:
    """How to call one route and what each role gets."""

    url: str | Callable[[Store], str]
    status: dict[str, int]
    json: dict[str, Any] | None = None
    form: dict[str, str] | Callable[[str, dict[str, str]], dict[str, str]] | None = None
    files: Callable[[], list[tuple[str, tuple[str, bytes, str]]]] | None = None
    check: Check | None = None
    notes: list[str] = field(default_factory=list)


def api_reader(ok: int = 200, csm: int | None = None) -> dict[str, int]:
    return {"none": 401, "bad": 401, "admin": ok, "viewer": ok, "csm": ok if csm is None else csm}


def page_reader(csm: int = 200) -> dict[str, int]:
    return {"none": 303, "bad": 303, "admin": 200, "viewer": 200, "csm": csm}


def admin_only(ok: int = 200) -> dict[str, int]:
    return {"none": 401, "bad": 401, "admin": ok, "viewer": 403, "csm": 403}


def public(status: int = 200) -> dict[str, int]:
    return dict.fromkeys(ROLES, status)


def _ids(rows: list[dict[str, Any]]) -> set[str]:
    return {str(r["account_id"]) for r in rows}


def _book_of(role: str) -> set[str]:
    return {"A1", "A2"} if role == "csm" else {"A1", "A2", "B1", "B2"}


def check_metrics(r: Any, role: str) -> None:
    rows = {row["metric"]: row["value"] for row in r.json()}
    csm = ANN if role == "csm" else None
    assert rows["mrr"] == MRR_MAY[csm]
    assert rows["active_customers"] == ACTIVE_MAY[csm]
    # NPS of May: company (2 promoters - 1 detractor) / 3 answers; Ann (1 - 1) / 2.
    assert rows["nps"] == pytest.approx(100 / 3 if csm is None else 0.0)


def check_metrics_by_csm(r: Any, role: str) -> None:
    groups = {row["group"]: row["value"] for row in r.json()}
    assert groups == ({ANN: 150.0} if role == "csm" else {ANN: 150.0, BOB: 200.0})


def check_accounts(r: Any, role: str) -> None:
    assert _ids(r.json()) == _book_of(role)


def check_b1(r: Any, role: str) -> None:
    if role == "csm":
        assert r.json() == {"detail": "no account 'B1'"}  # exactly the body of an id that does not exist
    else:
        assert r.json()["account_id"] == "B1" and r.json()["mrr"] == 200.0


def check_explain(r: Any, role: str) -> None:
    body = r.json()
    assert _ids(body["rows"]) == (_book_of(role) - {"B2"})  # B2 ended in March: no row in May
    assert body["value"] == MRR_MAY[ANN if role == "csm" else None]


def check_health(r: Any, role: str) -> None:
    assert _ids(r.json()) <= _book_of(role)
    assert "B1" not in _ids(r.json()) if role == "csm" else "B1" in _ids(r.json())


def no_bob(r: Any, role: str) -> None:
    if role == "csm":
        for leak in ("B1", "B2", BOB, "bob secret", "mid-market"):
            assert leak not in r.text, leak


def check_b1_page(r: Any, role: str) -> None:
    if role == "csm":  # the page names the id asked for, as for a missing one, and nothing of the account
        for leak in ("Bob One", BOB, "bob secret", "SB1", "TB1", "mid-market"):
            assert leak not in r.text, leak
    else:
        assert "Bob One" in r.text and "bob secret" in r.text


def check_customers(r: Any, role: str) -> None:
    no_bob(r, role)
    shown = set(re.findall(r'href="/accounts/([AB]\d)', r.text))
    assert shown == _book_of(role)


def check_csms_page(r: Any, role: str) -> None:
    no_bob(r, role)
    assert ANN in r.text and (role == "csm" or BOB in r.text)


def check_feedback(r: Any, role: str) -> None:
    no_bob(r, role)
    assert "ann likes it" in r.text and (role == "csm" or "bob secret" in r.text)


def check_overview(r: Any, role: str) -> None:
    no_bob(r, role)
    tile = re.search(r'id="kpi-mrr".*?<p class="big">([^<]*)</p>', r.text, re.S)
    assert tile is not None
    assert tile.group(1).strip().endswith("150" if role == "csm" else "350")


def _revocable(store: Store) -> str:
    with store.write_lock:
        _, info = auth.create_token(store.writer, "to revoke", "viewer")
    return f"/api/v1/tokens/{info.token_id}"


def _survey_link(store: Store) -> str:
    token, _ = surveys.make_link_token(store.survey_key, "A1", "nps")
    return f"/survey/{token}"


def _login_form(role: str, tokens: dict[str, str]) -> dict[str, str]:
    given = {"none": "", "bad": BAD}
    return {"token": given[role] if role in given else tokens[role], "next": "/"}


def _upload() -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", ("accounts.csv", b"account_id,name,created_at,segment,csm\nA1,Ann One,2026-01-01,smb,Ann\n",
                       "text/csv"))]


EXPECTED: dict[tuple[str, str], Case] = {
    ("GET", "/api/v1/openapi.json"): Case("/api/v1/openapi.json", public()),
    ("GET", "/static"): Case("/static/app.css", public()),
    ("GET", "/static-plotly/plotly.min.js"): Case("/static-plotly/plotly.min.js", public()),
    ("GET", "/api/docs"): Case("/api/docs", public()),
    ("GET", "/favicon.ico"): Case("/favicon.ico", public(204)),
    ("GET", "/api/v1/metrics"): Case(
        "/api/v1/metrics?metrics=mrr,active_customers,nps&start=2026-05-01&end=2026-06-01", api_reader(),
        check=check_metrics),
    ("GET", "/api/v1/metrics/definitions"): Case("/api/v1/metrics/definitions", api_reader()),
    ("GET", "/api/v1/accounts"): Case("/api/v1/accounts", api_reader(), check=check_accounts),
    ("GET", "/api/v1/accounts/{account_id}"): Case("/api/v1/accounts/B1", api_reader(csm=404), check=check_b1),
    ("GET", "/api/v1/explain/{metric}"): Case(f"/api/v1/explain/mrr?period={MAY}", api_reader(),
                                              check=check_explain),
    ("GET", "/api/v1/health"): Case("/api/v1/health", api_reader(), check=check_health),
    ("POST", "/api/v1/survey-triggers"): Case("/api/v1/survey-triggers", api_reader(201, csm=404),
                                              json={"ticket_id": "TB1"}),
    ("POST", "/api/v1/survey-links"): Case("/api/v1/survey-links", api_reader(201, csm=404),
                                           json={"account_id": "B1", "survey": "nps"}),
    ("POST", "/api/v1/tokens"): Case("/api/v1/tokens", admin_only(201), json={"name": "m", "role": "viewer"}),
    ("GET", "/api/v1/tokens"): Case("/api/v1/tokens", admin_only()),
    ("DELETE", "/api/v1/tokens/{token_id}"): Case(_revocable, admin_only()),
    ("GET", "/api/v1/audit"): Case("/api/v1/audit", admin_only()),
    ("POST", "/api/v1/ingest"): Case("/api/v1/ingest", admin_only(), files=_upload),
    ("GET", "/survey/{token}"): Case(_survey_link, public()),
    ("POST", "/survey/{token}"): Case(_survey_link, public(), form={"score": "9", "comment": ""}),
    ("GET", "/"): Case("/", page_reader(), check=check_overview),
    ("GET", "/revenue"): Case("/revenue", page_reader(), check=no_bob),
    ("GET", "/retention"): Case("/retention", page_reader(), check=no_bob),
    ("GET", "/customers"): Case("/customers", page_reader(), check=check_customers),
    ("GET", "/accounts/{account_id:path}"): Case("/accounts/B1", page_reader(csm=404), check=check_b1_page),
    ("GET", "/csms"): Case("/csms", page_reader(), check=check_csms_page),
    ("GET", "/feedback"): Case("/feedback", page_reader(), check=check_feedback),
    ("GET", "/explain/{metric}"): Case(f"/explain/mrr?at={MAY}", page_reader(), check=no_bob),
    ("GET", "/definitions"): Case("/definitions", page_reader()),
    ("GET", "/login"): Case("/login", public()),
    # The sign-in form: each role signs in with its own token (none: an empty one, refused).
    ("POST", "/login"): Case("/login", {"none": 422, "bad": 401, "admin": 303, "viewer": 303, "csm": 303},
                             form=_login_form),
    ("POST", "/logout"): Case("/logout", public(303)),
    # The team pages (web/team.py; content by role in tests/web/test_team_pages.py). A form POST without its
    # CSRF field is refused (403) whoever asks, before the token is looked up.
    ("GET", "/alerts"): Case("/alerts", page_reader(), check=no_bob),
    ("GET", "/book"): Case("/book", page_reader()),
    ("POST", "/alerts/{alert_id}/ack"): Case("/alerts/0123456789abcdef/ack", public(403), form={}),
    ("POST", "/alerts/{alert_id}/snooze"): Case("/alerts/0123456789abcdef/snooze", public(403),
                                                form={"until": "2026-07-01"}),
    ("GET", "/api/v1/jobs"): Case("/api/v1/jobs", admin_only()),
    # Writes through the server (tests/web/test_schedule.py runs them for real): segment has no API, so even
    # the admin's sync is a 400 naming the way to import it; evaluating alerts works for the admin only.
    ("POST", "/api/v1/sync/{source}"): Case("/api/v1/sync/segment", admin_only(400)),
    ("POST", "/api/v1/alerts/run"): Case("/api/v1/alerts/run", admin_only()),
}


def walk_routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path) of every route of the app, through included routers (HEAD left out)."""
    for r in routes:
        if hasattr(r, "original_router"):  # FastAPI's included router
            yield from walk_routes(r.original_router.routes, prefix + r.include_context.prefix)
        elif hasattr(r, "methods") and r.methods:
            for m in sorted(r.methods - {"HEAD"}):
                yield m, prefix + r.path
        else:  # a Mount (static files)
            yield "GET", prefix + r.path


def test_every_route_has_an_expectation() -> None:
    routes = set(walk_routes(create_app(None).routes))  # type: ignore[arg-type]
    missing = sorted(routes - set(EXPECTED))
    assert not missing, f"routes without a role/scope expectation in test_roles.EXPECTED: {missing}"
    stale = sorted(set(EXPECTED) - routes)
    assert not stale, f"expectations for routes that no longer exist: {stale}"


@pytest.mark.parametrize("route", sorted(EXPECTED), ids=lambda r: f"{r[0]} {r[1]}")
def test_route_matrix(route: tuple[str, str], app_client: TestClient, book_store: Store,
                      tokens: dict[str, str]) -> None:
    case = EXPECTED[route]
    method = route[0]
    book_store.limiter = FailureLimiter(max_failures=10**6)  # the matrix sends many bad tokens on purpose
    for role in ROLES:
        url = case.url(book_store) if callable(case.url) else case.url
        kwargs: dict[str, Any] = {"headers": _headers(role, tokens)}
        if case.json is not None:
            kwargs["json"] = case.json
        if case.form is not None:
            kwargs["data"] = case.form(role, tokens) if callable(case.form) else case.form
        if case.files is not None:
            kwargs["files"] = case.files()
        if route == ("POST", "/login"):
            kwargs["headers"] = {}  # the form is the credential
        r = app_client.request(method, url, **kwargs)
        assert r.status_code == case.status[role], (role, url, r.status_code, r.text[:300])
        if case.check is not None and role in ROLE_OF:
            case.check(r, role)
        app_client.cookies.clear()


# -- scope beyond the matrix ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def ann(book_store: Store, tokens: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_app(book_store), headers={"Authorization": f"Bearer {tokens['csm']}"},
                    follow_redirects=False) as c:
        yield c


def test_a_csm_reads_their_own_accounts_in_full(ann: TestClient) -> None:
    a1 = ann.get("/api/v1/accounts/A1").json()
    assert (a1["account_id"], a1["csm"], a1["mrr"]) == ("A1", ANN, 100.0)
    assert [s["subscription_id"] for s in a1["subscriptions"]] == ["SA1"]
    assert [t["ticket_id"] for t in a1["tickets"]] == ["TA1"]
    page = ann.get("/accounts/A1")
    assert page.status_code == 200 and "Ann One" in page.text


def test_another_book_is_not_found_exactly_like_a_missing_account(ann: TestClient) -> None:
    other, missing = ann.get("/api/v1/accounts/B1"), ann.get("/api/v1/accounts/ZZ9")
    assert (other.status_code, missing.status_code) == (404, 404)
    assert other.json()["detail"].replace("B1", "X") == missing.json()["detail"].replace("ZZ9", "X")


def test_another_books_page_is_the_missing_account_page(ann: TestClient) -> None:
    other, missing = ann.get("/accounts/B1"), ann.get("/accounts/ZZ9")
    assert (other.status_code, missing.status_code) == (404, 404)
    assert other.text.replace("B1", "X") == missing.text.replace("ZZ9", "X")


def test_a_csm_gets_their_book_totals_and_groups_not_the_company(ann: TestClient) -> None:
    r = ann.get("/api/v1/metrics", params={"metrics": "mrr", "by": "csm", **MAY_RANGE})
    check_metrics_by_csm(r, "csm")
    by_segment = ann.get("/api/v1/metrics", params={"metrics": "mrr", "by": "segment", **MAY_RANGE}).json()
    assert {row["group"]: row["value"] for row in by_segment} == {"smb": 100.0, "enterprise": 50.0}
    # Filters list and accept only the book's values; another CSM's is unknown, as a made-up one.
    assert ann.get("/api/v1/accounts", params={"csm": BOB}).status_code == 400
    bad = ann.get("/api/v1/accounts", params={"segment": "mid-market"})
    assert bad.status_code == 400 and bad.json()["detail"] == (
        "unknown segment 'mid-market': expected one of enterprise, smb")


def test_company_level_costs_are_hidden_from_a_csm(ann: TestClient, app_client: TestClient,
                                                   tokens: dict[str, str]) -> None:
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    r = app_client.get("/api/v1/metrics", params={"metrics": "cs_costs", **MAY_RANGE}, headers=admin)
    assert [row["value"] for row in r.json()] == [1000.0]
    mine = ann.get("/api/v1/metrics", params={"metrics": "cs_costs", **MAY_RANGE})
    assert mine.status_code == 200 and mine.json() == []


def test_a_csm_cannot_make_a_survey_link_for_another_book(ann: TestClient) -> None:
    own = ann.post("/api/v1/survey-links", json={"account_id": "A2", "survey": "nps"})
    assert own.status_code == 201 and own.json()["account_id"] == "A2"
    for body in ({"account_id": "B1"}, {"account_id": "B2", "survey": "csat"}):
        r = ann.post("/api/v1/survey-links", json=body)
        assert (r.status_code, r.json()) == (404, {"detail": f"no account {body['account_id']!r}"})
    assert ann.post("/api/v1/survey-triggers", json={"ticket_id": "TB1"}).status_code == 404
    assert ann.post("/api/v1/survey-triggers", json={"ticket_id": "TB1", "account_id": "B1"}).status_code == 404
    assert ann.post("/api/v1/survey-triggers", json={"ticket_id": "TA1"}).json()["account_id"] == "A1"


def test_health_scores_of_a_book_equal_the_company_view(ann: TestClient, app_client: TestClient,
                                                        tokens: dict[str, str]) -> None:
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    everyone = {r["account_id"]: r["health_score"] for r in app_client.get("/api/v1/health", headers=admin).json()}
    mine = {r["account_id"]: r["health_score"] for r in ann.get("/api/v1/health").json()}
    assert set(mine) == {"A1", "A2"} and mine == {k: everyone[k] for k in mine}


def test_csm_roles_must_name_a_csm_of_the_accounts(book_store: Store) -> None:
    from csmetrics.schema.errors import UsageError

    with book_store.write_lock:
        with pytest.raises(UsageError, match=r"no account has csm 'Zed' \(expected one of Ann, Bob\)"):
            auth.create_token(book_store.writer, "x", "csm:Zed")
        with pytest.raises(UsageError, match="needs the CSM's name"):
            auth.create_token(book_store.writer, "x", "csm: ")
        with pytest.raises(UsageError, match="unknown role 'owner'"):
            auth.create_token(book_store.writer, "x", "owner")
        _, info = auth.create_token(book_store.writer, "x", " CSM:Bob ")
    assert info.role == "csm:Bob"


def test_legacy_tokens_without_a_role_are_admin(book_store: Store, app_client: TestClient) -> None:
    import hashlib

    legacy = "csm_0badc0de_legacysecret"
    with book_store.write_lock:
        book_store.writer.execute(
            f"INSERT INTO {auth.TOKENS} (token_id, name, token_hash, created_at) VALUES (?, ?, ?, now())",
            ["0badc0de", "old", hashlib.sha256(legacy.encode()).hexdigest()])
    r = app_client.get("/api/v1/tokens", headers={"Authorization": f"Bearer {legacy}"})
    assert r.status_code == 200
    assert {t["token_id"]: t["role"] for t in r.json()}["0badc0de"] == "admin"
