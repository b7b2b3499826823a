"""Extract: the official ``stripe`` SDK -> raw Stripe objects, with the cursors of an incremental sync.

What is fetched, and how a re-sync finds what is new or changed (docs/stripe.md#sync):

- customers, subscriptions (``status=all``), prices, products and coupons
  are re-listed in full on every sync (they are few, and change in place);
- invoices, charges, refunds and credit notes are listed from their cursor,
  ``created[gte]`` = the newest ``created`` seen, so only new ones come;
  changes to older ones (an open invoice paid or voided, a charge refunded, a
  credit note voided) come from the events API (``/v1/events``, ``created[gt]``
  = the newest event seen), whose ``data.object`` replaces the stored object.
  Stripe keeps events for 30 days: when the event cursor is older than that
  (or with ``--full``) these four types are re-listed in full instead;
- an invoice whose embedded ``lines`` list has ``has_more`` gets the rest of
  its lines from ``/v1/invoices/{id}/lines``.

Paging is the SDK's ``auto_paging_iter``. The SDK retries a 429 only when
the response says ``Stripe-Should-Retry: true``, which real rate limits do not
send; so its own retries are off and every page is retried here: on a 429
after the response's ``Retry-After`` seconds (at most ``max_wait``), on a
5xx or a connection error after 1, 2, 4... seconds, at most ``max_retries``
times in a row; a page resumes after the last object received
(``starting_after``). The API key is only handed to the SDK: it is never
printed, logged, stored or put in an error message.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import stripe

from csmetrics import clock
from csmetrics.sources import SourceError
from csmetrics.sources.stripe.objects import object_problems, to_raw
from csmetrics.sources.workspace import RawObject

EVENT_WINDOW = dt.timedelta(days=30)
"""How long Stripe keeps events (docs.stripe.com/api/events)."""

RELISTED = ("customers", "subscriptions", "prices", "products", "coupons")
INCREMENTAL = ("invoices", "charges", "refunds", "credit_notes")
ORDER = ("customers", "products", "prices", "coupons", "subscriptions", "invoices", "invoice_lines", "charges",
         "refunds", "credit_notes")
"""Object types in the order they are fetched (and progress bars drawn)."""

EVENT_OBJECTS = {"invoice": "invoices", "charge": "charges", "refund": "refunds", "credit_note": "credit_notes",
                 "customer": "customers", "subscription": "subscriptions"}
EVENT_TYPES = ["invoice.*", "charge.*", "charge.refund.updated", "refund.*", "credit_note.*"]

Progress = Callable[[str, int, bool], None]
Lister = Callable[..., Any]
"""``progress(object_type, objects so far, finished)``."""

_SECRET = re.compile(r"\b(sk|rk|pk)_(test|live)_[A-Za-z0-9*]+")


@dataclass
class SyncOptions:
    api_key: str = field(repr=False)
    api_base: str | None = None
    full: bool = False
    timeout: float = 30.0
    max_retries: int = 5
    max_wait: float = 60.0
    page_size: int = 100
    sleep: Callable[[float], None] = time.sleep
    progress: Progress | None = None


@dataclass
class Extracted:
    objects: list[RawObject]
    cursors: dict[str, str]
    replace_types: tuple[str, ...]
    requests: int = 0


def _scrub(text: str, key: str) -> str:
    text = text.replace(key, "***") if key else text
    return _SECRET.sub("***", text)


class _Fetcher:
    def __init__(self, opts: SyncOptions) -> None:
        self.opts = opts
        base = {"api": opts.api_base.rstrip("/")} if opts.api_base else None
        self.client = stripe.StripeClient(
            opts.api_key, base_addresses=base, max_network_retries=0,  # type: ignore[arg-type]
            http_client=stripe.RequestsClient(timeout=opts.timeout),
        )
        self.requests = 0

    def _wait(self, exc: Exception, failures: int) -> float:
        headers = getattr(exc, "headers", None) or {}
        retry_after = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
        try:
            wait = float(retry_after) if retry_after is not None else 2.0 ** (failures - 1)
        except ValueError:
            wait = 2.0 ** (failures - 1)
        return max(0.0, min(wait, self.opts.max_wait))

    def fail(self, what: str, exc: Exception) -> SourceError:
        status = getattr(exc, "http_status", None)
        if isinstance(exc, stripe.AuthenticationError):
            why = "the API key was rejected (401 authentication failed); check the key in the environment"
        elif isinstance(exc, stripe.PermissionError):
            why = "the API key may not read these objects (403)"
        else:
            code = getattr(exc, "code", None)
            message = getattr(exc, "user_message", None) or type(exc).__name__
            why = f"HTTP {status}" if status else "connection failed"
            why += f" ({code})" if code else ""
            why += ": " + _scrub(str(message), self.opts.api_key)
        return SourceError(f"stripe sync failed while {what}: {why}; the workspace was not changed")

    def pages(self, what: str, fetch: Lister, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every object of a list endpoint, retried page by page (module docstring)."""
        last: str | None = None
        failures = 0
        while True:
            p = dict(params, limit=self.opts.page_size)
            if last is not None:
                p["starting_after"] = last
            try:
                self.requests += 1
                for obj in fetch(p).auto_paging_iter():
                    failures = 0
                    d = obj.to_dict(for_json=True) if hasattr(obj, "to_dict") else dict(obj)
                    last = str(d["id"])
                    yield d
                return
            except (stripe.RateLimitError, stripe.APIConnectionError, stripe.APIError) as exc:
                status = getattr(exc, "http_status", None)
                retryable = isinstance(exc, stripe.RateLimitError | stripe.APIConnectionError) or (
                    status is not None and status >= 500)
                failures += 1
                if not retryable or failures > self.opts.max_retries:
                    raise self.fail(what, exc) from None
                self.opts.sleep(self._wait(exc, failures))
            except stripe.StripeError as exc:
                raise self.fail(what, exc) from None


