"""Dashboard pages: overview, revenue, retention, customers, account, CSMs, feedback, definitions.

Every page reads the shared filters (period grain, start, end, segment) from
the query string, so a URL reproduces a view. Pages are plain HTML that HTMX
enhances (boosted links and forms swap the page without a full reload).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from csmetrics.registry import REGISTRY, load_all
from csmetrics.schema.errors import UsageError
from csmetrics.web import charts, data
from csmetrics.web.app import COOKIE, RateLimited, authenticate, client_ip, require_reader, today, view
from csmetrics.web.data import Filters
from csmetrics.web.store import Store

router = APIRouter(include_in_schema=False)
Reader = Depends(require_reader)

NAV = (("/", "Overview"), ("/revenue", "Revenue"), ("/retention", "Retention"), ("/customers", "Customers"),
       ("/csms", "CSMs"), ("/feedback", "Feedback"), ("/definitions", "Definitions"))
KPIS = (
    ("mrr", "MRR", True),
    ("net_revenue_retention", "Net revenue retention", True),
    ("customer_churn_rate", "Customer churn", False),
    ("nps", "NPS", True),
    ("csat", "CSAT", True),
    ("fcr_rate", "First contact resolution", True),
)
MOVES = (("new", "new_mrr"), ("reactivation", "reactivation_mrr"), ("expansion", "expansion_mrr"),
         ("contraction", "contraction_mrr"), ("churned", "churned_mrr"))
HEALTH = ("green", "yellow", "red")
SORTABLE = ("account_id", "name", "segment", "csm", "mrr", "health_score")


def _store(request: Request) -> Store:
    """The store as the signed-in role sees it: a csm:NAME token reads only that CSM's book."""
    return view(request)


def _filters(request: Request) -> Filters:
    """The shared filters of the query string; an unknown segment is a 400 naming the valid ones."""
    q = request.query_params
    f = Filters.parse(q.get("period"), q.get("start"), q.get("end"), q.get("segment"))
    data.check_segment(_store(request), f.segment)
    return f


def render(request: Request, template: str, f: Filters | None, **ctx: Any) -> HTMLResponse:
    store = _store(request)
    base: dict[str, Any] = {
        "nav": NAV,
        "path": request.url.path,
        "f": f,
        "qs": urlencode(f.query()) if f else "",
        "segments": data.segments(store) if f else [],
        "open_access": store.open_access,
        "units": {m.name: m.unit for m in load_all().values()},
    }
    base.update(ctx)
    return request.app.state.templates.TemplateResponse(request, template, base)  # type: ignore[no-any-return]


WARM_WAIT = 1.5
"""Seconds a page waits for the server's warm-up to reach it before showing the warm-up's progress."""
WARM_RETRY = 2
STEP_LABELS = {
    "health": "scoring the health of every account",
    "customers": "the customers table",
    "overview": "the overview's metrics",
    "revenue": "the revenue metrics",
    "retention": "retention and cohorts",
    "csms": "the metrics per CSM",
    "feedback": "the themes of the comments",
}


def warming(request: Request, step: str, page: str) -> HTMLResponse | None:
    """While the server warms up (after a start, an ingest or a sync), a page whose results are not ready
    yet answers at once with the warm-up's progress (and reloads itself) instead of a request that hangs
    for as long as the health model takes; None when the page can be computed now."""
    store = _store(request)
    if store.page_ready(step, WARM_WAIT):
        return None
    status = store.warm_status()
    if status is not None:
        status["label"] = STEP_LABELS.get(status["step"], status["step"])
    resp = render(request, "warming.html", None, title="Computing the numbers", warm=status, retry=WARM_RETRY,
                  page=page)
    resp.headers["Retry-After"] = str(WARM_RETRY)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def change(cur: float | None, prev: float | None, unit: str) -> tuple[str, float | None]:
    """Text for the change vs the previous period, and its signed size (for the colour)."""
    if cur is None or prev is None:
        return "no previous value", None
    d = cur - prev
    if unit == "ratio":
        return f"{100 * d:+.1f} pp vs previous", d
    if unit == "currency" and prev:
        return f"{100 * d / abs(prev):+.1f}% vs previous", d
    return f"{d:+.1f} vs previous", d


