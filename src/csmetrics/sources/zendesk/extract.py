"""Extract: the Zendesk Support API -> raw Zendesk objects, with the cursor of an incremental sync.

What is fetched, and how a re-sync finds what is new or changed (docs/zendesk.md#sync):

- tickets come from the cursor-based incremental export
  (``GET /api/v2/incremental/tickets/cursor.json``): the first sync asks from
  ``start_time`` (``[sources.zendesk] start_time``, default 0: all tickets),
  then follows ``cursor=<after_cursor>`` until ``end_of_stream`` is true. The
  last ``after_cursor`` is stored as the sync cursor, so the next sync asks
  only for tickets created or changed since (a changed ticket replaces its
  stored copy; deleted tickets come back with status ``deleted``);
- organizations (``/api/v2/organizations.json``), ticket metrics
  (``/api/v2/ticket_metrics.json``) and satisfaction ratings
  (``/api/v2/satisfaction_ratings.json``) are listed in full on every sync
  (they change in place) and replace the stored ones. Their pages are asked
  with cursor paging (``page[size]=100``; ``meta.has_more`` and
  ``links.next``); a server answering with offset paging (``next_page``) is
  followed too. A next link is read for its query only, which is sent to the
  same base URL: ``--api-base`` keeps every request on its host.

Client: Zendesk publishes no official Python SDK. ``zenpy`` (the established
community client) was evaluated and not used: it builds every URL as
``https://{subdomain}.zendesk.com/api/v2``, and the only way to point it at
another host is the process-wide environment variables
``ZENPY_FORCE_NETLOC``/``ZENPY_FORCE_SCHEME`` (no path prefix, global state);
it waits out a 429 by ``time.sleep(1)`` in its own module (not injectable,
no cap) and does not retry 5xx at all; and it hides the export's
``after_cursor`` inside its generator, which also consults the wall clock. So
requests go through one ``requests.Session`` with Basic auth
``{email}/token:{token}`` and urllib3's ``Retry`` mounted on it: a 429 or 503
is retried after its ``Retry-After`` seconds (at most ``max_wait``), a 5xx or a
connection error after 1, 2, 4... seconds, at most ``max_retries`` times per
request; then the sync stops and nothing is written. The email and token are
only handed to the session: they are never printed, logged, stored or put in
an error message.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from csmetrics.sources import SourceError
from csmetrics.sources.workspace import RawObject
from csmetrics.sources.zendesk.objects import KINDS, object_problems, to_raw

EXPORT = "/api/v2/incremental/tickets/cursor.json"
LISTS = {"organizations": "/api/v2/organizations.json", "ticket_metrics": "/api/v2/ticket_metrics.json",
         "satisfaction_ratings": "/api/v2/satisfaction_ratings.json"}
"""Endpoints listed in full on every sync (paths under the base URL)."""

RELISTED = tuple(LISTS)
ORDER = KINDS
"""Object types in the order they are fetched (and progress bars drawn)."""

Progress = Callable[[str, int, bool], None]
"""``progress(object_type, objects so far, finished)``."""

RETRY_STATUS = (429, 500, 502, 503, 504)


@dataclass
class SyncOptions:
    email: str = field(repr=False)
    token: str = field(repr=False)
    api_base: str
    full: bool = False
    start_time: int = 0
    timeout: float = 30.0
    max_retries: int = 5
    max_wait: float = 120.0
    page_size: int = 100
    sleep: Callable[[float], None] = time.sleep
    progress: Progress | None = None


@dataclass
class Extracted:
    objects: list[RawObject]
    cursors: dict[str, str]
    replace_types: tuple[str, ...]
    requests: int = 0


class _Retry(Retry):
    """urllib3's Retry with an injectable sleep, a cap on Retry-After and a first backoff of 1 s."""

    sleeper: Callable[[float], None] = staticmethod(time.sleep)  # type: ignore[assignment]
    max_wait: float = 120.0

    def new(self, **kw: Any) -> _Retry:
        r = super().new(**kw)
        r.sleeper = self.sleeper
        r.max_wait = self.max_wait
        return r

    def get_backoff_time(self) -> float:
        n = sum(1 for h in self.history if h.redirect_location is None)
        return 0.0 if n == 0 else float(min(self.max_wait, self.backoff_factor * 2 ** (n - 1)))

    def sleep_for_retry(self, response: Any) -> bool:
        retry_after = self.get_retry_after(response)
        if retry_after is not None:
            self.sleeper(max(0.0, min(float(retry_after), self.max_wait)))
            return True
        return False

    def _sleep_backoff(self) -> None:
        backoff = self.get_backoff_time()
        if backoff > 0:
            self.sleeper(backoff)


def _scrub(text: str, *secrets: str) -> str:
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    return text


