"""`csmetrics alerts`: evaluate alert rules, list, acknowledge, snooze and deliver alerts.

Thin: parse options, call :mod:`csmetrics.alerts`, render. Docs: docs/alerts.md.
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from csmetrics.alerts import Alert, DeliveryReport
from csmetrics.cli.common import WorkspaceOpt, console, err, handle_errors, print_json
from csmetrics.cli.render import Col, make_table, print_tables, terminal_width
from csmetrics.periods import parse_date
from csmetrics.schema.errors import UsageError

__all__ = ["alerts_app", "register"]

alerts_app = typer.Typer(
    name="alerts",
    help="Alert rules on the workspace: run, list, test, ack, snooze, deliver. Docs: docs/alerts.md",
    no_args_is_help=True,
)

AsOfOpt = Annotated[str | None, typer.Option(
    "--as-of", help="Evaluate as of this day (YYYY-MM-DD; default: last day with activity).", show_default=False)]
RulesOpt = Annotated[Path | None, typer.Option(
    "--rules", help="Alerts TOML (default: alerts.toml next to the workspace, else the packaged rules).",
    show_default=False)]
FormatOpt = Annotated[str, typer.Option("--format", help="table or json.")]
ByOpt = Annotated[str | None, typer.Option("--by", help="Who does it (default: the login name).",
                                           show_default=False)]
SEVERITY_STYLE = {"info": "cyan", "warning": "yellow", "critical": "bold red"}


def register(app: typer.Typer) -> None:
    """Add the `alerts` group to ``app``."""
    app.add_typer(alerts_app)


def _workspace(workspace: Path | None) -> Path:
    from csmetrics.io.dataset import DEFAULT_WORKSPACE

    ws = workspace or DEFAULT_WORKSPACE
    if not ws.exists():
        raise UsageError(f"workspace {ws} does not exist: run `csmetrics ingest --data DIR --workspace {ws}` first")
    return ws


def _check_format(fmt: str) -> None:
    if fmt not in ("table", "json"):
        raise UsageError(f"--format {fmt!r}: expected one of table, json")


def _who(by: str | None) -> str:
    if by:
        return by
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (some containers)
        return "cli"


def _money(v: float) -> str:
    return f"{v:,.2f}"


def _status(a: Alert) -> str:
    """The alert's status, then each delivery's: ``open; email sent, webhook failed``."""
    if not a.deliveries:
        return a.status
    return a.status + "; " + ", ".join(f"{d['channel']} {d['status']}" for d in a.deliveries)


def _print_alerts(alerts: list[Alert], title: str) -> None:
    """One row per alert, in four columns so that the reason keeps room on an 80-column terminal: the
    rule (coloured by severity: info cyan, warning yellow, critical red), its id and day; the account
    and its CSM; the MRR at stake; the reason and the status."""
    cols = [Col("alert", "key"), Col("account / CSM", "text"), Col("MRR", "num"), Col("reason / status", "text")]
    rows = [[f"[{SEVERITY_STYLE.get(a.severity, '')}]{escape(a.rule)}[/]\n{a.id}\n{a.as_of.isoformat()}",
             escape(f"{a.account_name} ({a.account_id})") + "\n" + escape(a.csm or "no CSM"), _money(a.mrr),
             escape(a.reason) + "\n[dim]" + escape(_status(a)) + "[/]"] for a in alerts]
    print_tables([make_table(title + " (rule colour: severity)", cols, rows, show_lines=True)], terminal_width())


def _print_report(report: DeliveryReport) -> None:
    err.print(f"delivery: {len(report.sent)} sent, {len(report.retrying)} to retry, {len(report.failed)} failed",
              highlight=False)
    for oid, msg in report.errors.items():
        err.print(f"  {oid}: {msg}", markup=False, highlight=False, soft_wrap=True)


@alerts_app.command("run")
@handle_errors
def run_cmd(
    workspace: WorkspaceOpt = None,
    as_of: AsOfOpt = None,
    rules: RulesOpt = None,
    no_deliver: Annotated[bool, typer.Option("--no-deliver", help="Record the new alerts, send nothing yet.")] = False,
    fmt: FormatOpt = "table",
    server: Annotated[str | None, typer.Option(
        "--server", show_default=False,
        help="URL of the `csmetrics serve` holding the workspace: it evaluates and delivers, as of its last "
             "data day (admin token in the environment variable CSMETRICS_TOKEN).")] = None,
) -> None:
    """Evaluate the rules as of a day, record the new alerts, deliver them; print the new ones."""
    from csmetrics.alerts import deliver, evaluate

    _check_format(fmt)
    if server is not None:
        if as_of is not None or rules is not None or no_deliver:
            raise UsageError("with --server the server evaluates with its own rules as of its last data day: "
                             "drop --as-of, --rules and --no-deliver")
        from csmetrics.web.client import ServerClient

        console.print(ServerClient(server).run_alerts()["summary"], highlight=False)
        return
    from csmetrics.io.lock import through_server
    from csmetrics.schema.errors import WorkspaceInUse

    ws = _workspace(workspace)
    day = parse_date(as_of, "--as-of") if as_of else None
    try:
        new = evaluate(ws, day, rules)
        report = None if no_deliver else deliver(ws, rules)
    except WorkspaceInUse as exc:
        raise through_server(exc, "csmetrics alerts run") from None
    if fmt == "json":
        print_json([a.to_dict() for a in new])
    elif new:
        _print_alerts(new, f"{len(new)} new alert{'s' if len(new) != 1 else ''}")
    else:
        console.print("no new alerts", highlight=False)
    if report is not None:
        _print_report(report)


@alerts_app.command("list")
@handle_errors
def list_cmd(
    workspace: WorkspaceOpt = None,
    status: Annotated[str | None, typer.Option(
        "--status", help="open, acknowledged, snoozed, or failed (a delivery failed).", show_default=False)] = None,
    csm: Annotated[str | None, typer.Option("--csm", help="Only this CSM's accounts.", show_default=False)] = None,
    rule: Annotated[str | None, typer.Option("--rule", help="Only this rule.", show_default=False)] = None,
    fmt: FormatOpt = "table",
) -> None:
    """Stored alerts, newest first, with their delivery status."""
    from csmetrics.alerts import list_alerts

    _check_format(fmt)
    alerts = list_alerts(_workspace(workspace), status, csm, rule)
    if fmt == "json":
        print_json([a.to_dict() for a in alerts])
    elif alerts:
        _print_alerts(alerts, f"{len(alerts)} alert{'s' if len(alerts) != 1 else ''}")
    else:
        console.print("no alerts", highlight=False)


@alerts_app.command("test")
@handle_errors
def test_cmd(
    rule: Annotated[str, typer.Argument(help="Rule name (e.g. usage_drop).")],
    account: Annotated[str, typer.Option("--account", help="Account id.")],
    workspace: WorkspaceOpt = None,
    as_of: AsOfOpt = None,
    rules: RulesOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Why RULE fires or not for one account, with the numbers; records nothing."""
    from csmetrics.alerts import probe

    _check_format(fmt)
    day = parse_date(as_of, "--as-of") if as_of else None
    result = probe(_workspace(workspace), rule, account, day, rules)
    if fmt == "json":
        print_json(result)
        return
    verdict = "[bold red]fires[/]" if result["fires"] else "[green]does not fire[/]"
    console.print(f"{escape(rule)} ({result['kind']}) for {escape(account)} as of {result['as_of']}: {verdict}",
                  highlight=False)
    params = ", ".join(f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}"
                       for k, v in result["params"].items())
    console.print(f"parameters: {params}", highlight=False)
    for reason in result["reasons"]:
        console.print(f"  reason: {escape(reason)}", highlight=False)
    rows: list[list[Any]] = [[escape(k), escape(", ".join(v) if isinstance(v, list) else str(v))]
                             for k, v in result["numbers"].items()]
    print_tables([make_table("numbers", [Col("what", "text"), Col("value", "text")], rows)], terminal_width())