def overview_context(store: Store, f: Filters) -> dict[str, Any]:
    names = [k for k, _, _ in KPIS]
    s = data.series(store, f, names + ["active_customers"])
    tiles = []
    for name, label, up_good in KPIS:
        vals = s.values(name)
        if not vals:
            tiles.append({"name": name, "label": label, "available": False})
            continue
        # The latest period with a value: a period just begun may have no survey or ticket yet.
        i = max((k for k, v in enumerate(vals) if v is not None), default=len(vals) - 1)
        cur = vals[i]
        prev = vals[i - 1] if i > 0 else None
        text, d = change(cur, prev, REGISTRY[name].unit)
        good = None if d is None or d == 0 else (d > 0) == up_good
        tiles.append({"name": name, "label": label, "available": True, "value": cur, "unit": REGISTRY[name].unit,
                      "change": text, "good": good, "spark": charts.sparkline(vals), "period": s.labels[i],
                      "latest": i == len(vals) - 1})
    day = data.as_of(store, s.periods)
    mix = health_mix(store, day, f.segment)
    mix_change = None
    if mix is not None and len(s.periods) > 1:
        before = health_mix(store, s.periods[-2].last, f.segment)
        if before is not None:
            mix_change = ", ".join(f"{c} {mix[c] - before[c]:+d}" for c in HEALTH) + f" vs {s.periods[-2].label}"
    return {"tiles": tiles, "mix": mix, "mix_change": mix_change, "as_of": day, "labels": s.labels, "notes": s.notes,
            "mrr_chart": charts.line("MRR", s.labels, {"MRR": s.values("mrr")}) if s.has("mrr") else None}


def health_mix(store: Store, day: dt.date, segment: str | None, csm: str | None = None) -> dict[str, int] | None:
    df = data.accounts_frame(store, day, segment)
    if "health_color" not in df.columns:
        return None
    df = df[df["mrr"] > 0]
    if csm is not None:
        df = df[df["csm"] == csm]
    counts = df["health_color"].value_counts()
    return {c: int(counts.get(c, 0)) for c in HEALTH}


def revenue_context(store: Store, f: Filters, bridge: str | None) -> dict[str, Any]:
    names = ["mrr", "starting_mrr", "net_new_mrr", "arpa", "active_customers"] + [m for _, m in MOVES]
    s = data.series(store, f, names)
    ctx: dict[str, Any] = {"labels": s.labels, "notes": s.notes, "available": s.has("mrr")}
    if not s.has("mrr"):
        return ctx
    labels = s.labels
    # Default bridge: the latest period with any MRR movement (a period just begun often has none).
    moved = [k for k in range(len(labels)) if any(s.values(m)[k] for _, m in MOVES)]
    if bridge and bridge not in labels:
        msg = (f"bridge {bridge[:40]!r} is not a {f.period} of the range shown ({labels[0]} to {labels[-1]}): "
               "choose one of those, or change the range to include it")
        raise UsageError(msg)
    pick = bridge or labels[moved[-1] if moved else -1]
    i = labels.index(pick)
    steps = {}
    for name, m in MOVES:
        v = s.values(m)[i] or 0.0
        steps[name] = -v if name in ("contraction", "churned") else v
    ctx.update(
        mrr_chart=charts.line("MRR at the end of each period", labels, {"MRR": s.values("mrr")}),
        moves_chart=charts.movements(labels, {n: s.values(m) for n, m in MOVES}),
        bridge_chart=charts.waterfall(pick, s.values("starting_mrr")[i] or 0.0, steps, s.values("mrr")[i] or 0.0),
        bridge=pick,
        table=[(m, [s.values(m)[k] for k in range(len(labels))]) for m in names if s.has(m)],
    )
    return ctx


