"""The client of a remote helpdesk (``storage.url = "https://helpdesk.example/api"``).

One pooled :class:`requests.Session` per run, a timeout on every request, the bearer token from
``storage.token_env`` or ``storage.token_cmd`` (never from the file). An error answer
``{"error": "...", "code": N}`` becomes the error of exit code ``N`` locally, so a command
against the server exits as it would in process. Imported only when the storage URL is
``http(s)://``.
"""

from __future__ import annotations

import os
import subprocess
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from hdcli.errors import (
    BackendUnavailable,
    ConfigError,
    HdcliError,
    NotFound,
    Refused,
    TransientError,
    UsageError,
)

if TYPE_CHECKING:
    from hdcli.config import Config
    from hdcli.context import Context

#: seconds to connect, seconds to wait for an answer
TIMEOUT = (5.0, 60.0)

_ERRORS: dict[int, type[HdcliError]] = {
    2: UsageError,
    3: NotFound,
    4: Refused,
    5: BackendUnavailable,
    75: TransientError,
}


def is_remote(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def token_of(config: Config) -> str:
    """The token from ``storage.token_env`` or the output of ``storage.token_cmd``."""
    env = str(config.get("storage.token_env") or "")
    if env:
        token = os.environ.get(env, "").strip()
        if not token:
            raise ConfigError(f"storage.token_env: the environment variable {env} is not set")
        return token
    cmd = str(config.get("storage.token_cmd") or "")
    if cmd:
        try:
            done = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=30)  # noqa: S602
        except subprocess.TimeoutExpired:
            raise ConfigError("storage.token_cmd: no answer within 30 s") from None
        if done.returncode != 0 or not done.stdout.strip():
            raise ConfigError(f"storage.token_cmd: exited {done.returncode} without a token")
        return done.stdout.strip()
    raise ConfigError("a remote storage.url needs storage.token_env or storage.token_cmd")


class Remote:
    """Calls of one run against the server at ``base`` (its ``…/api`` URL)."""

    def __init__(self, base: str, token: str) -> None:
        import requests

        self.base = base.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.headers["Accept"] = "application/json"

    @staticmethod
    def quote(part: str) -> str:
        return quote(part.strip(), safe="")

    def call(
        self,
        method: str,
        path: str,
        body: Any,
        ctx: Context | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        """The decoded JSON answer; the error of the answer's ``code`` otherwise."""
        import requests

        if ctx is not None and ctx.dry_run:
            params = {**(params or {}), "dry_run": "true"}
        try:
            answer = self.session.request(
                method, self.base + path, json=body, params=params, timeout=TIMEOUT
            )
        except requests.Timeout:
            raise BackendUnavailable(f"{self.base}: no answer in time; try again") from None
        except requests.RequestException as exc:
            raise BackendUnavailable(f"{self.base}: unreachable ({type(exc).__name__})") from None
        try:
            data = answer.json()
        except ValueError:
            data = None
        if answer.status_code >= 400 or data is None:
            message, code = f"HTTP {answer.status_code} from {self.base}", 5
            if isinstance(data, dict) and isinstance(data.get("error"), str):
                message = data["error"]
                given = data.get("code")
                code = given if isinstance(given, int) else code
            raise _ERRORS.get(code, BackendUnavailable)(message)
        if isinstance(data, dict) and data.get("dry_run") is True:
            from hdcli.unit import DryRun

            raise DryRun
        return data

    def close(self) -> None:
        self.session.close()
