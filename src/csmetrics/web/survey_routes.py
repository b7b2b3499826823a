"""The public survey form: ``/survey/<signed token>``; no login, the signed link is the permission.

GET shows the form (score buttons and a comment box; plain HTML, works
without JavaScript). POST records the answer into ``survey_responses`` and
marks the link used, in one committed transaction, before saying thank you.
A forged or tampered link gets 403, an expired one 410, a reused one 409, one
whose account is not in the workspace 410 ("no longer valid"; checked again
inside the answer's transaction); none of them writes anything.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from csmetrics import surveys
from csmetrics.surveys import LinkError, SurveyLink
from csmetrics.web.store import Store

router = APIRouter(include_in_schema=False)

STATUS = {"forged": 403, "expired": 410, "used": 409, "account": 410, "invalid": 422}
QUESTIONS = {
    "nps": ("How likely are you to recommend us to a friend or colleague?", "Not at all likely", "Extremely likely"),
    "csat": ("How satisfied are you with the support you received?", "Very unsatisfied", "Very satisfied"),
    "ces": ("How easy was it to get your issue resolved?", "Very difficult", "Very easy"),
}


def _store(request: Request) -> Store:
    return request.app.state.store  # type: ignore[no-any-return]


def _refused(request: Request, exc: LinkError) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, "survey_refused.html", {"reason": exc.reason, "message": str(exc)},
        status_code=STATUS.get(exc.reason, 400))


def _form(request: Request, token: str, link: SurveyLink, error: str | None = None,
          comment: str = "", status: int = 200) -> HTMLResponse:
    store = _store(request)
    lo, hi = surveys.score_range(link.survey, store.ds.config)
    question, low, high = QUESTIONS[link.survey]
    ctx: dict[str, Any] = {"token": token, "survey": link.survey, "scores": list(range(lo, hi + 1)),
                           "question": question, "low": low, "high": high, "error": error, "comment": comment,
                           "max_comment": surveys.MAX_COMMENT}
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, "survey.html", ctx, status_code=status)


def _check(store: Store, token: str) -> SurveyLink:
    link = surveys.verify_link_token(store.survey_key, token)
    with store.write_lock:
        surveys.check_account(store.writer, link)
        if surveys.link_used(store.writer, link):
            raise LinkError("used", "this survey link has already been answered")
    return link


@router.get("/survey/{token}", response_class=HTMLResponse)
def survey_form(request: Request, token: str) -> HTMLResponse:
    try:
        link = _check(_store(request), token)
    except LinkError as exc:
        return _refused(request, exc)
    return _form(request, token, link)


@router.post("/survey/{token}", response_class=HTMLResponse)
def survey_submit(
    request: Request,
    token: str,
    score: Annotated[str | None, Form()] = None,
    comment: Annotated[str | None, Form()] = None,
) -> HTMLResponse:
    store = _store(request)
    try:
        link = _check(store, token)  # refused before the score is read: no form for a dead link
    except LinkError as exc:
        return _refused(request, exc)
    try:
        value = surveys.check_score(link.survey, score, store.ds.config)
    except LinkError as exc:
        return _form(request, token, link, error=str(exc), comment=comment or "", status=422)
    text = surveys.clean_comment(comment)
    try:
        store.write(lambda con: surveys.record_answer(con, link, value, text))
    except LinkError as exc:
        return _refused(request, exc)
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, "survey_done.html", {"survey": link.survey})
