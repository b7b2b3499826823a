"""The team's pages: alerts (acknowledge, snooze), a CSM's book ranked by risk, the jobs of ``serve --schedule``,
and the stale-source banner of every page.

**Alerts** (``/alerts``) lists the stored alerts of :mod:`csmetrics.alerts`
(open, acknowledged, snoozed; ``failed``: a delivery of the alert failed),
filtered by status, severity, rule and CSM. Acknowledge and snooze are POST
forms. A ``csm:NAME`` token sees and acts only on the alerts of its book (the
accounts whose ``csm`` is NAME now, :mod:`csmetrics.web.scope`): another
book's alert id is a 404, exactly like an id that does not exist. A
``viewer`` reads them and may not act (403); an ``admin`` acts on every alert.

**CSRF.** The login cookie alone never changes anything (``require_reader``
reads it on GET only). A form POST of this module carries a ``csrf`` field:
the HMAC-SHA256 of the session's token under the workspace's secret key
(``surveys.load_key``, with the ``csrf|`` prefix so it is never a survey
signature), 64 hex digits. The server recomputes it from the cookie (or the
``Authorization`` header) and compares in constant time; a POST without it or
with another session's value is refused with 403 before the token is even
looked up. An attacker's page cannot read it (same-origin policy), and the
cookie is ``SameSite=Strict`` besides.

**My book** (``/book``) ranks a CSM's accounts by *risk* =
``(100 - health score) / 100 x MRR``: the MRR the health score says is at
stake. Worked example: an account at score 40 paying 1,000 a month has risk
600; one at score 90 paying 5,000 has risk 500, so the first ranks higher.
Accounts without a score (no health model) rank by MRR. Each row shows the
health model's *main drag* (the component costing the score the most, ``w_c
x (100 - x_c)``, with the model's text) and the open alerts of the account.
A ``csm:NAME`` token sees its own book; admin and viewer pick one with
``?csm=NAME``.

**Stale banner.** Every signed-in page names each source whose last sync is
older than its ``max_age_days`` (``[sources.NAME]`` of the settings file
given to ``serve --config``; default 2 days), with its age:
:func:`csmetrics.sources.status.stale_sources` on the server's connection,
cached for a minute.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections import Counter
from typing import Annotated, Any
from urllib.parse import urlencode

import pandas as pd
from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from csmetrics import clock
from csmetrics.alerts import store as alert_store
from csmetrics.alerts.settings import SEVERITIES
from csmetrics.periods import parse_date
from csmetrics.schema.errors import UsageError
from csmetrics.sources.settings import DEFAULT_CONFIG
from csmetrics.web import data
from csmetrics.web.api import Error
from csmetrics.web.app import (
    COOKIE,
    Forbidden,
    Principal,
    Unauthorized,
    authenticate,
    bearer,
    client_ip,
    require_admin,
    require_reader,
)
from csmetrics.web.scope import Scope
from csmetrics.web.store import Store

router = APIRouter(include_in_schema=False)


api_router = APIRouter(prefix="/api/v1", tags=["jobs"], responses={
    400: {"model": Error, "description": "Unknown job"},
    401: {"model": Error, "description": "Missing or invalid bearer token"},
    403: {"model": Error, "description": "The token's role is not admin"},
    429: {"model": Error, "description": "Too many failed sign-ins from this address or for this token id"},
})
Reader = Depends(require_reader)

CSRF_FIELD = "csrf"
STALE_TTL = 60.0
"""Seconds the stale-source banner is kept before the sources' state is read again."""


# -- CSRF ---------------------------------------------------------------------------------

def session_token(request: Request) -> str | None:
    """The token this request is signed in with: the Authorization header, else the login cookie."""
    return bearer(request) or request.cookies.get(COOKIE) or None