def retention_context(store: Store, f: Filters) -> dict[str, Any]:
    names = ["customer_churn_rate", "customer_retention_rate", "gross_revenue_retention", "net_revenue_retention",
             "renewal_rate", "customers_start", "churned_customers"]
    s = data.series(store, f, names)
    ctx: dict[str, Any] = {"labels": s.labels, "notes": s.notes, "available": s.has("customer_churn_rate")}
    if not s.has("customer_churn_rate"):
        return ctx
    cohorts, cols, matrix, sizes = data.cohort_retention(store, f)
    rates = {REGISTRY[n].name: s.values(n) for n in names[:5] if s.has(n)}
    ctx.update(
        rates_chart=charts.line("Customer churn and retention", s.labels,
                                {"customer churn": s.values("customer_churn_rate"),
                                 "customer retention": s.values("customer_retention_rate")}, percent=True),
        revenue_chart=charts.line("Revenue retention", s.labels,
                                  {"gross revenue retention": s.values("gross_revenue_retention"),
                                   "net revenue retention": s.values("net_revenue_retention")}, percent=True),
        cohort_chart=charts.heatmap("Cohort retention (share of each cohort paying at the end of the period)",
                                    cols, cohorts, matrix) if cohorts else None,
        cohorts=list(zip(cohorts, sizes, matrix, strict=True)),
        cols=cols,
        table=[(n, v) for n, v in rates.items()] + [(n, s.values(n)) for n in names[5:] if s.has(n)],
    )
    return ctx


@router.get("/", response_class=HTMLResponse, dependencies=[Reader])
def overview(request: Request) -> HTMLResponse:
    f = _filters(request)
    if (wait := warming(request, "overview", "the overview")) is not None:
        return wait
    return render(request, "overview.html", f, title="Overview", **overview_context(_store(request), f))


@router.get("/revenue", response_class=HTMLResponse, dependencies=[Reader])
def revenue(request: Request, bridge: str | None = None) -> HTMLResponse:
    f = _filters(request)
    if (wait := warming(request, "revenue", "the revenue page")) is not None:
        return wait
    return render(request, "revenue.html", f, title="Revenue", **revenue_context(_store(request), f, bridge))


@router.get("/retention", response_class=HTMLResponse, dependencies=[Reader])
def retention(request: Request) -> HTMLResponse:
    f = _filters(request)
    if (wait := warming(request, "retention", "the retention page")) is not None:
        return wait
    return render(request, "retention.html", f, title="Retention", **retention_context(_store(request), f))


@router.get("/customers", response_class=HTMLResponse, dependencies=[Reader])
def customers(
    request: Request,
    csm: str | None = None,
    health: str | None = None,
    q: str | None = None,
    sort: str | None = None,
    dir: str | None = None,
    page: str | None = None,
    size: str | None = None,
) -> HTMLResponse:
    """Accounts filtered, sorted and paged on the server (web/customers.py: bad values are a 400)."""
    from csmetrics.web.customers import check_sort, listing

    store = _store(request)
    f = _filters(request)
    if (wait := warming(request, "customers", "the customers")) is not None:
        return wait
    csm, health = csm or None, health or None  # the form's "all" sends an empty value
    data.check_csm(store, csm)
    ps = data.periods(store, f)
    day = data.as_of(store, ps)
    df = data.accounts_frame(store, day)  # every account: the segment is filtered by listing, on a cached frame
    has_health = "health_color" in df.columns
    data.check_value("health colour", health, list(HEALTH) if has_health else [])
    sort, desc = check_sort(sort, dir, list(df.columns))
    part = listing(df, csm, health, q, sort, "desc" if desc else "asc", page, size, segment=f.segment)
    columns = [c for c in ("name", "segment", "csm") if c in df.columns]
    rows = [data._record(r) for r in part.rows.to_dict("records")]
    extra = {"csm": csm or "", "health": health or "", "q": q or ""}
    return render(request, "customers.html", f, title="Customers", rows=rows, total=part.total, as_of=day,
                  csms=data.csms(store), sort=sort, desc=desc, extra=extra, has_health=has_health, columns=columns,
                  page=part.page, pages=part.pages, size=part.size,
                  columns_labels=[(c, c) for c in columns] + [("mrr", "MRR")]
                  + ([("health_score", "health score")] if has_health else []))


