"""REST API under /api/v1 (OpenAPI at /api/v1/openapi.json, docs at /api/docs).

Metric rows are built exactly like the CLI's ``--format json`` (compute_dataset
then to_records), so for the same parameters they are equal.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

from csmetrics import surveys
from csmetrics.periods import parse_date
from csmetrics.registry import REGISTRY, load_all
from csmetrics.report.formats import to_records
from csmetrics.schema.errors import UsageError
from csmetrics.web import data
from csmetrics.web.app import require_reader, view
from csmetrics.web.store import Store


class Error(BaseModel):
    detail: str


router = APIRouter(prefix="/api/v1", tags=["api"], responses={
    400: {"model": Error, "description": "Bad parameters (unknown metric, period or column, bad date...)"},
    401: {"model": Error, "description": "Missing or invalid bearer token"},
    404: {"model": Error, "description": "No such account, metric or ticket (or not in the token's book), or "
                                         "the model is not available"},
    429: {"model": Error, "description": "Too many failed sign-ins from this address or for this token id"},
    413: {"model": Error, "description": "Request body over 64 KiB"},
})
Reader = Depends(require_reader)


class MetricRow(BaseModel):
    metric: str
    period: str
    group: str | None
    value: float | None


class MetricDefinition(BaseModel):
    metric: str
    unit: str
    needs: list[str]
    family: str
    definition: str


class Account(BaseModel):
    model_config = {"extra": "allow"}
    account_id: str
    mrr: float | None
    health_score: float | None = None
    health_color: str | None = None


class SurveyTrigger(BaseModel):
    """A help desk's "ticket resolved" webhook: make the CSAT (or CES) link for the ticket."""

    ticket_id: str = Field(min_length=1, max_length=200)
    account_id: str | None = Field(default=None, min_length=1, max_length=200,
                                   description="Needed when the ticket is not (yet) in the workspace.")
    survey: Literal["csat", "ces"] = "csat"
    event: Literal["ticket.resolved"] = "ticket.resolved"
    ttl_days: int = Field(default=14, ge=1, le=90)


class SurveyLinkIn(BaseModel):
    """A survey link for one account, as `csmetrics survey link` makes it (that command asks here while
    the server holds the workspace)."""

    account_id: str = Field(min_length=1, max_length=200)
    survey: Literal["nps", "csat", "ces"] = "nps"
    ticket_id: str | None = Field(default=None, min_length=1, max_length=200)
    ttl_days: int = Field(default=14, ge=1, le=365)


class SurveyLinkOut(BaseModel):
    url: str
    survey: str
    account_id: str
    ticket_id: str | None
    expires_at: dt.datetime


def _store(request: Request) -> Store:
    """The store as the token's role sees it: a csm:NAME token reads only that CSM's book."""
    return view(request)


def _date(text: str | None, name: str) -> dt.date | None:
    return parse_date(text, name) if text else None


@router.get("/metrics", response_model=list[MetricRow], dependencies=[Reader])
def get_metrics(
    request: Request,
    metrics: Annotated[str | None, Query(description="Comma-separated metric names (default: all).",
                                         max_length=2000)] = None,
    period: Annotated[str, Query(description="week, month, quarter or year.")] = "month",
    start: Annotated[str | None, Query(description="First day, YYYY-MM-DD.")] = None,
    end: Annotated[str | None, Query(description="End day (exclusive), YYYY-MM-DD.")] = None,
    by: Annotated[str | None, Query(description="Group by an accounts column (segment, csm...).")] = None,
    last: Annotated[int | None, Query(description=f"Only the last N periods (at most {data.MAX_PERIODS}).",
                                      ge=1)] = None,
) -> list[dict[str, Any]]:
    """Metric values, one row per (metric, period, group): the rows of `csmetrics metrics --format json`."""
    store = _store(request)
    s, e = _date(start, "--start"), _date(end, "--end")
    data.check_periods(store, period, s, e, last)
    key = ("api-metrics", metrics, period, s, e, by, last)
    result = store.cached(key, lambda: store.compute(metrics=metrics, period=period, start=s, end=e, by=by, last=last))
    return to_records(result.rows)


@router.get("/metrics/definitions", response_model=list[MetricDefinition], dependencies=[Reader])
def get_definitions() -> list[dict[str, Any]]:
    """Every metric of the registry with its unit, input tables and definition."""
    return [{"metric": m.name, "unit": m.unit, "needs": list(m.needs), "family": m.family,
             "definition": m.definition} for m in load_all().values()]


AS_OF = ("Day to take MRR and health on, YYYY-MM-DD (default: the last day with recorded activity, "
         "not after today; the same on every endpoint and page).")


def _as_of(store: Store, text: str | None) -> dt.date:
    """The as-of day of an account-level endpoint: the one asked for, else :func:`data.last_day`."""
    return _date(text, "as_of") or data.last_day(store)