def _report(opts: SyncOptions, kind: str, n: int, done: bool) -> None:
    if opts.progress is not None:
        opts.progress(kind, n, done)


def _land(kind: str, obj: dict[str, Any], what: str, parent: str = "") -> RawObject:
    problems = list(object_problems(kind, obj))
    if problems:
        field_, value, msg = problems[0]
        oid = obj.get("id") if isinstance(obj, dict) else None
        raise SourceError(f"stripe sync failed while {what}: object {oid!r} field {field_ or '(object)'} "
                          f"{value!r} {msg}; the workspace was not changed")
    return to_raw(kind, obj, parent)


def extract(opts: SyncOptions, cursors: dict[str, str]) -> Extracted:
    """Fetch what is new or changed since ``cursors`` (all of it with ``opts.full`` or no cursors)."""
    f = _Fetcher(opts)
    v1 = f.client.v1
    out: list[RawObject] = []
    new_cursors = dict(cursors)
    started = int(clock.now().timestamp())
    event_cursor = int(cursors["events"]) if "events" in cursors else None
    stale = event_cursor is None or clock.now() - dt.datetime.fromtimestamp(event_cursor, dt.UTC) > EVENT_WINDOW
    relist_all = opts.full or stale
    listers: dict[str, tuple[Lister, dict[str, Any]]] = {
        "customers": (v1.customers.list, {}),
        "products": (v1.products.list, {}),
        "prices": (v1.prices.list, {}),
        "coupons": (v1.coupons.list, {}),
        "subscriptions": (v1.subscriptions.list, {"status": "all"}),
        # `payments` is includable, not sent by default: it ties a charge to the invoice it pays (rule C2).
        "invoices": (v1.invoices.list, {"expand": ["data.payments"]}),
        "charges": (v1.charges.list, {}),
        "refunds": (v1.refunds.list, {}),
        "credit_notes": (v1.credit_notes.list, {}),
    }
    truncated: list[str] = []
    for kind in ORDER:
        if kind == "invoice_lines":
            continue
        fetch, params = listers[kind]
        params = dict(params)
        if kind in INCREMENTAL and not relist_all and f"created:{kind}" in cursors:
            params["created"] = {"gte": int(cursors[f"created:{kind}"])}
        n = 0
        newest = int(cursors.get(f"created:{kind}", "0"))
        _report(opts, kind, 0, False)
        for obj in f.pages(f"listing {kind}", fetch, params):
            raw = _land(kind, obj, f"listing {kind}")
            out.append(raw)
            newest = max(newest, raw.created)
            n += 1
            if kind == "invoices" and obj["lines"].get("has_more"):
                truncated.append(raw.id)
            _report(opts, kind, n, False)
        _report(opts, kind, n, True)
        if kind in INCREMENTAL and newest:
            new_cursors[f"created:{kind}"] = str(newest)
    if not relist_all and event_cursor is not None:
        newest_event = event_cursor
        n = 0
        _report(opts, "events", 0, False)
        for ev in f.pages("listing events", v1.events.list, {"created": {"gt": event_cursor}, "types": EVENT_TYPES}):
            newest_event = max(newest_event, int(ev.get("created") or 0))
            obj = (ev.get("data") or {}).get("object") or {}
            ev_kind = EVENT_OBJECTS.get(str(obj.get("object")))
            if ev_kind is None or "deleted" in obj:
                continue
            raw = _land(ev_kind, obj, f"reading event {ev.get('id')}")
            out.append(raw)
            if ev_kind == "invoices" and obj["lines"].get("has_more"):
                truncated.append(raw.id)
            n += 1
            _report(opts, "events", n, False)
        _report(opts, "events", n, True)
        new_cursors["events"] = str(newest_event)
    else:
        new_cursors["events"] = str(started)
    n = 0
    _report(opts, "invoice_lines", 0, False)
    for invoice in dict.fromkeys(truncated):
        what = f"listing the lines of invoice {invoice}"
        lister: Lister = functools.partial(v1.invoices.line_items.list, invoice)
        for line in f.pages(what, lister, {}):
            out.append(_land("invoice_lines", dict(line, invoice=invoice), what, parent=invoice))
            n += 1
            _report(opts, "invoice_lines", n, False)
    _report(opts, "invoice_lines", n, True)
    # Later copies of an object (from events) replace earlier ones.
    replace = RELISTED + (INCREMENTAL + ("invoice_lines",) if relist_all else ())
    return Extracted(out, new_cursors, replace, f.requests)


__all__ = ["EVENT_WINDOW", "ORDER", "Extracted", "SyncOptions", "extract"]
