"""`csmetrics serve`, `report`, `token create|list|revoke`, `audit` and `survey link`: the web side on the
command line."""

from __future__ import annotations

import datetime as dt
import signal
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from csmetrics.cli.common import DataOpt, WorkspaceOpt, console, err, handle_errors
from csmetrics.io.dataset import DEFAULT_WORKSPACE
from csmetrics.io.lock import is_lock_conflict
from csmetrics.schema.errors import CsmetricsError, UsageError

if TYPE_CHECKING:
    from csmetrics.web.store import Store

token_app = typer.Typer(help="API tokens for the REST API and the dashboard (stored hashed in the workspace).",
                        no_args_is_help=True)
survey_app = typer.Typer(help="Survey collection: signed, expiring links to the NPS / CSAT / CES form.",
                         no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("serve")(serve_cmd)
    app.command("report")(report_cmd)
    app.command("audit")(audit_cmd)
    app.add_typer(token_app, name="token")
    app.add_typer(survey_app, name="survey")


def _workspace(workspace: Path | None) -> Path:
    ws = workspace or DEFAULT_WORKSPACE
    if not ws.exists():
        raise UsageError(f"workspace {ws} does not exist: run `csmetrics ingest --data DIR --workspace {ws}` first")
    return ws


def _connect(workspace: Path | None, command: str = "csmetrics token"):  # type: ignore[no-untyped-def]
    """The workspace for writing; WorkspaceInUse (one line, exit 3, naming ``command --server URL``) while
    another process holds it."""
    from csmetrics.io.lock import connect_workspace, through_server
    from csmetrics.schema.errors import WorkspaceInUse

    try:
        return connect_workspace(_workspace(workspace))
    except WorkspaceInUse as exc:
        raise through_server(exc, command) from None


ServerOpt = Annotated[str | None, typer.Option(
    "--server", show_default=False,
    help="URL of the `csmetrics serve` holding the workspace: go through its API (admin token in the "
         "environment variable CSMETRICS_TOKEN) instead of opening the workspace.")]


def _client(server: str, workspace: Path | None):  # type: ignore[no-untyped-def]
    from csmetrics.web.client import ServerClient

    if workspace is not None:
        raise UsageError("give --server or --workspace, not both (the server knows its workspace)")
    return ServerClient(server)


@handle_errors
def serve_cmd(
    data: DataOpt = None,
    workspace: WorkspaceOpt = None,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    open_access: Annotated[bool, typer.Option(
        "--open", help="No token needed to read (for local use only).")] = False,
    schedule: Annotated[bool, typer.Option(
        "--schedule", help="Run the \\[schedule] jobs of the settings file in the server: source syncs and "
                           "alert evaluation (docs/web.md).")] = False,
    config: Annotated[Path | None, typer.Option(
        "--config", help="csmetrics.toml with \\[sources.NAME] and \\[schedule] tables (default ./csmetrics.toml "
                         "if present): the sources synced and their max_age_days.", show_default=False)] = None,
) -> None:
    """Run the dashboard, the REST API (/api/v1, docs at /api/docs) and the survey forms.

    With --data the directory is ingested into a temporary workspace (removed on exit) so survey
    answers can be recorded; with --workspace answers go into that workspace. With --schedule the
    server also syncs the configured sources and evaluates alerts on the cron schedule of the
    settings file's \\[schedule] table. See docs/web.md.
    """
    from csmetrics.web.store import Store

    if data is not None and workspace is not None:
        raise UsageError("give --data or --workspace, not both")
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        try:
            store = (Store.from_data(data, open_access) if data is not None
                     else Store(_workspace(workspace), open_access))
        except _Stopped:
            return  # stopped while ingesting: from_data has removed its temporary directory
        try:
            _run(store, host, port, open_access, fresh_token=data is not None, schedule=schedule, config=config)
        except (_Stopped, KeyboardInterrupt):
            pass
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the clean-up short
            store.close()
    finally:
        signal.signal(signal.SIGTERM, previous)
    err.print("server stopped", highlight=False)


def _run(store: Store, host: str, port: int, open_access: bool, fresh_token: bool, schedule: bool = False,
         config: Path | None = None) -> None:
    import uvicorn

    from csmetrics.web.app import create_app
    from csmetrics.web.schedule import attach

    if store.tmpdir is not None:
        err.print(f"temporary workspace {store.tmpdir} (removed when the server stops)", highlight=False,
                  soft_wrap=True)
    if not open_access:
        with store.write_lock:
            from csmetrics.web import auth

            have = any(t.revoked_at is None and t.role == auth.ADMIN for t in auth.list_tokens(store.writer))
        if not have or fresh_token:
            token = store.create_token("serve session", auth.ADMIN)
            err.print(f"API token for this server (role admin; keep it secret): [bold]{token}[/]",
                      highlight=False)
    app = create_app(store)
    jobs = attach(app, store, config, run=schedule)  # a bad [schedule] stops here, before "dashboard on"
    from csmetrics.web.data import warm

    store.warmer = warm  # the health model and first pages, computed now and after every write
    store.request_warm()
    if jobs is not None:
        err.print(f"scheduled jobs: {jobs.describe()}", highlight=False, soft_wrap=True)
    url = f"http://{host}:{port}/"
    err.print(f"csmetrics dashboard on {url} (API docs at {url}api/docs); Ctrl+C stops it", highlight=False,
              soft_wrap=True)
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again: _on_sigterm turns it into
    # an exception, so the store is closed (and a temporary workspace removed) as on Ctrl+C.
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        if jobs is not None:
            jobs.stop()


class _Stopped(Exception):  # noqa: N818 - a stop request, not an error
    """SIGTERM received outside uvicorn's own handler (while starting, or re-raised after its shutdown)."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _Stopped()


@handle_errors
def report_cmd(
    out: Annotated[Path, typer.Option("--out", help="HTML file to write.")] = Path("report.html"),
    workspace: WorkspaceOpt = None,
    data: DataOpt = None,
    period: Annotated[str, typer.Option("--period", help="week, month, quarter or year.")] = "month",
    start: Annotated[str | None, typer.Option("--start", help="First day (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option("--end", help="End day, exclusive (YYYY-MM-DD).")] = None,
    segment: Annotated[str | None, typer.Option("--segment", help="Only this segment's accounts.")] = None,
) -> None:
    """Write a self-contained static HTML report (overview, revenue, retention; JS and CSS inline).

    Reads --workspace (read-only; default ./.csmetrics/workspace.duckdb) or --data DIR. See docs/web.md.
    """
    from csmetrics.web.data import Filters
    from csmetrics.web.report import write_report

    f = Filters.parse(period, start, end, segment)
    if data is not None and workspace is not None:
        raise UsageError("give --data or --workspace, not both")
    with console.status("rendering the report..."):
        if data is not None:
            from csmetrics.web.report import write_store_report
            from csmetrics.web.store import Store

            path = write_store_report(Store.from_data(data), out, f)
        else:
            path = write_report(_workspace(workspace), out, f)
    console.print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


@token_app.command("create")
@handle_errors
def token_create(
    workspace: WorkspaceOpt = None,
    name: Annotated[str, typer.Option("--name", help="What the token is for.")] = "",
    role: Annotated[str, typer.Option(
        "--role", help="admin (everything, token admin and ingest), viewer (reads every account) or csm:NAME "
                       "(reads only the accounts whose csm is NAME; NAME must be a CSM of the accounts). The "
                       "default admin is what every token was before roles.")
    ] = "admin",
    server: ServerOpt = None,
) -> None:
    """Create a token with a role; it is printed once and only its hash is stored."""
    from csmetrics.web import auth

    if server is not None:
        out = _client(server, workspace).create_token(name, role)
        token_id, token, role = out["token_id"], out["token"], out["role"]
    else:
        con = _connect(workspace, "csmetrics token create")
        try:
            token, info = auth.create_token(con, name, role)
        finally:
            con.close()
        token_id, role = info.token_id, info.role
    err.print(f"created token {token_id} (role {role}); it is shown only once:", highlight=False)
    print(token)


@token_app.command("list")
@handle_errors
def token_list(workspace: WorkspaceOpt = None, server: ServerOpt = None) -> None:
    """List tokens (ids, names, roles; never the tokens themselves)."""
    from csmetrics.web import auth

    if server is not None:
        rows = [(t["token_id"], t["name"], t["role"], dt.datetime.fromisoformat(t["created_at"]),
                 dt.datetime.fromisoformat(t["revoked_at"]) if t["revoked_at"] else None)
                for t in _client(server, workspace).list_tokens()]
    else:
        con = _connect(workspace, "csmetrics token list")
        try:
            rows = [(i.token_id, i.name, i.role, i.created_at, i.revoked_at) for i in auth.list_tokens(con)]
        finally:
            con.close()
    t = Table(title="API tokens")
    for c in ("id", "name", "role", "created", "revoked"):
        t.add_column(c)
    for token_id, tname, trole, created, revoked in rows:
        t.add_row(token_id, tname, trole, f"{created:%Y-%m-%d %H:%M}", f"{revoked:%Y-%m-%d %H:%M}" if revoked else "")
    console.print(t)


@token_app.command("revoke")
@handle_errors
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="Token id (see `csmetrics token list`).")],
    workspace: WorkspaceOpt = None,
    server: ServerOpt = None,
) -> None:
    """Revoke a token: requests with it get 401 from then on."""
    from csmetrics.web import auth

    if server is not None:
        _client(server, workspace).revoke_token(token_id)
    else:
        con = _connect(workspace, "csmetrics token revoke")
        try:
            auth.revoke_token(con, token_id)
        finally:
            con.close()
    console.print(f"revoked token {token_id}")


@handle_errors
def audit_cmd(
    workspace: WorkspaceOpt = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many events, newest first.", min=1)] = 50,
    action: Annotated[str | None, typer.Option(
        "--action", help="Only this action: login, auth, token.use, token.create, token.revoke, ingest.",
        show_default=False)] = None,
    server: ServerOpt = None,
) -> None:
    """Show the server's audit log: sign-ins, token use, token administration and ingests (docs/web.md)."""
    from csmetrics.web import audit

    if server is not None:
        events = [audit.Event(dt.datetime.fromisoformat(e["at"]), e["actor"], e["role"], e["action"], e["target"],
                              e["ip"], e["outcome"]) for e in _client(server, workspace).audit(limit, action)]
    else:
        from csmetrics.io.lock import connect_workspace, through_server
        from csmetrics.schema.errors import WorkspaceInUse

        try:
            con = connect_workspace(_workspace(workspace), read_only=True)
        except WorkspaceInUse as exc:
            raise through_server(exc, "csmetrics audit") from None
        try:
            events = audit.read(con, limit, action)
        finally:
            con.close()
    t = Table(title="audit log (newest first)")
    for c in ("at (UTC)", "action", "outcome", "token", "role", "target", "ip"):
        t.add_column(c)
    for e in events:
        t.add_row(f"{e.at:%Y-%m-%d %H:%M:%S}", e.action, e.outcome, e.actor or "", e.role or "", e.target or "",
                  e.ip or "")
    console.print(t)


@survey_app.command("link")
@handle_errors
def survey_link(
    account: Annotated[str, typer.Option("--account", help="Account id the answer is for.")],
    survey: Annotated[str, typer.Option("--survey", help="nps, csat or ces.")] = "nps",
    ticket: Annotated[str | None, typer.Option("--ticket", help="Ticket the survey follows (csat/ces).")] = None,
    workspace: WorkspaceOpt = None,
    base_url: Annotated[str, typer.Option("--base-url", help="Where `csmetrics serve` is reachable.")] = (
        "http://127.0.0.1:8000"),
    days: Annotated[int, typer.Option("--days", help="Days until the link expires.", min=1, max=365)] = 14,
    token: Annotated[str | None, typer.Option(
        "--token", envvar="CSMETRICS_TOKEN", show_default=False,
        help="API token of the server at --base-url, used when that server holds the workspace.")] = None,
) -> None:
    """Print a signed, expiring link to the survey form for one account (answerable once).

    The account must be in the workspace. While `csmetrics serve` holds the workspace, the link is
    asked of that server (at --base-url, with --token or CSMETRICS_TOKEN), which checks the account.
    """
    import duckdb

    from csmetrics import surveys
    from csmetrics.schema.tables import SURVEYS

    kind = survey.strip().lower()
    if kind not in SURVEYS:
        raise UsageError(f"--survey {survey!r}: unknown survey, expected one of {', '.join(SURVEYS)}")
    ws = _workspace(workspace)
    try:
        con = duckdb.connect(str(ws), read_only=True)
    except duckdb.Error as exc:
        if not is_lock_conflict(exc):
            raise UsageError(f"cannot read {ws}: {exc}") from None
        # A running server holds the workspace (DuckDB: one process per file): it checks the account.
        url, expires = _link_from_server(base_url, token, ws, account, kind, ticket, days)
    else:
        try:
            known = surveys.account_exists(con, account)
        finally:
            con.close()
        if not known:
            raise UsageError(f"no account {account!r} in {ws}")
        signed, link = surveys.make_link_token(surveys.load_key(ws), account, kind, ticket, dt.timedelta(days=days))
        url, expires = f"{base_url.rstrip('/')}/survey/{signed}", link.expires_at
    print(url)
    err.print(f"expires {expires:%Y-%m-%d %H:%M} UTC", highlight=False)


def _link_from_server(base_url: str, token: str | None, ws: Path, account: str, survey: str,
                      ticket: str | None, days: int) -> tuple[str, dt.datetime]:
    """Ask the server holding ``ws`` for the link (POST /api/v1/survey-links); it checks the account."""
    import json
    import urllib.error
    import urllib.request

    base = base_url.rstrip("/")
    held = f"{ws} is held by another process (a running `csmetrics serve`?)"
    body = json.dumps({"account_id": account, "survey": survey, "ticket_id": ticket, "ttl_days": days}).encode()
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    req = urllib.request.Request(f"{base}/api/v1/survey-links", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 (the user's own server)
            out = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        try:
            detail = str(json.loads(exc.read()).get("detail", ""))
        except (ValueError, AttributeError):
            detail = ""
        if exc.code == 401:
            raise UsageError(f"{held}; the server at {base} checks the account but needs a token: pass --token or "
                             "set CSMETRICS_TOKEN (serve prints one when it starts)") from None
        if exc.code == 404 and detail.startswith("no account"):
            raise UsageError(f"{detail} (checked by the server at {base})") from None
        raise UsageError(f"{held}; the server at {base} refused the link: {exc.code} {detail}".rstrip()) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise _NoServer(f"{held}, and no csmetrics server answered at {base} ({reason}), so the account cannot "
                        "be checked and no link is made: give the running server's --base-url, or stop it") from None
    return str(out["url"]), dt.datetime.fromisoformat(str(out["expires_at"]).replace("Z", "+00:00"))


class _NoServer(CsmetricsError):
    """The workspace is held by another process and no server answered for it: exit 3 (in use, try again),
    as :class:`~csmetrics.schema.errors.WorkspaceInUse`."""

    exit_code = 3
