"""A loopback HTTPS server that plays Salesforce's REST query resource for the fixture org (org.py).

- ``GET /services/data/v59.0/queryAll/?q=SOQL`` (and ``/query/``): the SOQL's SELECT list is projected
  onto each record (``Owner.Name`` as a nested ``Owner`` record), ``WHERE SystemModstamp >= T`` filters,
  ``queryAll`` includes deleted records (``query`` does not); pages of ``page_size`` records with
  ``done: false`` and ``nextRecordsUrl`` = ``/services/data/v59.0/query/01gFAKE-<offset>``, which the
  next request follows;
- injected failures with Salesforce's error bodies (a list of ``{"message", "errorCode"}``): 401
  INVALID_SESSION_ID, 429 (with ``Retry-After``), 500 UNKNOWN_EXCEPTION, 400 INVALID_FIELD; on the
  n-th request of a kind (``query`` or ``more``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from werkzeug import Request, Response

from csmetrics.sources.hubspot.objects import parse_time
from tests.sources.salesforce.org import VERSION, build

BASE = f"/services/data/{VERSION}"


@dataclass
class Failure:
    kind: str  # "query" (the first page) or "more" (a nextRecordsUrl)
    status: int
    nth: int = 1
    times: int = 1
    retry_after: str | None = None


@dataclass
class FakeSalesforce:
    records: list[dict[str, Any]] = field(default_factory=build)
    page_size: int = 3
    failures: list[Failure] = field(default_factory=list)
    seen: Counter[str] = field(default_factory=Counter)
    log: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    queries: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def _error(self, status: int, retry_after: str | None) -> Response:
        bodies = {401: ("Session expired or invalid", "INVALID_SESSION_ID"),
                  429: ("Too many requests", "REQUEST_LIMIT_EXCEEDED"),
                  500: ("An unexpected error occurred. Please include this ErrorId: 1234-5678",
                        "UNKNOWN_EXCEPTION"),
                  400: ("No such column 'Segment__c' on entity 'Account'.", "INVALID_FIELD"),
                  403: ("TotalRequests Limit exceeded.", "REQUEST_LIMIT_EXCEEDED")}
        message, code = bodies[status]
        headers = {} if retry_after is None else {"Retry-After": retry_after}
        return Response(json.dumps([{"message": message, "errorCode": code}]), status=status, headers=headers,
                        content_type="application/json")

    def __call__(self, request: Request) -> Response:
        path = request.path
        args = dict(request.args.items())
        self.log.append((path, request.headers.get("Authorization", ""), args))
        kind = "query" if path in (f"{BASE}/query/", f"{BASE}/queryAll/") else "more"
        self.seen[kind] += 1
        for f in self.failures:
            if f.kind == kind and f.nth <= self.seen[kind] < f.nth + f.times:
                return self._error(f.status, f.retry_after)
        if kind == "query":
            recs = self._select(args["q"], include_deleted=path.endswith("/queryAll/"))
            self.queries["01gFAKE"] = recs
            return self._page(recs, 0)
        m = re.fullmatch(rf"{BASE}/query/01gFAKE-(\d+)", path)
        if not m:
            return Response(json.dumps([{"message": "The requested resource does not exist",
                                         "errorCode": "NOT_FOUND"}]), status=404, content_type="application/json")
        return self._page(self.queries["01gFAKE"], int(m.group(1)))

    def _select(self, soql: str, include_deleted: bool) -> list[dict[str, Any]]:
        m = re.fullmatch(r"SELECT (.+) FROM Account(?: WHERE SystemModstamp >= (\S+))?", soql.strip())
        assert m, soql
        fields = [f.strip() for f in m.group(1).split(",")]
        since: dt.datetime | None = parse_time(m.group(2)) if m.group(2) else None
        out = []
        for rec in self.records:
            if rec.get("IsDeleted") and not include_deleted:
                continue
            stamp = parse_time(rec["SystemModstamp"])
            if since is not None and stamp is not None and stamp < since:
                continue
            row: dict[str, Any] = {"attributes": rec["attributes"]}
            for f in fields:
                if "." in f:
                    rel, sub = f.split(".", 1)
                    nested = rec.get(rel)
                    row[rel] = None if nested is None else {"attributes": nested["attributes"], sub: nested.get(sub)}
                else:
                    row[f] = rec.get(f)
            out.append(row)
        return out

    def _page(self, recs: list[dict[str, Any]], start: int) -> Response:
        chunk = recs[start:start + self.page_size]
        done = start + self.page_size >= len(recs)
        page: dict[str, Any] = {"totalSize": len(recs), "done": done, "records": chunk}
        if not done:
            page["nextRecordsUrl"] = f"{BASE}/query/01gFAKE-{start + self.page_size}"
        return Response(json.dumps(page), status=200, content_type="application/json")


__all__ = ["BASE", "FakeSalesforce", "Failure"]
