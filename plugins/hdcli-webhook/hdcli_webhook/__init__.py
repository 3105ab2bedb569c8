"""hdcli-webhook: post every committed ticket event as JSON to a configured URL.

Configuration, in the hdcli config file or from the environment
(``HDCLI_PLUGINS__WEBHOOK__URL`` and so on)::

    [plugins.webhook]
    url = "https://hooks.example/hdcli"   # no URL: the plugin does nothing
    timeout = 5                           # seconds per attempt
    retries = 1                           # further attempts on connection errors and 5xx
    events = ["ticket.opened", "ticket.closed"]   # optional filter; default: every event
    secret_env = "HDCLI_WEBHOOK_SECRET"   # optional: sign the body (or secret_cmd / secret)
    retry_base = 60                       # seconds before a queued delivery is tried again
    max_age = 86400                       # seconds after which a queued delivery is dropped

The body is ``TicketEvent.to_dict()`` as UTF-8 JSON. Every request carries ``X-Hdcli-Event``;
with a secret also ``X-Hdcli-Signature: sha256=<hex HMAC-SHA256 of the body>``.

A failed delivery is logged as one warning on the ``hdcli.webhook`` logger and never raised:
the ticket change is already committed and must not look failed because a receiver is down.
It is kept in a queue (one private JSON file per event in ``<data dir>/webhook-queue``) and
tried again, oldest first, before the next event is sent and by ``hdcli webhook flush`` (cron),
with a back-off doubling from ``retry_base`` up to an hour; after ``max_age`` it is dropped
with a warning. ``hdcli webhook test`` posts a test event and reports the HTTP status.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from hdcli import hookimpl
from hdcli.errors import ConfigError, HdcliError

if TYPE_CHECKING:
    import logging

    import typer
    from hdcli.config import Config
    from hdcli.events import TicketEvent

__version__ = "0.1.0"


DEFAULT_TIMEOUT = 5.0
DEFAULT_RETRIES = 1
MAX_RETRIES = 5
#: Seconds before the first retry, doubled for each further one. Short on purpose: the
#: delivery runs inside a CLI command that a person or a script is waiting for.
BACKOFF = 0.3
EVENT_HEADER = "X-Hdcli-Event"
SIGNATURE_HEADER = "X-Hdcli-Signature"
TEST_EVENT = "webhook.test"


def _log() -> logging.Logger:
    """The ``hdcli.webhook`` logger (logging is imported when there is something to say: most
    runs have nothing, and the import is a cost of every start)."""
    import logging

    return logging.getLogger("hdcli.webhook")


class WebhookError(Exception):
    """A delivery failed; the message is one line naming why (fit for a log)."""


@dataclass(frozen=True)
class Settings:
    """The ``[plugins.webhook]`` table, checked and converted."""

    url: str
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    events: frozenset[str] | None = None
    secret: bytes | None = None
    retry_base: float = 60.0
    max_age: float = 86400.0

    @classmethod
    def from_config(cls, config: Config) -> Settings | None:
        """The settings, or None when no URL is configured (the plugin is then idle).

        Values from the environment arrive as text and are converted here. Raises
        :class:`hdcli.errors.ConfigError` for a bad value or a secret that cannot be read.
        """
        url = str(config.get("plugins.webhook.url") or "").strip()
        if not url:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"plugins.webhook.url must be an http(s) URL, not {url!r}")
        timeout = _number(config, "timeout", DEFAULT_TIMEOUT, float)
        if timeout <= 0:
            raise ConfigError("plugins.webhook.timeout must be more than 0 seconds")
        retries = int(_number(config, "retries", DEFAULT_RETRIES, int))
        if not 0 <= retries <= MAX_RETRIES:
            raise ConfigError(f"plugins.webhook.retries must be 0 to {MAX_RETRIES}")
        events = _events(config.get("plugins.webhook.events"))
        table = config.get("plugins.webhook")
        secret = None
        if isinstance(table, Mapping) and any(
            table.get(k) for k in ("secret_env", "secret_cmd", "secret")
        ):
            from hdcli.config import resolve_secret

            secret = resolve_secret(table, "secret").encode("utf-8") or None
        retry_base = _number(config, "retry_base", 60.0, float)
        max_age = _number(config, "max_age", 86400.0, float)
        if retry_base < 0 or max_age <= 0:
            raise ConfigError("plugins.webhook.retry_base and max_age must be positive")
        return cls(url, timeout, retries, events, secret, retry_base, max_age)

    @property
    def origin(self) -> str:
        """``scheme://host[:port]`` of the URL: safe to log, as paths often carry tokens."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")

    def wants(self, event_name: str) -> bool:
        """Whether the ``events`` filter lets ``event_name`` through."""
        return self.events is None or event_name in self.events


