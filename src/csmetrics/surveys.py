"""Survey collection: expiring, HMAC-signed survey links and recording answers.

A link names the account, the survey (nps, csat, ces), optionally the ticket
it follows, a random nonce and an expiry time, and carries an HMAC-SHA256
signature made with the workspace's survey key. A link is answered at most
once: the nonce is recorded in ``_csmetrics_survey_links`` in the same
transaction as the answer, whose primary key refuses a replay.

The key lives next to the workspace in ``<workspace>.survey-key`` (mode 0600),
not inside the DuckDB file. Signing a link does not prove its account exists
(it may be mistyped, or removed by a later ingest), so :func:`record_answer`
checks the account in ``accounts`` inside the answer's transaction and refuses
the link ("account") when it is not there.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import math
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from csmetrics import clock
from csmetrics.config import Config
from csmetrics.io.digest import add_row
from csmetrics.schema.errors import CsmetricsError, UsageError
from csmetrics.schema.tables import SURVEYS

USED_TABLE = "_csmetrics_survey_links"
RESPONSES = "survey_responses"
DEFAULT_TTL = dt.timedelta(days=14)
MAX_COMMENT = 2000
"""Longest comment kept, in characters."""


class LinkError(CsmetricsError):
    """A survey link that cannot be answered; ``reason`` is forged, expired, used, account (its account is
    not in the workspace) or invalid (a score off the scale)."""

    exit_code = 2

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True)
class SurveyLink:
    account_id: str
    survey: str
    ticket_id: str | None
    nonce: str
    expires: int
    """Unix time (seconds) after which the link is refused."""

    @property
    def expires_at(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.expires, dt.UTC)

    @property
    def response_id(self) -> str:
        return f"web-{self.nonce}"


def key_path(workspace: str | Path) -> Path:
    return Path(f"{workspace}.survey-key")


def load_key(workspace: str | Path, create: bool = True) -> bytes:
    """The workspace's survey signing key; created (random, 32 bytes, mode 0600) if absent."""
    path = key_path(workspace)
    if path.exists():
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    if not create:
        raise CsmetricsError(f"no survey key at {path}")
    key = secrets.token_bytes(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key.hex())
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, payload: str) -> str:
    return _b64(hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest())


def make_link_token(
    key: bytes,
    account_id: str,
    survey: str,
    ticket_id: str | None = None,
    ttl: dt.timedelta = DEFAULT_TTL,
    now: dt.datetime | None = None,
) -> tuple[str, SurveyLink]:
    """A signed token for the survey form's URL (``/survey/<token>``) and what it encodes."""
    if survey not in SURVEYS:
        msg = f"unknown survey {survey!r}: expected one of {', '.join(SURVEYS)}"
        raise UsageError(msg)
    now = now or clock.now()
    link = SurveyLink(account_id, survey, ticket_id, _b64(secrets.token_bytes(12)), int((now + ttl).timestamp()))
    body = {"a": link.account_id, "s": link.survey, "t": link.ticket_id, "n": link.nonce, "e": link.expires}
    payload = _b64(json.dumps(body, separators=(",", ":")).encode("utf-8"))
    return f"{payload}.{_sign(key, payload)}", link


