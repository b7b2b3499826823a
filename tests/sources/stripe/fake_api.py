"""A loopback server that plays the Stripe API's documented responses for the fixture account.

- list endpoints (``GET /v1/<objects>``): newest first, pages of at most ``page_size`` objects whatever
  ``limit`` asks (so a small account pages), ``starting_after``, ``created[gte]``/``created[gt]``,
  ``{"object": "list", "data": [...], "has_more": ..., "url": ...}``;
- invoices with more than one line come with their embedded ``lines`` truncated to the first line and
  ``has_more: true``; ``GET /v1/invoices/{id}/lines`` pages the rest;
- ``GET /v1/events`` lists ``events`` (empty unless a test adds some);
- injected failures: a 429 with ``Retry-After`` (no ``Stripe-Should-Retry``, as real rate limits), a 401 with
  Stripe's error body, a 500; each on the n-th request to a path.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from werkzeug import Request, Response

from tests.sources.stripe.account import build


@dataclass
class Failure:
    path: str
    status: int
    nth: int = 1
    times: int = 1
    retry_after: str | None = None


@dataclass
class FakeStripe:
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=build)
    page_size: int = 4
    embedded_lines: int = 1
    failures: list[Failure] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    seen: Counter[str] = field(default_factory=Counter)
    log: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    def _error(self, status: int, retry_after: str | None) -> Response:
        kinds = {401: ("invalid_request_error", "Invalid API Key provided: sk_test_****0000"),
                 429: ("invalid_request_error", "Too many requests hit the API too quickly."),
                 500: ("api_error", "An unknown error occurred")}
        kind, message = kinds[status]
        headers = {"Request-Id": "req_fake"}
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        code = "rate_limit" if status == 429 else None
        body = {"error": {"type": kind, "message": message, **({"code": code} if code else {})}}
        return Response(json.dumps(body), status=status, headers=headers, content_type="application/json")

    def __call__(self, request: Request) -> Response:
        path = request.path
        args = {k: v for k, v in request.args.items()}
        self.log.append((path, request.headers.get("Authorization", ""), args))
        self.seen[path] += 1
        for f in self.failures:
            if f.path == path and f.nth <= self.seen[path] < f.nth + f.times:
                return self._error(f.status, f.retry_after)
        m = re.fullmatch(r"/v1/invoices/([^/]+)/lines", path)
        if m:
            inv = next(i for i in self.objects["invoices"] if i["id"] == m.group(1))
            return self._page(inv["lines"]["data"], args, path, order=False)
        m = re.fullmatch(r"/v1/([a-z_]+)", path)
        if not m or (m.group(1) not in self.objects and m.group(1) != "events"):
            return Response(json.dumps({"error": {"type": "invalid_request_error",
                                                  "message": f"Unrecognized request URL (GET: {path})"}}),
                            status=404, content_type="application/json")
        kind = m.group(1)
        objs = self.events if kind == "events" else self.objects[kind]
        if kind == "subscriptions" and args.get("status") != "all":
            objs = [s for s in objs if s["status"] not in ("canceled", "incomplete_expired")]
        for op, test in (("gte", lambda a, b: a >= b), ("gt", lambda a, b: a > b)):
            if f"created[{op}]" in args:
                bound = int(args[f"created[{op}]"])
                objs = [o for o in objs if test(o["created"], bound)]
        if kind == "invoices":
            objs = [self._truncate(i) for i in objs]
        return self._page(objs, args, path)

    def _truncate(self, inv: dict[str, Any]) -> dict[str, Any]:
        lines = inv["lines"]["data"]
        if len(lines) <= self.embedded_lines:
            return inv
        return dict(inv, lines=dict(inv["lines"], data=lines[: self.embedded_lines], has_more=True))

    def _page(self, objs: list[dict[str, Any]], args: dict[str, str], url: str, order: bool = True) -> Response:
        if order:
            objs = sorted(objs, key=lambda o: (o["created"], o["id"]), reverse=True)
        after = args.get("starting_after")
        if after is not None:
            ids = [o["id"] for o in objs]
            objs = objs[ids.index(after) + 1:]
        size = min(int(args.get("limit", 10)), self.page_size)
        page = {"object": "list", "data": objs[:size], "has_more": len(objs) > size, "url": url}
        return Response(json.dumps(page), status=200, content_type="application/json",
                        headers={"Request-Id": "req_fake"})


__all__ = ["FakeStripe", "Failure"]