def _number(config: Config, key: str, default: float, kind: type[float] | type[int]) -> float:
    value = config.get(f"plugins.webhook.{key}", default)
    if isinstance(value, bool):
        raise ConfigError(f"plugins.webhook.{key} must be a number, not {value!r}")
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"plugins.webhook.{key} must be a number, not {value!r}") from None


def _events(value: Any) -> frozenset[str] | None:
    """A list from the file, or comma-separated text from the environment."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError("plugins.webhook.events must be a list of event names")
    names = frozenset(v.strip() for v in value if v.strip())
    return names or None


def signature(secret: bytes, body: bytes) -> str:
    """The value of the signature header: ``sha256=`` and the hex HMAC-SHA256 of ``body``."""
    import hashlib  # here: the plugin is loaded by every command, most never sign
    import hmac

    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Delivery:
    """A successful delivery: the receiver's HTTP status and how many attempts it took."""

    status: int
    attempts: int


def deliver(settings: Settings, payload: Mapping[str, Any]) -> Delivery:
    """POST ``payload`` as JSON to ``settings.url``; retry connection errors and 5xx answers.

    A read timeout is not retried: the receiver may already have acted on the request, and
    a second copy would be worse than a logged failure. 4xx answers are not retried either
    (sending the same body again cannot help). Raises :class:`WebhookError` when every
    attempt failed.
    """
    import json

    import requests

    body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": f"hdcli-webhook/{__version__}",
        EVENT_HEADER: str(payload.get("event", "")),
    }
    if settings.secret:
        headers[SIGNATURE_HEADER] = signature(settings.secret, body)
    attempts = settings.retries + 1
    reason = ""
    for attempt in range(1, attempts + 1):
        try:
            response = requests.post(
                settings.url,
                data=body,
                headers=headers,
                timeout=settings.timeout,
                allow_redirects=False,
            )
        except requests.exceptions.ConnectionError as exc:
            # ConnectTimeout is a ConnectionError too: nothing reached the receiver.
            reason = _connection_reason(exc)
        except requests.exceptions.Timeout:
            raise WebhookError(f"no answer within {settings.timeout:g} s") from None
        except requests.exceptions.RequestException as exc:
            raise WebhookError(f"{type(exc).__name__}: {exc}") from None
        else:
            status = response.status_code
            response.close()
            if status < 300:
                return Delivery(status, attempt)
            reason = f"HTTP {status}"
            if status < 500:
                raise WebhookError(reason)
        if attempt < attempts:
            time.sleep(BACKOFF * 2 ** (attempt - 1))
    plural = "s" if attempts > 1 else ""
    raise WebhookError(f"{reason} ({attempts} attempt{plural})")


def _connection_reason(exc: Exception) -> str:
    text = str(exc)
    if "Connection refused" in text:
        return "connection refused"
    if "timed out" in text.lower():
        return "connection timed out"
    if "Name or service not known" in text or "getaddrinfo" in text:
        return "host name not found"
    return "connection failed"


#: The longest wait between two tries of a queued delivery, in seconds.
MAX_BACKOFF = 3600.0


def queue_dir(config: Config) -> Path:
    """Where failed deliveries wait: ``<data dir>/webhook-queue`` (0700, files 0600)."""
    return config.data_dir / "webhook-queue"


