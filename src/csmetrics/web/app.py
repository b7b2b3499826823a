"""The FastAPI application: dashboard pages, REST API under /api/v1, survey forms.

Thin like the CLI: routes parse the request, ask :mod:`csmetrics.web.data`
or the library, and render. Built by :func:`create_app` around one
:class:`~csmetrics.web.store.Store` (the open workspace).
"""

from __future__ import annotations

import datetime as dt
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
from csmetrics.web.store import Store

WEB = Path(__file__).parent
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
MAX_BODY = 64 * 1024
"""Largest request body accepted, in bytes (survey answers and webhooks are small)."""
COOKIE = "csmetrics_token"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


class Unauthorized(Exception):
    """No valid token: 401 for the API, a redirect to the login form for pages."""


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, whether or not Content-Length is sent."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
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


async def _too_large(send: Send) -> None:
    body = b'{"detail":"request body too large (limit 64 KiB)"}'
    await send({"type": "http.response.start", "status": 413,
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
    from csmetrics.web import api, pages, survey_routes

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

    @app.exception_handler(CsmetricsError)
    async def domain_error(request: Request, exc: CsmetricsError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": str(exc)}, status_code=400)
        return app.state.templates.TemplateResponse(
            request, "error.html", {"message": str(exc), "status": 400, "nav": None, "title": "Error"},
            status_code=400)

    app.include_router(api.router)
    app.include_router(survey_routes.router)
    app.include_router(pages.router)
    return app


def bearer(request: Request) -> str | None:
    h = request.headers.get("authorization", "")
    if h[:7].lower() == "bearer ":
        return h[7:].strip()
    return None


def require_reader(request: Request) -> None:
    """Dependency: a valid token in the Authorization header (API) or the login cookie (pages)."""
    store: Store = request.app.state.store
    if store.open_access:
        return
    token = bearer(request)
    if token is None and request.method in ("GET", "HEAD"):
        # The login cookie only reads: anything that writes needs the Authorization header (no CSRF).
        token = request.cookies.get(COOKIE)
    if not token or not store.check_token(token):
        raise Unauthorized()


def today() -> dt.date:
    return clock.today()
