"""Admin endpoints under /api/v1 (admin tokens only): tokens, the audit log, and ingest while serving.

The server holds its workspace for writing, so these are how other processes
write it: ``csmetrics token create|list|revoke --server URL`` and
``csmetrics ingest --server URL`` call them (see docs/api.md).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, HTTPException, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from csmetrics.schema.errors import CsmetricsError, DataError, UsageError
from csmetrics.schema.tables import TABLE_ORDER
from csmetrics.web import audit, auth
from csmetrics.web.api import Error
from csmetrics.web.app import client_ip, require_admin
from csmetrics.web.store import Store

log = logging.getLogger(__name__)


router = APIRouter(prefix="/api/v1", tags=["admin"], responses={
    400: {"model": Error, "description": "Bad parameters (unknown role, CSM not in the accounts...)"},
    401: {"model": Error, "description": "Missing or invalid bearer token"},
    403: {"model": Error, "description": "The token's role is not admin"},
    429: {"model": Error, "description": "Too many failed sign-ins from this address or for this token id"},
})
Admin = Depends(require_admin)

UPLOAD_NAMES = frozenset([f"{t}.{ext}" for t in TABLE_ORDER for ext in ("csv", "parquet")] + ["csmetrics.toml"])
"""The file names ``POST /api/v1/ingest`` takes: those ``csmetrics ingest --data DIR`` reads."""


class TokenIn(BaseModel):
    name: str = Field(default="", max_length=200, description="What the token is for.")
    role: str = Field(max_length=300, description="admin, viewer or csm:NAME (NAME a CSM of the accounts' csm "
                                                  "column); no default: the admin chooses.")


class TokenOut(BaseModel):
    token_id: str
    name: str
    role: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="The token itself: shown only in this response, stored hashed.")


class AuditEvent(BaseModel):
    at: dt.datetime
    actor: str | None
    role: str | None
    action: str
    target: str | None
    ip: str | None
    outcome: str


class DefectOut(BaseModel):
    file: str
    row: int | None
    column: str | None
    value: str | None
    expected: str


class IngestError(BaseModel):
    detail: str
    defects: list[DefectOut]


class IngestOut(BaseModel):
    tables: dict[str, dict[str, int]] = Field(description="Per table: rows read and rows now stored.")
    alerts: str | None = Field(None, description="The alerts evaluated after the ingest (new alerts and "
                                                 "deliveries), or null when no alerts.toml is set up.")


def _store(request: Request) -> Store:
    return request.app.state.store  # type: ignore[no-any-return]


def _actor(request: Request) -> tuple[str | None, str]:
    p = request.state.principal
    return p.token_id, p.scope.role


def _token_out(i: auth.TokenInfo) -> dict[str, Any]:
    return {"token_id": i.token_id, "name": i.name, "role": i.role, "created_at": i.created_at,
            "revoked_at": i.revoked_at}


@router.post("/tokens", status_code=201, response_model=TokenCreated, dependencies=[Admin])
def post_token(request: Request, body: TokenIn) -> dict[str, Any]:
    """Create a token with a role (admin only); the token is in this response only."""
    store = _store(request)
    actor, role = _actor(request)
    try:
        with store.write_lock:
            token, info = auth.create_token(store.writer, body.name, body.role)
    except UsageError as exc:
        store.log("token.create", f"fail: {exc}", actor, role, body.role, client_ip(request))
        raise
    store.log("token.create", "ok", actor, role, f"{info.token_id} ({info.role})", client_ip(request))
    return {**_token_out(info), "token": token}


@router.get("/tokens", response_model=list[TokenOut], dependencies=[Admin])
def get_tokens(request: Request) -> list[dict[str, Any]]:
    """Every token (ids, names, roles, times; never the tokens), oldest first."""
    store = _store(request)
    with store.write_lock:
        return [_token_out(i) for i in auth.list_tokens(store.writer)]


@router.delete("/tokens/{token_id}", response_model=TokenOut, dependencies=[Admin],
               responses={404: {"model": Error, "description": "No such token"}})
def delete_token(request: Request, token_id: str) -> dict[str, Any]:
    """Revoke a token: requests with it get 401 from then on (a second revoke keeps the first time)."""
    store = _store(request)
    actor, role = _actor(request)
    try:
        with store.write_lock:
            info = auth.revoke_token(store.writer, token_id)
    except UsageError:
        store.log("token.revoke", "fail: no such token", actor, role, token_id[:100], client_ip(request))
        raise HTTPException(404, f"no token with id {token_id[:100]!r}") from None
    store.log("token.revoke", "ok", actor, role, token_id, client_ip(request))
    return _token_out(info)


@router.get("/audit", response_model=list[AuditEvent], dependencies=[Admin])
def get_audit(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=10_000, description="At most this many events, newest first.")] = 100,
    action: Annotated[str | None, Query(max_length=50, description="Only this action (login, auth, token.use, "
                                                                   "token.create, token.revoke, ingest).")] = None,
    actor: Annotated[str | None, Query(max_length=50, description="Only this token id.")] = None,
) -> list[dict[str, Any]]:
    """The audit log: sign-ins, token use (first per token and day), token administration and ingests."""
    store = _store(request)
    with store.write_lock:
        return [e.to_dict() for e in audit.read(store.writer, limit, action, actor)]


class RunOut(BaseModel):
    summary: str = Field(description="What the run did, in one line (as `csmetrics sync` / `alerts run` say).")
    alerts: str | None = Field(None, description="After a sync: the alerts evaluated (null when no alerts.toml "
                                                 "is set up).")


@router.post("/sync/{source}", response_model=RunOut, dependencies=[Admin], responses={
    400: {"model": Error, "description": "Unknown source, a source with no API, missing credentials, bad settings"},
    502: {"model": Error, "description": "The vendor's API failed (network, 401, 5xx after retries); nothing "
                                         "was written"}})
def post_sync(request: Request, source: str,
              full: Annotated[bool, Query(description="Re-list every object instead of what is new.")] = False
              ) -> dict[str, Any]:
    """Sync a source into the served workspace, exactly as `csmetrics sync SOURCE` would: credentials from
    the server's environment, settings from its csmetrics.toml (`serve --config`). Requests wait meanwhile;
    pages show the new data at once. Then alerts are evaluated when an alerts.toml is set up."""
    from csmetrics.sources import SourceError
    from csmetrics.web.schedule import sync_one

    store = _store(request)
    actor, role = _actor(request)
    target = _SAFE.sub("?", source)[:40]
    try:
        summary = sync_one(store, source, getattr(request.app.state, "sources_config", None), full)
    except SourceError as exc:
        store.log("sync", f"fail: {exc}"[:300], actor, role, target, client_ip(request))
        raise HTTPException(502, str(exc)) from None
    except CsmetricsError as exc:
        store.log("sync", f"fail: {exc}"[:300], actor, role, target, client_ip(request))
        raise
    store.log("sync", "ok", actor, role, target, client_ip(request))
    return {"summary": summary, "alerts": _alerts_after(store)}


@router.post("/alerts/run", response_model=RunOut, dependencies=[Admin])
def post_alerts_run(request: Request) -> dict[str, Any]:
    """Evaluate the alert rules on the served workspace and deliver the outbox (`csmetrics alerts run`), as
    of the last data day."""
    from csmetrics.web.schedule import evaluate_alerts

    store = _store(request)
    actor, role = _actor(request)
    summary = evaluate_alerts(store)
    store.log("alerts.run", "ok", actor, role, None, client_ip(request))
    return {"summary": summary}


_SAFE = re.compile(r"[^A-Za-z0-9._-]")


@router.post("/ingest", response_model=IngestOut, dependencies=[Admin], responses={
    411: {"model": Error, "description": "No Content-Length"},
    413: {"model": Error, "description": "Upload over 256 MiB"},
    422: {"model": IngestError, "description": "The data breaks the contract: every defect with file, row, column"},
})
def post_ingest(request: Request, files: Annotated[list[UploadFile], File(
        description="The data directory's files, by their names: accounts.csv, subscriptions.csv... "
                    "(or .parquet), and csmetrics.toml.")]) -> Any:
    """Validate the uploaded files and upsert them into the served workspace, all or nothing, exactly like
    `csmetrics ingest --data DIR`; pages and the API show the new data on the next request."""
    store = _store(request)
    actor, role = _actor(request)
    ip = client_ip(request)
    names = [Path(f.filename or "").name for f in files]
    target = ", ".join(_SAFE.sub("?", n)[:60] for n in names)
    unknown = [n for n in names if n not in UPLOAD_NAMES]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if unknown or repeated or not names:
        msg = (f"unknown file name {_SAFE.sub('?', unknown[0])[:60]!r}: expected accounts.csv, subscriptions.csv... "
               "(or .parquet) or csmetrics.toml, as in a data directory" if unknown
               else f"{repeated[0]} is uploaded twice" if repeated else "no files uploaded")
        store.log("ingest", f"fail: {msg}", actor, role, target, ip)
        raise HTTPException(400, msg)
    tmp = Path(tempfile.mkdtemp(prefix="csmetrics-upload-"))
    try:
        for name, f in zip(names, files, strict=True):
            with (tmp / name).open("wb") as out:
                shutil.copyfileobj(f.file, out)
        try:
            counts = store.ingest(tmp)
        except DataError as exc:
            defects = [{"file": _local(d.file, tmp), "row": d.row, "column": d.column, "value": d.value,
                        "expected": d.expected} for d in exc.defects]
            detail = _local(str(exc), tmp)
            store.log("ingest", f"fail: {detail.splitlines()[0]}", actor, role, target, ip)
            return JSONResponse({"detail": detail, "defects": defects}, status_code=422)
        except UsageError as exc:
            store.log("ingest", f"fail: {_local(str(exc), tmp)}", actor, role, target, ip)
            raise HTTPException(400, _local(str(exc), tmp)) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    store.log("ingest", "ok", actor, role, target, ip)
    return {"tables": counts, "alerts": _alerts_after(store)}


def _alerts_after(store: Store) -> str | None:
    """The alerts evaluated after an ingest (as ``csmetrics ingest`` does), or None when none are set up.
    A failing rule or delivery never undoes the ingest: it is reported in the answer and the log."""
    from csmetrics.web.schedule import alerts_after_ingest

    try:
        return alerts_after_ingest(store)
    except CsmetricsError as exc:
        log.warning("alerts after an ingest through the server: %s", exc)
        return f"alerts not evaluated: {exc}"


def _local(text: str, tmp: Path) -> str:
    """A message without the server's temporary directory: files are named as uploaded."""
    return text.replace(str(tmp) + "/", "").replace(str(tmp), "the upload")
