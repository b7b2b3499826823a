"""The FastAPI application: dashboard pages, REST API under /api/v1, survey forms.

Thin like the CLI: routes parse the request, ask :mod:`csmetrics.web.data`
or the library, and render. Built by :func:`create_app` around one
:class:`~csmetrics.web.store.Store` (the open workspace).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import plotly
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from csmetrics import clock
from csmetrics.report.formats import format_value
from csmetrics.schema.errors import CsmetricsError
from csmetrics.web import auth
from csmetrics.web.ratelimit import keys_for
from csmetrics.web.scope import VIEWER
from csmetrics.web.scope import Scope as ScopeT
from csmetrics.web.store import Store

WEB = Path(__file__).parent
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
MAX_BODY = 64 * 1024
"""Largest request body accepted, in bytes (survey answers and webhooks are small)."""
INGEST_PATH = "/api/v1/ingest"
MAX_INGEST_BODY = 256 * 1024 * 1024
"""Largest upload to ``POST /api/v1/ingest`` (256 MiB, with a Content-Length; spooled to disk, not memory).
A larger data directory is ingested with ``csmetrics ingest`` while the server is stopped."""
COOKIE = "csmetrics_token"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


class Unauthorized(Exception):
    """No valid token: 401 for the API, a redirect to the login form for pages."""


class Forbidden(Exception):
    """A valid token whose role may not do this (an admin action): 403."""


class RateLimited(Exception):
    """Too many failed sign-ins from this address or for this token id: 429 with Retry-After."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"too many failed sign-ins: try again in {retry_after} s")