@router.get("/accounts", response_model=list[Account], dependencies=[Reader])
def get_accounts(
    request: Request,
    as_of: Annotated[str | None, Query(description=AS_OF)] = None,
    segment: Annotated[str | None, Query(max_length=200, description="Only this segment (400 if no account has it).")
                       ] = None,
    csm: Annotated[str | None, Query(max_length=200, description="Only this CSM's accounts (400 if none has it).")
                   ] = None,
) -> list[dict[str, Any]]:
    """Every account: the objects of `csmetrics accounts --format json` (MRR, health score, colour and the
    components behind it) for the same `as_of` (default: the last day with recorded activity). Without the
    health model: the account's columns and its MRR on `as_of`."""
    store = _store(request)
    data.check_segment(store, segment)
    data.check_csm(store, csm)
    day = _as_of(store, as_of)
    records = data.account_records(store, day)
    if records is not None:
        return [r for r in records if (segment is None or r.get("segment") == segment)
                and (csm is None or r.get("csm") == csm)]
    df = data.accounts_frame(store, day, segment)
    if csm is not None and "csm" in df.columns:
        df = df[df["csm"] == csm]
    return [data._record(r) for r in df.to_dict("records")]


@router.get("/accounts/{account_id}", dependencies=[Reader])
def get_account(
    request: Request,
    account_id: str,
    as_of: Annotated[str | None, Query(description=AS_OF)] = None,
) -> dict[str, Any]:
    """One account: attributes, MRR, health with components, and its subscriptions, tickets, answers..."""
    store = _store(request)
    day = _as_of(store, as_of)
    d = data.account_detail(store, account_id, day)
    if d is None:
        raise HTTPException(404, f"no account {account_id!r}")
    return {
        **d["account"], "mrr": d["mrr"], "health": d["health"],
        **{name: [data._record(r) for r in df.to_dict("records")] for name, df in d["tables"].items()},
    }


@router.get("/explain/{metric}", dependencies=[Reader])
def get_explain(
    request: Request,
    metric: str,
    period: Annotated[str, Query(description="Period label: 2025-05, 2025-Q2, 2025, 2025-W19.")],
    by: Annotated[str | None, Query()] = None,
    group: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    """A metric's definition, inputs and the rows behind its value: `csmetrics explain --format json`."""
    try:
        from csmetrics.explain import explain
    except ImportError:
        raise HTTPException(404, "explain is not available in this version") from None
    store = _store(request)
    if metric not in load_all():
        raise HTTPException(404, f"unknown metric {metric!r}")

    def build() -> dict[str, Any]:
        with store.reading():
            try:
                return explain(store.ds, metric, period, group, by).to_dict()  # type: ignore[no-any-return]
            finally:
                store.drop_temp_tables()

    return store.cached(("explain", metric, period, by, group), build)


@router.get("/health", dependencies=[Reader])
def get_health(
    request: Request,
    as_of: Annotated[str | None, Query(description=AS_OF)] = None,
) -> list[dict[str, Any]]:
    """Health score (0-100), colour and component scores of every account."""
    store = _store(request)
    day = _as_of(store, as_of)
    h = data.health_scores(store, day)
    if h is None:
        raise HTTPException(404, "the health model is not available")
    return [data._record(r) for r in h.to_dict("records")]


@router.post("/survey-triggers", status_code=201, response_model=SurveyLinkOut, dependencies=[Reader])
def post_survey_trigger(request: Request, body: SurveyTrigger) -> dict[str, Any]:
    """Make the CSAT/CES survey link for a resolved ticket (as a help desk webhook would)."""
    store = _store(request)
    account_id = body.account_id
    with store.reading():
        ds = store.ds
        if ds.has("tickets"):
            t = ds.table("tickets")
            hit = ds.backend.execute(t.filter(t.ticket_id == body.ticket_id).select("account_id"))
            if not hit.empty:
                known = str(hit["account_id"].iloc[0])
                if account_id is not None and account_id != known:
                    raise UsageError(f"ticket {body.ticket_id!r} belongs to account {known!r}, not {account_id!r}")
                account_id = known
        if account_id is None:
            raise HTTPException(404, f"no ticket {body.ticket_id!r} in the workspace: give account_id")
        acc = ds.table("accounts")
        if ds.backend.execute(acc.filter(acc.account_id == account_id).count()) == 0:
            raise HTTPException(404, f"no account {account_id!r}")
    token, link = surveys.make_link_token(store.survey_key, account_id, body.survey, body.ticket_id,
                                          dt.timedelta(days=body.ttl_days))
    url = str(request.base_url).rstrip("/") + f"/survey/{token}"
    return {"url": url, "survey": link.survey, "account_id": link.account_id, "ticket_id": link.ticket_id,
            "expires_at": link.expires_at}


@router.post("/survey-links", status_code=201, response_model=SurveyLinkOut, dependencies=[Reader])
def post_survey_link(request: Request, body: SurveyLinkIn) -> dict[str, Any]:
    """Make the survey link of one account (404 if the account is not in the workspace)."""
    store = _store(request)
    with store.write_lock:  # the connection the answer will be recorded with, so both see the same accounts
        known = surveys.account_exists(store.writer, body.account_id)
    if not known or not store.sees_account(body.account_id):  # another book's account: as if it did not exist
        raise HTTPException(404, f"no account {body.account_id!r}")
    token, link = surveys.make_link_token(store.survey_key, body.account_id, body.survey, body.ticket_id,
                                          dt.timedelta(days=body.ttl_days))
    url = str(request.base_url).rstrip("/") + f"/survey/{token}"
    return {"url": url, "survey": link.survey, "account_id": link.account_id, "ticket_id": link.ticket_id,
            "expires_at": link.expires_at}


__all__ = ["REGISTRY", "router"]