@router.get("/accounts/{account_id:path}", response_class=HTMLResponse, dependencies=[Reader])
def account(request: Request, account_id: str) -> Response:
    store = _store(request)
    f = _filters(request)
    if (wait := warming(request, "health", "the account")) is not None:
        return wait
    ps = data.periods(store, f)
    day = data.as_of(store, ps)
    d = data.account_detail(store, account_id, day)
    if d is None:
        resp = render(request, "error.html", f, title="Not found", message=f"no account {account_id!r}", status=404)
        resp.status_code = 404
        return resp
    tables = {k: [data._record(r) for r in v.to_dict("records")] for k, v in d["tables"].items()}
    subs = [{"label": r["subscription_id"], "start": r["started_at"], "end": r.get("ended_at"),
             "hover": f"{r['subscription_id']}: {r.get('amount')} per {r.get('interval') or 'month'}"}
            for r in tables.get("subscriptions", [])]
    events = [{"kind": "ticket", "at": r["opened_at"], "hover": f"ticket {r['ticket_id']}"}
              for r in tables.get("tickets", [])]
    events += [{"kind": f"{r['survey']} answer", "at": r["responded_at"], "hover": f"{r['survey']} {r['score']:g}"}
               for r in tables.get("survey_responses", [])]
    components = health_components(d["health"]) if d["health"] else []
    chart = charts.timeline(subs, events, today().isoformat()) if subs or events else None
    return render(request, "account.html", f, title=f"Account {account_id}", a=d["account"], mrr=d["mrr"],
                  health=d["health"], components=components, tables=tables, timeline=chart, as_of=day)