class Client:
    """GET JSON from one Zendesk base URL with retries; every failure becomes a SourceError."""

    def __init__(self, opts: SyncOptions) -> None:
        self.opts = opts
        self.base = opts.api_base.rstrip("/")
        self.session = requests.Session()
        self.session.auth = (f"{opts.email}/token", opts.token)
        self.session.headers["Accept"] = "application/json"
        retry = _Retry(total=opts.max_retries, connect=opts.max_retries, read=opts.max_retries,
                       status=opts.max_retries, status_forcelist=RETRY_STATUS, allowed_methods=frozenset({"GET"}),
                       backoff_factor=1.0, respect_retry_after_header=True, raise_on_status=False,
                       raise_on_redirect=False)
        retry.sleeper = opts.sleep
        retry.max_wait = opts.max_wait
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.requests = 0

    def close(self) -> None:
        self.session.close()

    def _fail(self, what: str, why: str) -> SourceError:
        why = _scrub(why, self.opts.email, self.opts.token)
        return SourceError(f"zendesk sync failed while {what}: {why}; the workspace was not changed")

    def get(self, what: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        self.requests += 1
        try:
            resp = self.session.get(self.base + path, params=params, timeout=self.opts.timeout,
                                    allow_redirects=False)
        except requests.RequestException as exc:
            raise self._fail(what, f"connection failed ({type(exc).__name__}) after "
                                   f"{self.opts.max_retries} retries") from None
        status = resp.status_code
        if status == 401:
            raise self._fail(what, "the email/token were rejected (401 Couldn't authenticate you); check "
                                   "ZENDESK_EMAIL and ZENDESK_API_TOKEN in the environment")
        if status == 403:
            raise self._fail(what, "the user may not read these objects (403 Forbidden; an admin or agent "
                                   "token is needed, and satisfaction ratings must be enabled)")
        if status in RETRY_STATUS:
            raise self._fail(what, f"HTTP {status} after {self.opts.max_retries} retries")
        if status != 200:
            raise self._fail(what, f"HTTP {status}: {_error_text(resp)}")
        try:
            doc = resp.json()
        except ValueError:
            raise self._fail(what, "the response is not JSON") from None
        if not isinstance(doc, dict):
            raise self._fail(what, "the response is not a JSON object")
        return doc

    def pages(self, kind: str, path: str) -> Iterator[dict[str, Any]]:
        """Every object of a list endpoint (module docstring: cursor paging, else ``next_page``)."""
        params: dict[str, Any] = {"page[size]": self.opts.page_size}
        what = f"listing {kind}"
        while True:
            doc = self.get(what, path, params)
            items = doc.get(kind)
            if not isinstance(items, list):
                raise self._fail(what, f"the response has no {kind!r} list")
            yield from items
            nxt = _next_params(doc)
            if nxt is None:
                return
            params = nxt

    def export(self, start_time: int, cursor: str | None) -> Iterator[tuple[list[Any], str | None]]:
        """(tickets, after_cursor) of each page of the incremental ticket export, until ``end_of_stream``."""
        params: dict[str, Any] = {"cursor": cursor} if cursor else {"start_time": start_time}
        while True:
            doc = self.get("exporting tickets", EXPORT, params)
            items = doc.get("tickets")
            if not isinstance(items, list):
                raise self._fail("exporting tickets", "the response has no 'tickets' list")
            after = doc.get("after_cursor")
            yield items, after if isinstance(after, str) and after else None
            if doc.get("end_of_stream") is True or not after:
                return
            params = {"cursor": after}


def _error_text(resp: requests.Response) -> str:
    try:
        doc = resp.json()
    except ValueError:
        return resp.reason or "error"
    err = doc.get("error") if isinstance(doc, dict) else None
    if isinstance(err, dict):
        return str(err.get("title") or err.get("message") or resp.reason)
    return str(err or doc.get("description") if isinstance(doc, dict) else resp.reason)


def _next_params(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The query of the next page: ``links.next`` when ``meta.has_more``, else ``next_page``; None at the end."""
    meta, links = doc.get("meta"), doc.get("links")
    if isinstance(meta, dict) and "has_more" in meta:
        nxt = links.get("next") if isinstance(links, dict) and meta.get("has_more") else None
    else:
        nxt = doc.get("next_page")
    if not isinstance(nxt, str) or not nxt:
        return None
    return dict(parse_qsl(urlsplit(nxt).query, keep_blank_values=True))


def _report(opts: SyncOptions, kind: str, n: int, done: bool) -> None:
    if opts.progress is not None:
        opts.progress(kind, n, done)


def _land(client: Client, kind: str, obj: Any, what: str) -> RawObject:
    problems = list(object_problems(kind, obj))
    if problems:
        field_, value, msg = problems[0]
        oid = obj.get("id") if isinstance(obj, dict) else None
        raise client._fail(what, f"object {oid!r} field {field_ or '(object)'} {value!r} {msg}")
    return to_raw(kind, obj)


def extract(opts: SyncOptions, cursors: dict[str, str]) -> Extracted:
    """Fetch what is new or changed since ``cursors`` (everything with ``opts.full`` or no cursor)."""
    client = Client(opts)
    out: list[RawObject] = []
    new_cursors = dict(cursors)
    cursor = None if opts.full else cursors.get("tickets")
    try:
        for kind in ORDER:
            n = 0
            _report(opts, kind, 0, False)
            if kind == "tickets":
                for items, after in client.export(opts.start_time, cursor):
                    for obj in items:
                        out.append(_land(client, kind, obj, "exporting tickets"))
                        n += 1
                    if after:
                        new_cursors["tickets"] = after
                    _report(opts, kind, n, False)
            else:
                for obj in client.pages(kind, LISTS[kind]):
                    out.append(_land(client, kind, obj, f"listing {kind}"))
                    n += 1
                    _report(opts, kind, n, False)
            _report(opts, kind, n, True)
    finally:
        client.close()
    replace = RELISTED + (("tickets",) if cursor is None else ())
    # A ticket changed while the export ran comes again on a later page: the later copy wins.
    latest = {(o.type, o.id): o for o in out}
    return Extracted(list(latest.values()), new_cursors, replace, client.requests)


__all__ = ["EXPORT", "LISTS", "ORDER", "RELISTED", "Client", "Extracted", "SyncOptions", "extract"]
