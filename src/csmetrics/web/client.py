"""The CLI's way through a running server: ``--server URL`` on ``csmetrics ingest`` and ``csmetrics token``.

While ``csmetrics serve`` holds a workspace, no other process may open the file
(DuckDB), so commands that write it ask the server instead, with an admin token
read from the environment variable ``CSMETRICS_TOKEN`` (never from the command
line, where it would show in the process list and shell history, and never
printed). The server answers exactly as the command would: the same defects
(file, row, column) for a bad data directory, exit code 2.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx

from csmetrics.schema.errors import CsmetricsError, DataError, Defect, UsageError

TOKEN_ENV = "CSMETRICS_TOKEN"
TIMEOUT = 600.0
"""Seconds to wait for an answer (an ingest of a large upload takes a while)."""


class ServerUnreachable(CsmetricsError):
    """No csmetrics server answered at the URL: exit 3 (try again), like a workspace in use."""

    exit_code = 3


class ServerClient:
    """Calls the admin endpoints of the server at ``base`` with the token of ``$CSMETRICS_TOKEN``."""

    def __init__(self, base: str, token: str | None = None) -> None:
        self.base = base.rstrip("/")
        if not self.base.startswith(("http://", "https://")):
            raise UsageError(f"--server {base[:100]!r}: expected the server's URL, e.g. http://127.0.0.1:8000")
        tok = token if token is not None else os.environ.get(TOKEN_ENV, "").strip()
        if not tok:
            raise UsageError(f"--server needs an admin token in the environment variable {TOKEN_ENV} "
                             "(`serve` prints one when it starts)")
        self._headers = {"Authorization": f"Bearer {tok}"}

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        url = f"{self.base}/api/v1{path}"
        try:
            r = httpx.request(method, url, headers=self._headers, timeout=TIMEOUT, **kwargs)
        except httpx.HTTPError as exc:
            raise ServerUnreachable(f"no csmetrics server answered at {self.base} ({type(exc).__name__}): "
                                    "check --server (the URL `serve` prints)") from None
        if r.is_success:
            return r.json()
        try:
            body = r.json()
        except ValueError:
            body = {}
        detail = str(body.get("detail", "")) if isinstance(body, dict) else ""
        if r.status_code == 422 and isinstance(body, dict) and isinstance(body.get("defects"), list):
            raise DataError([Defect(d["file"], d.get("row"), d.get("column"), d.get("value"), d["expected"])
                             for d in body["defects"]])
        if r.status_code == 401:
            raise UsageError(f"the server at {self.base} refused the token in {TOKEN_ENV} (missing, wrong or "
                             "revoked)")
        if r.status_code == 403:
            raise UsageError(f"the server at {self.base} needs an admin token for this ({TOKEN_ENV} holds a "
                             "token of another role)")
        if r.status_code == 502:  # the vendor's API failed on the server: exit 1 as `csmetrics sync` would
            from csmetrics.sources import SourceError

            raise SourceError(f"the server at {self.base} could not sync: {detail}")
        if r.status_code == 429:
            raise UsageError(f"the server at {self.base} refused: {detail or 'too many failed sign-ins'}")
        raise UsageError(f"the server at {self.base} refused: {r.status_code} {detail}".rstrip())

    def create_token(self, name: str, role: str) -> dict[str, Any]:
        return self._call("POST", "/tokens", json={"name": name, "role": role})  # type: ignore[no-any-return]

    def list_tokens(self) -> list[dict[str, Any]]:
        return self._call("GET", "/tokens")  # type: ignore[no-any-return]

    def sync(self, source: str, full: bool) -> dict[str, Any]:
        return self._call("POST", f"/sync/{source}", params={"full": str(full).lower()})  # type: ignore[no-any-return]

    def run_alerts(self) -> dict[str, Any]:
        return self._call("POST", "/alerts/run")  # type: ignore[no-any-return]

    def revoke_token(self, token_id: str) -> dict[str, Any]:
        return self._call("DELETE", f"/tokens/{token_id}")  # type: ignore[no-any-return]

    def audit(self, limit: int = 100, action: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit, **({"action": action} if action else {})}
        return self._call("GET", "/audit", params=params)  # type: ignore[no-any-return]

    def ingest(self, data_dir: Path) -> dict[str, dict[str, int]]:
        """Upload the data directory's files (those ``csmetrics ingest --data`` reads) and ingest them."""
        from csmetrics.web.admin import UPLOAD_NAMES

        if not data_dir.is_dir():
            raise DataError([Defect(str(data_dir), None, None, None, "is not a directory")])
        paths = sorted(p for p in data_dir.iterdir() if p.name in UPLOAD_NAMES and p.is_file())
        if not any(p.stem == "accounts" for p in paths):
            raise DataError([Defect(str(data_dir / "accounts.csv"), None, None, None,
                                    "is missing: accounts.csv or accounts.parquet is required")])
        handles = [p.open("rb") for p in paths]
        try:
            files = [("files", (p.name, h, "application/octet-stream")) for p, h in zip(paths, handles, strict=True)]
            out = self._call("POST", "/ingest", files=files)
        finally:
            for h in handles:
                h.close()
        return out["tables"]  # type: ignore[no-any-return]