def csrf_for(store: Store, token: str) -> str:
    """The CSRF value of the session signed in with ``token`` (64 hex digits)."""
    return hmac.new(store.survey_key, b"csrf|" + token.encode("utf-8"), hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    """The value a form of this page must post back in its ``csrf`` field ('' when not signed in)."""
    token = session_token(request)
    return csrf_for(request.app.state.store, token) if token else ""


def require_actor(request: Request, csrf: str) -> Principal:
    """A state-changing form POST: the CSRF field matches the session, the token is valid, and its role may act
    (admin, or csm:NAME on its own book). 403 for a missing or wrong CSRF value and for a viewer; 401 (the
    login form) for no valid token. Sets ``request.state.principal`` and ``request.state.view``."""
    store: Store = request.app.state.store
    token = session_token(request)
    if not token or not csrf or not hmac.compare_digest(csrf.encode("utf-8", "replace"),
                                                        csrf_for(store, token).encode()):
        raise Forbidden("this form has expired or did not come from this dashboard (missing or wrong CSRF token): "
                        "reload the page and try again")
    info = authenticate(store, token, client_ip(request), "auth")
    if info is None:
        raise Unauthorized()
    principal = Principal(info.token_id, Scope.of(info.role))
    if not (principal.scope.is_admin or principal.scope.csm is not None):
        raise Forbidden("a viewer token reads alerts but may not acknowledge or snooze them (needs admin or csm:NAME)")
    request.state.principal = principal
    request.state.view = store.view(principal.scope)
    return principal


def _view(request: Request) -> Store:
    return request.state.view  # type: ignore[no-any-return]


# -- pages ----------------------------------------------------------------------------------

def _render(request: Request, template: str, **ctx: Any) -> HTMLResponse:
    from csmetrics.web.pages import _filters, render

    return render(request, template, _filters(request), **ctx)


def _not_found(request: Request, message: str) -> HTMLResponse:
    from csmetrics.web.pages import render

    resp = render(request, "error.html", None, title="Not found", message=message, status=404)
    resp.status_code = 404
    return resp


def _alerts(store: Store, status: str | None = None, csm: str | None = None,
            rule: str | None = None) -> list[alert_store.Alert]:
    """Stored alerts in the view's scope (its book), newest first."""
    with store.write_lock:
        rows = alert_store.list_alerts(store.writer, status, csm, rule, None, clock.today())
    return [a for a in rows if store.sees_account(a.account_id)]


def _choice(name: str, value: str | None, valid: list[str] | tuple[str, ...]) -> str | None:
    value = value or None
    data.check_value(name, value, list(valid))
    return value


@router.get("/alerts", response_class=HTMLResponse, dependencies=[Reader])
def alerts_page(request: Request, status: str | None = None, severity: str | None = None, rule: str | None = None,
                csm: str | None = None) -> HTMLResponse:
    store = _view(request)
    everything = _alerts(store)
    status = _choice("status", status, alert_store.STATUSES)
    severity = _choice("severity", severity, SEVERITIES)
    rules = sorted({a.rule for a in everything})
    rule = _choice("rule", rule, rules)
    csms = sorted({a.csm for a in everything if a.csm})
    csm = _choice("csm", csm, csms)
    shown = [a for a in _alerts(store, status, csm, rule) if severity is None or a.severity == severity]
    principal: Principal = request.state.principal
    can_act = principal.scope.is_admin or principal.scope.csm is not None
    filters = {"status": status or "", "severity": severity or "", "rule": rule or "", "csm": csm or ""}
    counts = Counter(a.status for a in everything)
    jobs = None
    if principal.scope.is_admin:
        from csmetrics.web.schedule import job_runs

        jobs = job_runs(store, limit=10)
    return _render(request, "alerts.html", title="Alerts", alerts=shown, rules=rules, csms=csms,
                   statuses=alert_store.STATUSES, severities=SEVERITIES, filters=filters, can_act=can_act,
                   counts=counts, failed={a.id for a in shown if any(d["status"] == "failed" for d in a.deliveries)},
                   back=urlencode({k: v for k, v in filters.items() if v}), jobs=jobs,
                   tomorrow=(clock.today() + dt.timedelta(days=1)).isoformat(),
                   snooze_default=(clock.today() + dt.timedelta(days=7)).isoformat())


def _acted(request: Request, alert_id: str, back: str, act: Any) -> Response:
    store = _view(request)
    with store.write_lock:
        found = alert_store.get(store.writer, [alert_id])
    if not found or not store.sees_account(found[0].account_id):
        return _not_found(request, f"no alert {alert_id[:40]!r}")
    principal: Principal = request.state.principal
    by = f"{principal.scope.role} (token {principal.token_id})"
    # Alert tables feed no metric and no cached result (pages read them live): the cache is kept, so an
    # acknowledgement does not make the next page recompute every health score.
    with store.write_lock:
        act(store.writer, by)
    store.log(f"alert.{act.__name__}", "ok", principal.token_id, principal.scope.role, alert_id, client_ip(request))
    query = back if back and all(c not in back for c in "/\\#") else ""
    return RedirectResponse("/alerts" + (f"?{query}" if query else "") + f"#alert-{alert_id}", status_code=303)


@router.post("/alerts/{alert_id}/ack")
def acknowledge(request: Request, alert_id: str, csrf: Annotated[str, Form(max_length=100)] = "",
                back: Annotated[str, Form(max_length=500)] = "") -> Response:
    require_actor(request, csrf)

    def ack(con: Any, by: str) -> None:
        alert_store.acknowledge(con, alert_id, by)

    return _acted(request, alert_id, back, ack)


@router.post("/alerts/{alert_id}/snooze")
def snooze(request: Request, alert_id: str, csrf: Annotated[str, Form(max_length=100)] = "",
           until: Annotated[str, Form(max_length=20)] = "",
           back: Annotated[str, Form(max_length=500)] = "") -> Response:
    require_actor(request, csrf)
    if not until.strip():
        raise UsageError("snooze needs a day (until, YYYY-MM-DD)")
    day = parse_date(until.strip(), "until")

    def snooze(con: Any, by: str) -> None:
        alert_store.snooze(con, alert_id, day, by)

    return _acted(request, alert_id, back, snooze)


def book_rows(store: Store, day: dt.date, csm: str) -> list[dict[str, Any]]:
    """The accounts of ``csm`` in ``store``'s scope, riskiest first: risk = (100 - health score) / 100 x MRR.

    Ties (and accounts without a score, ranked by MRR) are broken by MRR, then account id.
    Each row: account_id, name, mrr, health_score, health_color, risk, drag (component), main_drag (text),
    open_alerts.
    """
    df = data.accounts_frame(store, day)
    if "csm" not in df.columns:
        return []
    df = df[df["csm"] == csm].copy()
    h = data.health_scores(store, day)
    comps: list[str] = []
    if h is not None:
        comps = [c[: -len("_score")] for c in h.columns
                 if c.endswith("_score") and c != "health_score" and f"{c[:-len('_score')]}_weight" in h.columns]
        keep = ["account_id"] + [c for c in ("main_drag",) if c in h.columns] \
            + [f"{n}_{p}" for n in comps for p in ("score", "weight")]
        df = df.merge(h[keep], on="account_id", how="left")
    opened = Counter(a.account_id for a in _alerts(store, "open"))
    score = df["health_score"] if "health_score" in df.columns else pd.Series(float("nan"), index=df.index)
    df["risk"] = (100.0 - score.astype(float)) / 100.0 * df["mrr"].astype(float)
    df["_rank"] = df["risk"].fillna(df["mrr"].astype(float))
    df = df.sort_values(["_rank", "mrr", "account_id"], ascending=[False, False, True], kind="stable")
    rows = []
    for r in df.to_dict("records"):
        lost = {n: r[f"{n}_weight"] * (100.0 - r[f"{n}_score"]) for n in comps
                if pd.notna(r.get(f"{n}_score")) and pd.notna(r.get(f"{n}_weight"))}
        drag = max(lost, key=lambda n: (lost[n], n)) if lost and max(lost.values()) > 0 else None
        rows.append(data._record({
            "account_id": r["account_id"], "name": r.get("name"), "mrr": r["mrr"],
            "health_score": r.get("health_score"), "health_color": r.get("health_color"),
            "risk": r["risk"], "drag": drag, "main_drag": r.get("main_drag"),
            "open_alerts": opened.get(str(r["account_id"]), 0)}))
    return rows


@router.get("/book", response_class=HTMLResponse, dependencies=[Reader])
def book(request: Request, csm: str | None = None) -> Response:
    store = _view(request)
    from csmetrics.web.pages import _filters, warming

    f = _filters(request)
    if (wait := warming(request, "health", "the book")) is not None:
        return wait
    own = store.scope.csm
    csm = csm or None
    if own is not None:
        if csm is not None and csm != own:
            return _not_found(request, f"no book {csm[:80]!r}")
        csm = own
    else:
        data.check_csm(store, csm)
    ps = data.periods(store, f)
    day = data.as_of(store, ps)
    rows = book_rows(store, day, csm) if csm is not None else []
    return _render(request, "book.html", title=f"Book of {csm}" if csm else "My book", csm=csm, own=own,
                   csms=data.csms(store), rows=rows, as_of=day, total_mrr=sum(r["mrr"] or 0 for r in rows),
                   total_risk=sum(r["risk"] or 0 for r in rows))


# -- jobs API -------------------------------------------------------------------------------

@api_router.get("/jobs", dependencies=[Depends(require_admin)], summary="Runs of the scheduled jobs")
def jobs_api(request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 50,
             job: Annotated[str | None, Query(max_length=20)] = None) -> JSONResponse:
    """The latest runs of ``serve --schedule``'s jobs (``sync``, ``alerts``), newest first: job, started_at (UTC),
    seconds, ok, error, detail. Admin only."""
    from csmetrics.web.schedule import JOB_NAMES, job_runs

    if job is not None and job not in JOB_NAMES:
        raise HTTPException(400, f"unknown job {job!r}: expected one of {', '.join(JOB_NAMES)}")
    return JSONResponse({"jobs": job_runs(request.app.state.store, limit, job)})


# -- stale banner ---------------------------------------------------------------------------

def stale_sources(request: Request) -> list[dict[str, Any]]:
    """The sources whose last sync is older than their max age, with ``age`` text ('3.5 days'; None: never synced)."""
    from csmetrics.sources.status import max_ages
    from csmetrics.sources.status import stale_sources as stale

    store: Store = request.app.state.store
    if store.read_only:
        return []
    config = getattr(request.app.state, "sources_config", None)
    path = config if config is not None else DEFAULT_CONFIG
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        stamp = None
    cache = request.app.state.__dict__.setdefault("_stale_cache", {})
    key = (store.version, int(clock.now().timestamp() // STALE_TTL), config, stamp)
    if key in cache:
        return cache[key]  # type: ignore[no-any-return]
    with store.write_lock:
        rows = stale(store.writer, "", max_ages(config, strict=False))
    out = [{"source": r["source"], "max_age_days": r["max_age_days"],
            "age": None if r["staleness_days"] is None else f"{r['staleness_days']:g} days"}
           for r in rows]
    cache.clear()
    cache[key] = out
    return out


def install(app: FastAPI) -> None:
    """Add this module's routes to ``app`` and the template globals its pages use (``csrf_token``,
    ``stale_sources``). Called by :func:`csmetrics.web.app.create_app`."""
    app.include_router(api_router)
    app.include_router(router)
    env = app.state.templates.env
    env.globals["csrf_token"] = csrf_token
    env.globals["stale_sources"] = stale_sources
    if not hasattr(app.state, "sources_config"):
        app.state.sources_config = None


__all__ = ["book_rows", "csrf_for", "install", "require_actor", "stale_sources"]
