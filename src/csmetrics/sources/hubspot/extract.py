"""Extract: the official ``hubspot-api-client`` SDK -> raw HubSpot companies and owners.

What is fetched (docs/crm.md#hubspot-sync):

- companies, ``GET /crm/v3/objects/companies`` (``client.crm.companies.basic_api.get_page``)
  with the properties the mapping reads (``name``, ``domain``, ``createdate``,
  ``hubspot_owner_id``, ``industry``, the segment property and the configured
  extra ones), then the archived ones (``archived=true``: counted, not mapped);
- owners, ``GET /crm/v3/owners`` (``client.crm.owners.owners_api.get_page``),
  active then archived (a company may still be owned by a deactivated user).

Every sync re-lists all of them: a HubSpot portal holds thousands of companies
at most (100 a page), a full listing costs a few calls, and it also sees
deletions and owner renames, which a ``hs_lastmodifieddate`` search would miss.
The landing then compares: unchanged objects write nothing. So ``--full`` is
the same as a plain sync.

Paging follows ``paging.next.after`` until a page has no ``paging.next``.
Pages are read as HubSpot sent them (``_preload_content=False``: the JSON, not
the SDK's models), so a sync lands exactly what ``import`` reads from saved
pages. Retries are the SDK's: a ``urllib3`` ``Retry`` handed to the client
(``HubSpot(retry=...)``, as the SDK's README shows) retries a 429 after its
``Retry-After`` seconds, and a 5xx or a connection error after 1, 2, 4...
seconds, each wait capped at ``max_wait``, at most ``max_retries`` times per
request; then the sync fails with a :class:`SourceError` and nothing is
written. The token goes only to the SDK (``Authorization: Bearer``): it is
never printed, logged, stored or put in an error message.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import urllib3
from urllib3.util.retry import Retry

from csmetrics.sources import SourceError
from csmetrics.sources.hubspot.objects import object_problems, to_raw
from csmetrics.sources.workspace import RawObject

API_BASE = "https://api.hubapi.com"
ORDER = ("owners", "companies")
"""Object types in the order they are fetched (and progress bars drawn)."""

Progress = Callable[[str, int, bool], None]
"""``progress(object_type, objects so far, finished)``."""


@dataclass
class SyncOptions:
    token: str = field(repr=False)
    api_base: str | None = None
    wanted: tuple[str, ...] = ()
    timeout: float = 30.0
    max_retries: int = 5
    max_wait: float = 60.0
    page_size: int = 100
    sleep: Callable[[float], None] | None = None
    """How to wait between retries (default :func:`wait`; tests record the waits instead)."""
    progress: Progress | None = None


@dataclass
class Extracted:
    objects: list[RawObject]
    archived: int
    requests: int = 0


class BoundedRetry(Retry):
    """urllib3's ``Retry`` with each wait capped and the sleep injectable (tests record it, never sleep).

    The wait is the response's ``Retry-After`` (seconds or an HTTP date) when
    it has one, else ``2 ** (attempt - 1)`` seconds; at most ``max_wait``.
    """

    def __init__(self, *args: Any, max_wait: float = 60.0, sleeper: Callable[[float], None] = time.sleep,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_wait = max_wait
        self.sleeper = sleeper

    def new(self, **kw: Any) -> BoundedRetry:
        r = super().new(**kw)
        r.max_wait, r.sleeper = self.max_wait, self.sleeper
        return r

    def sleep(self, response: Any = None) -> None:
        wait: float | None = None
        if response is not None:
            wait = self.get_retry_after(response)
        if wait is None:
            wait = 2.0 ** max(len(self.history) - 1, 0)
        self.sleeper(max(0.0, min(float(wait), self.max_wait)))


def wait(seconds: float) -> None:
    """The default wait between retries (looked up at each retry, so tests can replace it)."""
    time.sleep(seconds)


def retry_policy(opts: SyncOptions) -> BoundedRetry:
    """The SDK's retries: 429 (after Retry-After), 5xx and connection errors, ``max_retries`` times."""
    return BoundedRetry(total=opts.max_retries, connect=opts.max_retries, read=opts.max_retries,
                        status=opts.max_retries, other=0, redirect=0, allowed_methods=frozenset({"GET"}),
                        status_forcelist=frozenset({429, *range(500, 600)}), respect_retry_after_header=True,
                        raise_on_status=False, max_wait=opts.max_wait,
                        sleeper=opts.sleep or (lambda seconds: wait(seconds)))


def client(opts: SyncOptions) -> Any:
    from hubspot import HubSpot

    return HubSpot(access_token=opts.token, retry=retry_policy(opts),
                   host=(opts.api_base or API_BASE).rstrip("/"))