def verify_link_token(key: bytes, token: str, now: dt.datetime | None = None) -> SurveyLink:
    """The link a token encodes; raises :class:`LinkError` if forged, tampered or expired."""
    payload, _, sig = token.partition(".")
    if not payload or not sig or len(token) > 1024:
        raise LinkError("forged", "this survey link is not valid")
    if not hmac.compare_digest(_sign(key, payload), sig):
        raise LinkError("forged", "this survey link is not valid")
    try:
        body: dict[str, Any] = json.loads(_unb64(payload))
        link = SurveyLink(str(body["a"]), str(body["s"]), None if body["t"] is None else str(body["t"]),
                          str(body["n"]), int(body["e"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise LinkError("forged", "this survey link is not valid") from exc
    now = now or clock.now()
    if now.timestamp() >= link.expires:
        raise LinkError("expired", "this survey link has expired")
    return link


def score_range(survey: str, config: Config) -> tuple[int, int]:
    """Allowed whole-number scores of a survey (SPEC section 4)."""
    if survey == "nps":
        return 0, 10
    if survey == "ces":
        return 1, 7
    return 1, int(config.csat_scale_max)


def check_score(survey: str, score: Any, config: Config) -> int:
    lo, hi = score_range(survey, config)
    try:
        value = float(score)
    except (TypeError, ValueError):
        raise LinkError("invalid", f"choose a score from {lo} to {hi}") from None
    if not math.isfinite(value) or value != int(value) or not lo <= value <= hi:
        raise LinkError("invalid", f"choose a score from {lo} to {hi}")
    return int(value)


def clean_comment(comment: str | None) -> str | None:
    """The comment as stored: stripped, control characters removed, at most MAX_COMMENT characters."""
    if comment is None:
        return None
    text = "".join(ch for ch in comment if ch in "\n\t" or ch.isprintable()).strip()
    return text[:MAX_COMMENT] or None


def ensure_tables(con: duckdb.DuckDBPyConnection) -> bool:
    """Create the answer and used-link tables if absent; True if survey_responses was created."""
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {USED_TABLE} (nonce VARCHAR PRIMARY KEY, response_id VARCHAR, used_at TIMESTAMP)"
    )
    present = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND NOT temporary", [RESPONSES]
    ).fetchone()
    if present and present[0]:
        return False
    con.execute(
        f"CREATE TABLE {RESPONSES} (response_id VARCHAR, account_id VARCHAR, survey VARCHAR, score DOUBLE, "
        "responded_at TIMESTAMP, comment VARCHAR, ticket_id VARCHAR, respondent VARCHAR)"
    )
    return True


NO_ACCOUNT = "this survey link is no longer valid"
"""What the respondent reads when the link's account is not in the workspace (no account ids are shown)."""


def account_exists(con: duckdb.DuckDBPyConnection, account_id: str) -> bool:
    """Whether ``accounts`` holds ``account_id`` (False when the workspace has no accounts table)."""
    try:
        row = con.execute("SELECT count(*) FROM accounts WHERE account_id = ?", [account_id]).fetchone()
    except duckdb.CatalogException:
        return False
    return bool(row and row[0])


def check_account(con: duckdb.DuckDBPyConnection, link: SurveyLink) -> None:
    """Raise :class:`LinkError` ("account") when the link's account is not in ``accounts``."""
    if not account_exists(con, link.account_id):
        raise LinkError("account", NO_ACCOUNT)


def link_used(con: duckdb.DuckDBPyConnection, link: SurveyLink) -> bool:
    row = con.execute(f"SELECT count(*) FROM {USED_TABLE} WHERE nonce = ?", [link.nonce]).fetchone()
    return bool(row and row[0])


def record_answer(
    con: duckdb.DuckDBPyConnection,
    link: SurveyLink,
    score: int,
    comment: str | None,
    now: dt.datetime | None = None,
) -> str:
    """Insert one answer and mark the link used, in one committed transaction; returns response_id.

    Raises :class:`LinkError` ("account") if the link's account is not in ``accounts``, checked inside
    the transaction so no answer is ever stored for an unknown account, and ("used") if the link was
    answered before; then nothing is written. The caller serialises writers (one DuckDB writer per process).
    """
    now = now or clock.now()
    at = now.astimezone(dt.UTC).replace(tzinfo=None)
    con.execute("BEGIN TRANSACTION")
    try:
        check_account(con, link)
        try:
            con.execute(f"INSERT INTO {USED_TABLE} VALUES (?, ?, ?)", [link.nonce, link.response_id, at])
        except duckdb.ConstraintException:
            raise LinkError("used", "this survey link has already been answered") from None
        con.execute(
            f"INSERT INTO {RESPONSES} (response_id, account_id, survey, score, responded_at, comment, ticket_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [link.response_id, link.account_id, link.survey, float(score), at, comment, link.ticket_id],
        )
        add_row(con, RESPONSES, "response_id", link.response_id, at.date())  # keeps cached results honest
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return link.response_id


__all__ = [
    "LinkError",
    "NO_ACCOUNT",
    "SurveyLink",
    "account_exists",
    "check_account",
    "check_score",
    "clean_comment",
    "ensure_tables",
    "key_path",
    "link_used",
    "load_key",
    "make_link_token",
    "record_answer",
    "verify_link_token",
]