@alerts_app.command("ack")
@handle_errors
def ack_cmd(
    alert_id: Annotated[str, typer.Argument(help="Alert id (see `alerts list`).")],
    workspace: WorkspaceOpt = None,
    by: ByOpt = None,
) -> None:
    """Acknowledge an alert."""
    from csmetrics.alerts import acknowledge

    a = acknowledge(_workspace(workspace), alert_id, _who(by))
    console.print(f"alert {a.id} acknowledged by {escape(a.acknowledged_by or '')}", highlight=False)


@alerts_app.command("snooze")
@handle_errors
def snooze_cmd(
    alert_id: Annotated[str, typer.Argument(help="Alert id (see `alerts list`).")],
    until: Annotated[str, typer.Option("--until", help="Snoozed until this day (YYYY-MM-DD, open again then).")],
    workspace: WorkspaceOpt = None,
    by: ByOpt = None,
) -> None:
    """Snooze an alert: its rule raises nothing new for the account until the day."""
    from csmetrics.alerts import snooze

    a = snooze(_workspace(workspace), alert_id, parse_date(until, "--until"), _who(by))
    console.print(f"alert {a.id} snoozed until {a.snoozed_until} by {escape(a.snoozed_by or '')}", highlight=False)


@alerts_app.command("deliver")
@handle_errors
def deliver_cmd(workspace: WorkspaceOpt = None, rules: RulesOpt = None) -> None:
    """Send the due outbox rows (new, retries whose backoff has passed, claims whose lease has passed)."""
    from csmetrics.alerts import deliver

    _print_report(deliver(_workspace(workspace), rules))


@alerts_app.command("outbox")
@handle_errors
def outbox_cmd(
    workspace: WorkspaceOpt = None,
    status: Annotated[str | None, typer.Option(
        "--status", help="pending, sending, sent or failed.", show_default=False)] = None,
    fmt: FormatOpt = "table",
) -> None:
    """The outbox: one row per alert x channel x recipient, with attempts and the last error."""
    from csmetrics.alerts import outbox

    _check_format(fmt)
    if status is not None and status not in ("pending", "sending", "sent", "failed"):
        raise UsageError(f"--status {status!r}: expected one of pending, sending, sent, failed")
    rows = outbox(_workspace(workspace), status)
    if fmt == "json":
        print_json(rows)
        return
    if not rows:
        console.print("the outbox is empty", highlight=False)
        return
    cols = [Col("id", "key"), Col("alert", "key"), Col("channel", "key"), Col("recipient", "text"),
            Col("status", "key"), Col("attempts", "num"), Col("next attempt", "key"), Col("last error", "text")]
    table = [[r["id"], r["alert_id"], r["channel"], escape(str(r["recipient"])), r["status"], str(r["attempts"]),
              str(r["next_attempt_at"])[:19], escape(r["last_error"] or "")] for r in rows]
    print_tables([make_table(f"{len(rows)} outbox rows", cols, table)], terminal_width())