def _scrub(text: str, token: str) -> str:
    return text.replace(token, "***") if token else text


class _Fetcher:
    def __init__(self, opts: SyncOptions) -> None:
        self.opts = opts
        self.client = client(opts)
        self.requests = 0

    def fail(self, what: str, exc: Exception) -> SourceError:
        status = getattr(exc, "status", None)
        body = getattr(exc, "body", None)
        message = ""
        if body:
            try:
                doc = json.loads(body)
                message = str(doc.get("message") or "") if isinstance(doc, dict) else ""
            except (ValueError, TypeError):
                message = ""
        if status == 401:
            why = ("the token was rejected (401 authentication failed); check the private-app token in the "
                   "environment")
        elif status == 403:
            why = "the token may not read these objects (403: it needs the crm.objects.companies.read and " \
                  "crm.objects.owners.read scopes)"
        elif status:
            why = f"HTTP {status}" + (f": {message}" if message else "")
        else:
            why = f"connection failed ({type(exc).__name__})"
        return SourceError(f"hubspot sync failed while {what}: {_scrub(why, self.opts.token)}; "
                           "the workspace was not changed")

    def pages(self, what: str, fetch: Callable[..., Any], params: dict[str, Any]) -> list[dict[str, Any]]:
        """Every result of a paged endpoint (``paging.next.after``), as HubSpot sent it."""
        from hubspot.crm.companies.exceptions import ApiException as CompaniesError
        from hubspot.crm.owners.exceptions import ApiException as OwnersError

        out: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            p = dict(params, limit=self.opts.page_size, _preload_content=False,
                     _request_timeout=self.opts.timeout)
            if after is not None:
                p["after"] = after
            self.requests += 1
            try:
                resp = fetch(**p)
                doc = json.loads(resp.data)
            except (CompaniesError, OwnersError) as exc:
                raise self.fail(what, exc) from None
            except urllib3.exceptions.HTTPError as exc:
                raise self.fail(what, exc) from None
            except ValueError:
                raise SourceError(f"hubspot sync failed while {what}: the response is not JSON; "
                                  "the workspace was not changed") from None
            if not (isinstance(doc, dict) and isinstance(doc.get("results"), list)):
                raise SourceError(f"hubspot sync failed while {what}: the response is not a page "
                                  "({\"results\": [...]}); the workspace was not changed")
            out.extend(doc["results"])
            nxt = (doc.get("paging") or {}).get("next") or {}
            after = nxt.get("after") if isinstance(nxt, dict) else None
            if not after:
                return out


def _report(opts: SyncOptions, kind: str, n: int, done: bool) -> None:
    if opts.progress is not None:
        opts.progress(kind, n, done)


def _land(kind: str, obj: Any, what: str, wanted: tuple[str, ...]) -> RawObject:
    problems = list(object_problems(kind, obj, wanted))
    if problems:
        field_, value, msg = problems[0]
        oid = obj.get("id") if isinstance(obj, dict) else None
        raise SourceError(f"hubspot sync failed while {what}: object {oid!r} field {field_ or '(object)'} "
                          f"{value!r} {msg}; the workspace was not changed")
    return to_raw(kind, obj)


def extract(opts: SyncOptions) -> Extracted:
    """Every owner and company (active and archived) of the portal (module docstring)."""
    f = _Fetcher(opts)
    owners_api = f.client.crm.owners.owners_api
    companies_api = f.client.crm.companies.basic_api
    listings: list[tuple[str, str, Callable[..., Any], dict[str, Any]]] = [
        ("owners", "listing owners", owners_api.get_page, {}),
        ("owners", "listing archived owners", owners_api.get_page, {"archived": True}),
        ("companies", "listing companies", companies_api.get_page, {"properties": list(opts.wanted)}),
        ("companies", "listing archived companies", companies_api.get_page,
         {"properties": list(opts.wanted), "archived": True}),
    ]
    out: dict[tuple[str, str], RawObject] = {}
    counts = dict.fromkeys(ORDER, 0)
    archived = 0
    for kind in ORDER:
        _report(opts, kind, 0, False)
    for kind, what, fetch, params in listings:
        for obj in f.pages(what, fetch, params):
            raw = _land(kind, obj, what, opts.wanted)
            if (kind, raw.id) not in out:
                counts[kind] += 1
            out[(kind, raw.id)] = raw
            if kind == "companies" and params.get("archived"):
                archived += 1
            _report(opts, kind, counts[kind], False)
        if params.get("archived"):
            _report(opts, kind, counts[kind], True)
    return Extracted(list(out.values()), archived, f.requests)


__all__ = ["API_BASE", "ORDER", "BoundedRetry", "Extracted", "SyncOptions", "client", "extract", "retry_policy"]