def health_components(h: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of (component, value, score, weight, contribution) from the model's C_score, C_value... columns."""
    names = [k[: -len("_score")] for k in h if k.endswith("_score") and k != "health_score"]
    return [{"component": n, "value": h.get(f"{n}_value"), "score": h.get(f"{n}_score"),
             "weight": h.get(f"{n}_weight"), "contribution": h.get(f"{n}_contribution")} for n in names]


@router.get("/csms", response_class=HTMLResponse, dependencies=[Reader])
def csms(request: Request) -> HTMLResponse:
    store = _store(request)
    f = _filters(request)
    if (wait := warming(request, "csms", "the CSMs page")) is not None:
        return wait
    if "csm" not in store.ds.account_columns:
        return render(request, "csms.html", f, title="CSMs", rows=[], available=False)
    return render(request, "csms.html", f, title="CSMs", available=True, **csms_context(store, f))


def csms_context(store: Store, f: Filters) -> dict[str, Any]:
    """Per CSM: accounts, paying accounts, the headline metrics of the last period and the health mix."""
    names = ["mrr", "active_customers", "customer_churn_rate", "net_revenue_retention", "nps"]
    s = data.series(store, f, names, by="csm")
    last = s.labels[-1]
    day = data.as_of(store, s.periods)
    acc = data.accounts_frame(store, day, f.segment)
    rows = []
    for csm_name, part in acc.groupby(acc["csm"].fillna("(none)")):
        r: dict[str, Any] = {"csm": csm_name, "accounts": len(part), "paying": int((part["mrr"] > 0).sum())}
        for n in names:
            key = (csm_name, last)
            r[n] = None
            if n in s.frame.columns and key in s.frame.index:
                v = s.frame.loc[key, n]
                r[n] = None if v != v else float(v)
        r["mix"] = health_mix(store, day, f.segment, str(csm_name)) if csm_name != "(none)" else None
        rows.append(r)
    return {"rows": rows, "period": last, "as_of": day, "notes": s.notes}


@router.get("/feedback", response_class=HTMLResponse, dependencies=[Reader])
def feedback(request: Request) -> HTMLResponse:
    f = _filters(request)
    if (wait := warming(request, "feedback", "the feedback page")) is not None:
        return wait
    return render(request, "feedback.html", f, title="Feedback", **feedback_context(_store(request), f))


def feedback_context(store: Store, f: Filters) -> dict[str, Any]:
    """The feedback page's charts, themes and latest comments (also computed by the server's warm-up)."""
    names = ["nps", "nps_margin_of_error", "nps_responses", "csat", "csat_responses", "ces", "ces_responses"]
    s = data.series(store, f, names)
    ctx: dict[str, Any] = {"labels": s.labels, "notes": s.notes, "available": s.has("nps")}
    if s.has("nps"):
        ctx["nps_chart"] = charts.line("NPS with its 95% margin of error", s.labels, {"NPS": s.values("nps")},
                                       errors={"NPS": s.values("nps_margin_of_error")})
        ctx["sat_chart"] = charts.line("CSAT and CES (% positive)", s.labels,
                                       {"CSAT": s.values("csat"), "CES": s.values("ces")})
        ctx["table"] = [(n, s.values(n)) for n in names if s.has(n)]
    fb = data.feedback_themes(store, f)
    ctx["feedback"] = fb
    ctx["theme_columns"] = list(fb["themes"][0]) if fb and fb["themes"] else []
    comments = data.recent_comments(store, f)
    ctx["comments"] = [data._record(r) for r in comments.to_dict("records")]
    return ctx


@router.get("/explain/{metric}", response_class=HTMLResponse, dependencies=[Reader])
def explain_page(request: Request, metric: str, at: str | None = None) -> Response:
    """The audit of one value: definition, inputs and the account-level rows behind it."""
    store = _store(request)
    f = _filters(request)
    if metric not in load_all():
        resp = render(request, "error.html", f, title="Not found", message=f"unknown metric {metric!r}")
        resp.status_code = 404
        return resp
    try:
        from csmetrics.explain import explain
    except ImportError:
        return render(request, "error.html", f, title="Explain", message="explain is not available")
    by, group = ("segment", f.segment) if f.segment else (None, None)
    at = at or data.periods(store, f)[-1].label

    def build() -> Any:
        with store.reading():
            try:
                return explain(store.ds, metric, at, group, by)
            finally:
                store.drop_temp_tables()

    ex = store.cached(("explain-page", metric, at, by, group), build)
    rows = [data._record(r) for r in ex.rows.head(500).to_dict("records")]
    return render(request, "explain.html", f, title=f"{metric}, {ex.period}", ex=ex, rows=rows,
                  columns=list(ex.rows.columns), unit=REGISTRY[metric].unit, total=len(ex.rows))


@router.get("/definitions", response_class=HTMLResponse, dependencies=[Reader])
def definitions(request: Request) -> HTMLResponse:
    f = _filters(request)
    metrics = sorted(load_all().values(), key=lambda m: (m.family, m.name))
    return render(request, "definitions.html", f, title="Metric definitions", metrics=metrics)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    return render(request, "login.html", None, title="Sign in", next=_safe_next(next), error=None)


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request, token: Annotated[str, Form(max_length=300)], next: Annotated[str, Form()] = "/"
) -> Response:
    store = _store(request)
    try:
        info = authenticate(store, token.strip(), client_ip(request), "login")
    except RateLimited as exc:
        limited = render(request, "login.html", None, title="Sign in", next=_safe_next(next), error=str(exc))
        limited.status_code = 429
        limited.headers["Retry-After"] = str(exc.retry_after)
        return limited
    if info is None:
        resp = render(request, "login.html", None, title="Sign in", next=_safe_next(next),
                      error="That token is not valid.")
        resp.status_code = 401
        return resp
    store.log("login", "ok", info.token_id, info.role, None, client_ip(request))
    resp2 = RedirectResponse(_safe_next(next), status_code=303)
    resp2.set_cookie(COOKIE, token.strip(), httponly=True, samesite="strict", max_age=7 * 86400,
                     secure=request.url.scheme == "https")
    return resp2


@router.post("/logout")
def logout() -> Response:
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(COOKIE)
    return resp


def _safe_next(nxt: str) -> str:
    """Only local paths, so the login form cannot redirect elsewhere."""
    return nxt if nxt.startswith("/") and not nxt.startswith("//") and "\\" not in nxt else "/"
