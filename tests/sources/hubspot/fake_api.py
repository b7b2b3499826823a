"""A loopback server that plays HubSpot's CRM v3 API for the fixture portal (tests/sources/hubspot/portal.py).

- ``GET /crm/v3/objects/companies`` and ``GET /crm/v3/owners/``: pages of at most ``page_size`` objects
  whatever ``limit`` asks, ``after`` = the paging cursor of the previous page's ``paging.next.after``,
  ``archived=true`` lists only archived objects (the default only active ones);
- companies carry only the requested ``properties`` (null when unset) plus HubSpot's
  always-returned ``createdate``, ``hs_lastmodifieddate`` and ``hs_object_id``;
- injected failures with HubSpot's error bodies: a 429 with ``Retry-After``, a 401, a 500;
  each on the n-th request to a path.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from werkzeug import Request, Response

from tests.sources.hubspot.portal import build

ALWAYS = ("createdate", "hs_lastmodifieddate", "hs_object_id")
PATHS = {"/crm/v3/objects/companies": "companies", "/crm/v3/owners/": "owners", "/crm/v3/owners": "owners"}


@dataclass
class Failure:
    path: str
    status: int
    nth: int = 1
    times: int = 1
    retry_after: str | None = None


@dataclass
class FakeHubSpot:
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=build)
    page_size: int = 3
    failures: list[Failure] = field(default_factory=list)
    seen: Counter[str] = field(default_factory=Counter)
    log: list[tuple[str, str, dict[str, list[str]]]] = field(default_factory=list)

    def _error(self, status: int, retry_after: str | None) -> Response:
        bodies = {
            401: {"status": "error", "message": "Authentication credentials not found. This API supports OAuth 2.0 "
                  "authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/"
                  "oauth-overview", "correlationId": "4f2b7c1e-0000-4000-8000-000000000401",
                  "category": "INVALID_AUTHENTICATION"},
            403: {"status": "error", "message": "This app hasn't been granted all required scopes to make this call.",
                  "correlationId": "4f2b7c1e-0000-4000-8000-000000000403", "category": "MISSING_SCOPES"},
            429: {"status": "error", "message": "You have reached your secondly limit.", "errorType": "RATE_LIMIT",
                  "correlationId": "4f2b7c1e-0000-4000-8000-000000000429", "policyName": "SECONDLY"},
            500: {"status": "error", "message": "internal error", "correlationId":
                  "4f2b7c1e-0000-4000-8000-000000000500", "category": "INTERNAL_ERROR"},
        }
        headers = {} if retry_after is None else {"Retry-After": retry_after}
        return Response(json.dumps(bodies[status]), status=status, headers=headers, content_type="application/json")

    def __call__(self, request: Request) -> Response:
        path = request.path
        args = {k: request.args.getlist(k) for k in request.args}
        self.log.append((path, request.headers.get("Authorization", ""), args))
        key = PATHS.get(path, path)
        self.seen[key] += 1
        for f in self.failures:
            if f.path == key and f.nth <= self.seen[key] < f.nth + f.times:
                return self._error(f.status, f.retry_after)
        if path not in PATHS:
            return Response(json.dumps({"status": "error", "message": f"Unable to route GET {path}",
                                        "category": "OBJECT_NOT_FOUND"}), status=404, content_type="application/json")
        kind = PATHS[path]
        archived = args.get("archived", ["false"])[0].lower() == "true"  # the SDK sends True
        objs = [o for o in self.objects[kind] if bool(o.get("archived")) == archived]
        if kind == "companies":
            wanted = [p for v in args.get("properties", []) for p in v.split(",")]
            objs = [self._props(o, wanted) for o in objs]
        start = int(args.get("after", ["0"])[0])
        size = min(int(args.get("limit", ["10"])[0]), self.page_size)
        page: dict[str, Any] = {"results": objs[start:start + size]}
        if start + size < len(objs):
            nxt = str(start + size)
            page["paging"] = {"next": {"after": nxt, "link": f"https://api.hubapi.com{path}?after={nxt}"}}
        return Response(json.dumps(page), status=200, content_type="application/json")

    @staticmethod
    def _props(company: dict[str, Any], wanted: list[str]) -> dict[str, Any]:
        props = company["properties"]
        keep = {p: props.get(p) for p in list(ALWAYS) + wanted}
        return dict(company, properties=keep)


__all__ = ["FakeHubSpot", "Failure"]
