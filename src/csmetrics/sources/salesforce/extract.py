"""Extract: the ``simple-salesforce`` SDK -> raw Salesforce Account records, with the sync's cursor.

What is fetched (docs/crm.md#salesforce-sync): one SOQL query through the
REST ``queryAll`` resource (``Salesforce.query(..., include_deleted=True)``),
so Accounts in the recycle bin come too, with ``IsDeleted`` true (counted,
not mapped)::

    SELECT Id, Name, CreatedDate, Industry, Owner.Name, IsDeleted, SystemModstamp, <segment field>,
           <extra fields> FROM Account [WHERE SystemModstamp >= <cursor>]

Paging follows ``nextRecordsUrl`` (``query_more(url, identifier_is_url=True)``)
until ``done``. **Incremental:** the cursor is the newest ``SystemModstamp``
seen; a re-sync asks only for records modified since (``>=``: a record
fetched again unchanged writes nothing). ``--full``, or no cursor yet, lists
every Account and drops stored ones that are gone (deleted for good). A
rename of the owning *User* does not touch the Account's ``SystemModstamp``:
``--full`` picks it up.

Auth (the SDK's two main modes, credentials only from environment
variables): a session (``SALESFORCE_INSTANCE_URL`` + ``SALESFORCE_ACCESS_TOKEN``,
e.g. from ``sf org display``) or a username login (``SALESFORCE_USERNAME`` +
``SALESFORCE_PASSWORD`` + ``SALESFORCE_SECURITY_TOKEN``, domain ``login`` or
``test``). ``--api-base`` is the instance URL.

Retries: simple-salesforce has none, but takes a ``requests`` session; its
adapter gets the same bounded ``urllib3`` ``Retry`` as HubSpot's client: a
429 or 503 after ``Retry-After`` seconds, another 5xx or a connection error
after 1, 2, 4... seconds, each wait capped at ``max_wait``, at most
``max_retries`` times per request. Credentials go only to the SDK; they are
never printed, logged, stored or put in an error message.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from csmetrics.sources import SourceError
from csmetrics.sources.hubspot.extract import BoundedRetry
from csmetrics.sources.hubspot.objects import parse_time
from csmetrics.sources.salesforce.objects import record_problems, to_raw
from csmetrics.sources.workspace import RawObject

API_VERSION = "59.0"
Progress = Callable[[str, int, bool], None]


@dataclass
class Credentials:
    """What the SDK logs in with (from the environment); never printed (``repr`` hides every value)."""

    instance_url: str | None = field(default=None, repr=False)
    access_token: str | None = field(default=None, repr=False)
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    security_token: str | None = field(default=None, repr=False)
    domain: str = "login"

    def secrets(self) -> list[str]:
        return [s for s in (self.access_token, self.password, self.security_token) if s]


@dataclass
class SyncOptions:
    credentials: Credentials = field(repr=False)
    wanted: tuple[str, ...] = ()
    cursor: str | None = None
    api_version: str = API_VERSION
    timeout: float = 30.0
    max_retries: int = 5
    max_wait: float = 60.0
    sleep: Callable[[float], None] | None = None
    progress: Progress | None = None
    session: requests.Session | None = None
    """A ``requests`` session to use (tests pass one trusting their server's certificate)."""


@dataclass
class Extracted:
    objects: list[RawObject]
    cursor: str | None
    full: bool
    requests: int = 0


def wait(seconds: float) -> None:
    """The default wait between retries (looked up at each retry, so tests can replace it)."""
    time.sleep(seconds)


def _session(opts: SyncOptions) -> requests.Session:
    session = opts.session or requests.Session()
    retry = BoundedRetry(total=opts.max_retries, connect=opts.max_retries, read=opts.max_retries,
                         status=opts.max_retries, other=0, redirect=0, allowed_methods=frozenset({"GET"}),
                         status_forcelist=frozenset({429, *range(500, 600)}), respect_retry_after_header=True,
                         raise_on_status=False, max_wait=opts.max_wait,
                         sleeper=opts.sleep or (lambda seconds: wait(seconds)))
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _scrub(text: str, secrets: list[str]) -> str:
    for s in secrets:
        text = text.replace(s, "***")
    return text


def _detail(exc: Exception) -> str:
    content = getattr(exc, "content", None)
    first = content[0] if isinstance(content, list) and content else content
    if isinstance(first, dict):
        code, message = first.get("errorCode"), first.get("message")
        return ": ".join(str(x) for x in (code, message) if x)
    return ""


def fail(what: str, exc: Exception, secrets: list[str]) -> SourceError:
    from simple_salesforce import exceptions as sfe

    status = getattr(exc, "status", None)
    detail = _detail(exc)
    if isinstance(exc, sfe.SalesforceAuthenticationFailed):
        why = "the login was refused (check the username, password and security token in the environment)"
    elif isinstance(exc, sfe.SalesforceExpiredSession):
        why = "the access token was rejected (401 INVALID_SESSION_ID: expired or invalid); check it in the environment"
    elif isinstance(exc, requests.RequestException):
        why = f"connection failed ({type(exc).__name__})"
    else:
        why = f"HTTP {status}" + (f": {detail}" if detail else "")
    return SourceError(f"salesforce sync failed while {what}: {_scrub(why, secrets)}; the workspace was not changed")


def client(opts: SyncOptions) -> Any:
    """A ``simple_salesforce.Salesforce`` on a session (instance URL + token) or by username login."""
    from simple_salesforce import Salesforce
    from simple_salesforce.exceptions import SalesforceError

    c = opts.credentials
    session = _session(opts)
    try:
        if c.access_token:
            return Salesforce(instance_url=c.instance_url, session_id=c.access_token, session=session,
                              version=opts.api_version)
        return Salesforce(username=c.username, password=c.password, security_token=c.security_token,
                          domain=c.domain, session=session, version=opts.api_version)
    except (SalesforceError, requests.RequestException) as exc:
        raise fail("logging in", exc, c.secrets()) from None


def soql(opts: SyncOptions) -> str:
    query = f"SELECT {', '.join(opts.wanted)} FROM Account"
    if opts.cursor:
        query += f" WHERE SystemModstamp >= {opts.cursor}"
    return query


def _cursor_text(value: Any) -> str | None:
    t = parse_time(value)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ") if t else None


def extract(opts: SyncOptions) -> Extracted:
    """The Account records modified since ``opts.cursor`` (all of them without one); module docstring."""
    from simple_salesforce.exceptions import SalesforceError

    sf = client(opts)
    secrets = opts.credentials.secrets()
    out: dict[str, RawObject] = {}
    requests_made = 0
    newest = opts.cursor
    what = "querying Account"
    if opts.progress:
        opts.progress("accounts", 0, False)
    page: Any = None
    while True:
        try:
            requests_made += 1
            if page is None:
                page = sf.query(soql(opts), include_deleted=True, timeout=opts.timeout)
            else:
                what = "reading the next page of Account (nextRecordsUrl)"
                page = sf.query_more(page["nextRecordsUrl"], identifier_is_url=True, include_deleted=True,
                                     timeout=opts.timeout)
        except (SalesforceError, requests.RequestException) as exc:
            raise fail(what, exc, secrets) from None
        except ValueError:
            raise SourceError(f"salesforce sync failed while {what}: the response is not JSON; "
                              "the workspace was not changed") from None
        if not (isinstance(page, dict) and isinstance(page.get("records"), list)):
            raise SourceError(f"salesforce sync failed while {what}: the response is not a query response "
                              "({\"records\": [...]}); the workspace was not changed")
        for rec in page["records"]:
            problems = list(record_problems(rec, opts.wanted))
            if problems:
                field_, value, msg = problems[0]
                rid = rec.get("Id") if isinstance(rec, dict) else None
                raise SourceError(f"salesforce sync failed while {what}: record {rid!r} field "
                                  f"{field_ or '(record)'} {value!r} {msg}; the workspace was not changed")
            raw = to_raw(rec)
            out[raw.id] = raw
            stamp = _cursor_text(rec.get("SystemModstamp"))
            if stamp and (newest is None or stamp > newest):
                newest = stamp
        if opts.progress:
            opts.progress("accounts", len(out), False)
        if page.get("done", True) or not page.get("nextRecordsUrl"):
            break
    if opts.progress:
        opts.progress("accounts", len(out), True)
    return Extracted(list(out.values()), newest, opts.cursor is None, requests_made)


__all__ = ["API_VERSION", "Credentials", "Extracted", "SyncOptions", "client", "extract", "soql"]
