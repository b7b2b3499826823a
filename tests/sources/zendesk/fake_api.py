"""A loopback server that plays the Zendesk Support API's documented responses for the company fixture.

- ``GET /api/v2/incremental/tickets/cursor.json``: the cursor-based incremental ticket export. The first
  call takes ``start_time`` (tickets updated at or after it), the next ones ``cursor``; tickets come in
  ``updated_at`` order, ``export_size`` per page, as ``{"tickets": [...], "after_url", "after_cursor",
  "before_url", "before_cursor", "end_of_stream"}``. A cursor encodes the last ticket delivered
  (updated_at and id), so a request from the last cursor with nothing changed returns no ticket and the
  same cursor.
- ``GET /api/v2/{organizations,ticket_metrics,satisfaction_ratings}.json``: lists in pages of
  ``page_size``, either with cursor paging (``page[size]``/``page[after]``, ``{"meta": {"has_more",
  "after_cursor", "before_cursor"}, "links": {"next", "prev"}}``) or offset paging (``page``, ``next_page``
  as an absolute URL on the real host, as Zendesk sends it), per ``paging``.
- injected failures: a 429 with ``Retry-After``, a 401 with Zendesk's ``{"error": "Couldn't authenticate
  you"}``, a 500/503; each on the n-th request to a path.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from werkzeug import Request, Response

from tests.sources.zendesk.company import URL, build


@dataclass
class Failure:
    path: str
    status: int
    nth: int = 1
    times: int = 1
    retry_after: str | None = None


def _epoch(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).timestamp())


def _cursor(ticket: dict[str, Any]) -> str:
    return base64.b64encode(f"{_epoch(ticket['updated_at'])}|{ticket['id']}".encode()).decode()


def _uncursor(cursor: str) -> tuple[int, int]:
    ts, tid = base64.b64decode(cursor).decode().split("|")
    return int(ts), int(tid)


@dataclass
class FakeZendesk:
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=build)
    export_size: int = 4
    page_size: int = 2
    paging: dict[str, str] = field(default_factory=lambda: {
        "organizations": "offset", "ticket_metrics": "cursor", "satisfaction_ratings": "offset"})
    failures: list[Failure] = field(default_factory=list)
    seen: Counter[str] = field(default_factory=Counter)
    log: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    def _error(self, status: int, retry_after: str | None) -> Response:
        bodies = {401: {"error": "Couldn't authenticate you"},
                  429: {"error": "APIRateLimitExceeded", "description": "Number of allowed API requests per "
                                                                        "minute exceeded"},
                  500: {"error": "InternalError", "description": "Something went wrong"},
                  503: {"error": "ServiceUnavailable", "description": "Service unavailable"}}
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        return Response(json.dumps(bodies[status]), status=status, headers=headers,
                        content_type="application/json")

    def __call__(self, request: Request) -> Response:
        path = request.path
        args = dict(request.args.items())
        self.log.append((path, request.headers.get("Authorization", ""), args))
        self.seen[path] += 1
        for f in self.failures:
            if f.path == path and f.nth <= self.seen[path] < f.nth + f.times:
                return self._error(f.status, f.retry_after)
        if path == "/api/v2/incremental/tickets/cursor.json":
            return self._export(args)
        kind = path.removeprefix("/api/v2/").removesuffix(".json")
        if kind not in ("organizations", "ticket_metrics", "satisfaction_ratings"):
            return Response(json.dumps({"error": "InvalidEndpoint", "description": "Not found"}), status=404,
                            content_type="application/json")
        return self._list(kind, args)

    def _export(self, args: dict[str, str]) -> Response:
        tickets = sorted(self.objects["tickets"], key=lambda t: (_epoch(t["updated_at"]), t["id"]))
        if "cursor" in args:
            after = _uncursor(args["cursor"])
            rest = [t for t in tickets if (_epoch(t["updated_at"]), t["id"]) > after]
        else:
            start = int(args["start_time"])
            rest = [t for t in tickets if _epoch(t["updated_at"]) >= start]
        page = rest[: self.export_size]
        if page:
            cursor = _cursor(page[-1])
        else:
            cursor = args.get("cursor") or base64.b64encode(f"{args.get('start_time', '0')}|0".encode()).decode()
        body = {"tickets": page, "after_url": f"{URL}/incremental/tickets/cursor.json?cursor={cursor}",
                "after_cursor": cursor, "before_url": None, "before_cursor": None,
                "end_of_stream": len(rest) <= self.export_size}
        return Response(json.dumps(body), status=200, content_type="application/json")

    def _list(self, kind: str, args: dict[str, str]) -> Response:
        objs = sorted(self.objects[kind], key=lambda o: o["id"])
        size = self.page_size
        if self.paging[kind] == "cursor":
            start = 0
            if "page[after]" in args:
                start = [o["id"] for o in objs].index(int(args["page[after]"])) + 1
            page = objs[start:start + size]
            more = start + size < len(objs)
            after = str(page[-1]["id"]) if page else None
            body: dict[str, Any] = {
                kind: page,
                "meta": {"has_more": more, "after_cursor": after, "before_cursor": str(page[0]["id"]) if page
                         else None},
                "links": {"next": f"{URL}/{kind}.json?page%5Bafter%5D={after}&page%5Bsize%5D={size}" if more
                          else None, "prev": None}}
        else:
            n = int(args.get("page", "1"))
            page = objs[(n - 1) * size: n * size]
            more = n * size < len(objs)
            body = {kind: page, "next_page": f"{URL}/{kind}.json?page={n + 1}&per_page={size}" if more else None,
                    "previous_page": f"{URL}/{kind}.json?page={n - 1}&per_page={size}" if n > 1 else None,
                    "count": len(objs)}
        return Response(json.dumps(body), status=200, content_type="application/json")


__all__ = ["Failure", "FakeZendesk"]