def enqueue(config: Config, settings: Settings, payload: Mapping[str, Any], reason: str) -> Path:
    """Keep ``payload`` for a later try (written whole, then renamed into place)."""
    import json
    import os
    import uuid

    from hdcli.util import private_dir, write_private

    folder = queue_dir(config)
    private_dir(folder)
    now = time.time()
    entry = {
        "first_failed": now,
        "attempts": 1,
        "next_at": now + settings.retry_base,
        "reason": reason,
        "payload": dict(payload),
    }
    name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.json"
    tmp = folder / f".{name}.tmp"
    write_private(tmp, json.dumps(entry, ensure_ascii=False).encode("utf-8"))
    os.replace(tmp, folder / name)
    return folder / name


@dataclass(frozen=True)
class Flushed:
    """What :func:`flush` did: delivered, still queued (tried and failed or not yet due),
    dropped (older than ``max_age``)."""

    delivered: int
    waiting: int
    dropped: int


def flush(config: Config, settings: Settings, *, everything: bool = False) -> Flushed:
    """Try the queued deliveries that are due (``everything``: all), oldest first. A failure
    stops the run (the receiver is down: the rest waits, in order) and doubles that entry's
    back-off; an entry older than ``max_age`` is dropped with a warning."""
    import json
    import os

    folder = queue_dir(config)
    if not folder.is_dir():
        return Flushed(0, 0, 0)
    delivered = dropped = 0
    files = sorted(folder.glob("*.json"))
    waiting = len(files)
    now = time.time()
    for path in files:
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # another run took it meanwhile
        payload = entry.get("payload") or {}
        what = f"{payload.get('event')} {payload.get('ticket')}"
        if now - float(entry.get("first_failed", now)) > settings.max_age:
            _log().warning("webhook: %s dropped from the queue after %g s", what, settings.max_age)
            path.unlink(missing_ok=True)
            dropped += 1
            waiting -= 1
            continue
        if not everything and float(entry.get("next_at", 0)) > now:
            continue
        try:
            deliver(settings, payload)
        except WebhookError as exc:
            attempts = int(entry.get("attempts", 1)) + 1
            backoff = min(settings.retry_base * 2 ** (attempts - 1), MAX_BACKOFF)
            entry.update(attempts=attempts, next_at=now + backoff, reason=str(exc))
            from hdcli.util import write_private

            tmp = path.with_name(f".{path.name}.tmp")
            write_private(tmp, json.dumps(entry, ensure_ascii=False).encode("utf-8"))
            os.replace(tmp, path)
            break
        path.unlink(missing_ok=True)
        delivered += 1
        waiting -= 1
    return Flushed(delivered, waiting, dropped)


@hookimpl
def ticket_event(event: TicketEvent, config: Config) -> None:
    """Post the event when a URL is configured and the filter lets it through, after the
    queued deliveries that are due; a failed one is queued; never raise."""
    try:
        settings = Settings.from_config(config)
    except HdcliError as exc:
        _log().warning("webhook: %s %s not sent: %s", event.event, event.ticket, exc)
        return
    if settings is None or not settings.wants(event.event):
        return
    payload = event.to_dict()
    try:
        behind = flush(config, settings).waiting
        if behind:  # keep the order: the receiver still fails the older ones
            enqueue(config, settings, payload, "queued behind earlier deliveries")
            return
        deliver(settings, payload)
    except Exception as exc:  # a receiver's failure must never fail a committed change
        try:
            enqueue(config, settings, payload, str(exc))
            kept = "queued for a retry"
        except OSError as err:
            kept = f"and not queued: {err.strerror}"
        _log().warning(
            "webhook: %s %s not delivered to %s: %s; %s",
            event.event,
            event.ticket,
            settings.origin,
            exc,
            kept,
        )


def test_event(actor: str) -> TicketEvent:
    """The event ``hdcli webhook test`` sends (no ticket; ``data.test`` is true)."""
    from hdcli.events import TicketEvent
    from hdcli.util import now_iso

    return TicketEvent(TEST_EVENT, "", "hdcli webhook test", "", actor, now_iso(), {"test": True})


@hookimpl
def register_commands(app: typer.Typer) -> None:
    """Add ``hdcli webhook test`` (the CLI part lives in :mod:`hdcli_webhook.cli`)."""
    from hdcli_webhook.cli import webhook_app

    app.add_typer(webhook_app(), name="webhook")