@dataclass(frozen=True)
class Principal:
    """Who is asking: the token's id (None with --open and no token) and its scope."""

    token_id: str | None
    scope: ScopeT


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, whether or not Content-Length is sent."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("path") == INGEST_PATH and scope.get("method") == "POST":
            await self._upload(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.limit
                except ValueError:
                    too_big = True
                if too_big:
                    await _too_large(send)
                    return
        if scope.get("method") not in ("POST", "PUT", "PATCH", "DELETE"):
            await self.app(scope, receive, send)
            return
        # Read the whole (small) body first, so a streamed body without Content-Length
        # is refused before the app starts parsing it.
        chunks: list[bytes] = []
        seen = 0
        while True:
            msg = await receive()
            if msg["type"] != "http.request":
                return  # client went away
            body = msg.get("body", b"")
            seen += len(body)
            if seen > self.limit:
                await _too_large(send)
                return
            chunks.append(body)
            if not msg.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _upload(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ingest upload: a Content-Length up to MAX_INGEST_BODY is required (the HTTP server then reads
        no more than that), and the body is streamed to the app (which spools files to disk)."""
        length = None
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = None
        if length is None:
            await _too_large(send, 411, b"an upload needs a Content-Length header")
            return
        if length > MAX_INGEST_BODY:
            await _too_large(send, 413, b"upload too large (limit 256 MiB): run csmetrics ingest with the "
                                        b"server stopped")
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            msg = await receive()
            seen += len(msg.get("body", b""))
            if seen > length:  # only an ASGI server that does not frame by Content-Length gets here
                return {"type": "http.disconnect"}
            return msg

        await self.app(scope, counted, send)


async def _too_large(send: Send, status: int = 413, detail: bytes = b"request body too large (limit 64 KiB)") -> None:
    body = b'{"detail":"' + detail + b'"}'
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def add_headers(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                headers = list(msg.get("headers", []))
                headers += [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                ]
                headers.append((b"content-security-policy", CSP.encode()))
                if path.startswith("/survey/"):
                    headers.append((b"cache-control", b"no-store"))
                msg["headers"] = headers
            await send(msg)

        await self.app(scope, receive, add_headers)


def fmt(v: Any, unit: str = "") -> str:
    """A metric value for people: 12.3% for ratios, 1,234 for money and counts."""
    return format_value(v, unit, null="–", money_decimals=0)


def templates() -> Jinja2Templates:
    t = Jinja2Templates(directory=str(WEB / "templates"))
    t.env.autoescape = True
    t.env.filters["fmt"] = fmt
    t.env.globals["urlencode"] = urlencode
    return t


def create_app(store: Store) -> FastAPI:
    """The whole web application around one open workspace."""
    from csmetrics.web import admin, api, pages, survey_routes, team

    app = FastAPI(
        title="csmetrics API",
        version="1",
        description=(
            "Customer success metrics, accounts, explanations and health scores, read with a bearer token "
            "(`csmetrics token create`). Metric rows are exactly those of `csmetrics metrics --format json`. "
            "See docs/api.md."
        ),
        # FastAPI's Swagger UI loads its JS from a CDN; /api/docs is rendered here instead (no internet).
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    app.state.store = store
    app.state.templates = templates()
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit)
    app.mount("/static", StaticFiles(directory=str(WEB / "static")), name="static")

    @app.get("/static-plotly/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(PLOTLY_JS, media_type="text/javascript",
                            headers={"cache-control": "public, max-age=86400"})

    @app.get("/api/docs", include_in_schema=False, response_class=HTMLResponse)
    def api_docs(request: Request) -> HTMLResponse:
        spec = app.openapi()
        ops = []
        for path, methods in spec["paths"].items():
            for method, op in methods.items():
                ops.append({"method": method.upper(), "path": path, "summary": op.get("summary", ""),
                            "description": op.get("description", ""), "parameters": op.get("parameters", []),
                            "body": "requestBody" in op, "responses": op.get("responses", {})})
        return app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
            request, "api_docs.html", {"spec": spec, "ops": ops, "title": "API", "nav": None, "f": None})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    @app.exception_handler(Unauthorized)
    async def unauthorized(request: Request, exc: Unauthorized) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": "missing or invalid bearer token"}, status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})
        nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/login?" + urlencode({"next": nxt}), status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": str(exc)}, status_code=403)
        return app.state.templates.TemplateResponse(
            request, "error.html", {"message": str(exc), "status": 403, "nav": None, "title": "Forbidden"},
            status_code=403)

    @app.exception_handler(RateLimited)
    async def limited(request: Request, exc: RateLimited) -> Response:
        headers = {"Retry-After": str(exc.retry_after)}
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": str(exc)}, status_code=429, headers=headers)
        return app.state.templates.TemplateResponse(
            request, "error.html", {"message": str(exc), "status": 429, "nav": None, "title": "Too many attempts"},
            status_code=429, headers=headers)

    @app.exception_handler(CsmetricsError)
    async def domain_error(request: Request, exc: CsmetricsError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": str(exc)}, status_code=400)
        return app.state.templates.TemplateResponse(
            request, "error.html", {"message": str(exc), "status": 400, "nav": None, "title": "Error"},
            status_code=400)

    app.include_router(api.router)
    app.include_router(admin.router)
    app.include_router(survey_routes.router)
    team.install(app)  # alerts, my book, jobs API, the stale-source banner (web/team.py)
    app.include_router(pages.router)
    return app


def bearer(request: Request) -> str | None:
    h = request.headers.get("authorization", "")
    if h[:7].lower() == "bearer ":
        return h[7:].strip()
    return None


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def authenticate(store: Store, token: str, ip: str | None, action: str) -> auth.TokenInfo | None:
    """The record of ``token``, rate limited and audited: :class:`RateLimited` when this address or token id
    has failed too often (see :mod:`csmetrics.web.ratelimit`), None (a failure, counted and audited) when the
    token is not valid. ``action`` names the audit event of a failure (``login`` or ``auth``)."""
    token_id = auth.token_id_of(token)
    keys = keys_for(ip, token_id)
    wait = store.limiter.retry_after(keys)
    if wait is not None:
        if store.limiter.first_refusal(keys):
            store.log(action, "limited", token_id, None, None, ip)
        raise RateLimited(wait)
    info = store.lookup_token(token)
    if info is None:
        store.limiter.fail(keys)
        store.log(action, "fail", token_id, None, None, ip)
        return None
    store.note_use(info, ip)
    return info


def require_reader(request: Request) -> None:
    """Dependency: a valid token in the Authorization header (API) or the login cookie (pages).

    Sets ``request.state.principal`` (who) and ``request.state.view`` (the store as their role sees it:
    every route reads through the view, so a ``csm:NAME`` token sees only that book).
    """
    store: Store = request.app.state.store
    token = bearer(request)
    if token is None and request.method in ("GET", "HEAD"):
        # The login cookie only reads: anything that writes needs the Authorization header (no CSRF).
        token = request.cookies.get(COOKIE)
    principal: Principal | None = None
    if token:
        if store.open_access:
            # --open: anyone reads as a viewer; a valid token still counts (an admin may administer).
            info = store.lookup_token(token)
        else:
            info = authenticate(store, token, client_ip(request), "auth")
        if info is not None:
            principal = Principal(info.token_id, ScopeT.of(info.role))
    if principal is None:
        if not store.open_access:
            raise Unauthorized()
        principal = Principal(None, VIEWER)
    request.state.principal = principal
    request.state.view = store.view(principal.scope)


def require_admin(request: Request) -> None:
    """Dependency: :func:`require_reader`, and the token's role is ``admin`` (else 403)."""
    require_reader(request)
    p: Principal = request.state.principal
    if not p.scope.is_admin:
        store: Store = request.app.state.store
        store.log("forbidden", "fail", p.token_id, p.scope.role, f"{request.method} {request.url.path}"[:200],
                  client_ip(request))
        raise Forbidden("this needs an admin token (role admin)")


def view(request: Request) -> Store:
    """The store as the request's role sees it (set by :func:`require_reader`)."""
    v = getattr(request.state, "view", None)
    return v if v is not None else request.app.state.store  # type: ignore[no-any-return]


def today() -> dt.date:
    return clock.today()
