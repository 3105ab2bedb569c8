"""``hdcli mail fetch``: read every configured source and ingest what waits there.

Sources are configured as ``[mail.sources.NAME]`` tables with a ``type`` (a registered source
plugin: ``imap`` and ``maildir`` are built in), the type's settings, and optionally
``billing = true`` (the billing mailbox) and ``password_env`` / ``password_cmd``.

Order of work per message, so that a run killed at any point loses and duplicates nothing:
ingest and COMMIT, then tell the source (``done``: move, flag or delete). A message whose
result committed but whose ``done`` did not happen is read again next time, recognised as a
duplicate, and then cleared away. A lock per source (``fetch:NAME``) keeps two runs (cron
every minute) from reading the same source at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from hdcli.errors import ConfigError, TransientError, UsageError

if TYPE_CHECKING:
    from hdcli.config import Config
    from hdcli.context import Context
    from hdcli.mail.ingest import IngestResult
    from hdcli.mail.sources import Source

#: Settings keys that belong to hdcli, not to the source plugin.
OWN_KEYS = ("type", "billing", "enabled")


def source_settings(config: Config) -> dict[str, dict[str, Any]]:
    """The ``[mail.sources.*]`` tables by name (validated: each is a table with a type)."""
    table = config.get("mail.sources") or {}
    if not isinstance(table, dict):
        raise ConfigError("mail.sources must be a table of [mail.sources.NAME] tables")
    out: dict[str, dict[str, Any]] = {}
    for name, settings in table.items():
        if not isinstance(settings, dict):
            raise ConfigError(f"mail.sources.{name} must be a table")
        if not settings.get("type"):
            raise ConfigError(f"mail.sources.{name} needs a type (imap or maildir)")
        out[str(name)] = dict(settings)
    return out


def make_source(name: str, settings: dict[str, Any]) -> Source:
    """Create the source plugin for one configured source (its password resolved)."""
    from hdcli.config import resolve_secret
    from hdcli.plugins import sources

    kind = str(settings["type"])
    try:
        factory = sources.get(kind)
    except UsageError as exc:
        raise ConfigError(f"mail.sources.{name}: {exc}") from None
    plugin_settings = {k: v for k, v in settings.items() if k not in OWN_KEYS}
    if any(plugin_settings.get(k) for k in ("password_env", "password_cmd", "password")):
        plugin_settings["password"] = resolve_secret(plugin_settings)
    source: Source = factory(name, plugin_settings)
    return source


def configured_sources(config: Config) -> list[Source]:
    """Every enabled configured source, created (not yet connected) in configuration order."""
    return [
        make_source(name, settings)
        for name, settings in source_settings(config).items()
        if settings.get("enabled", True)
    ]


def fetch(
    ctx: Context, only: str | None = None, notice: Callable[[str], None] = lambda text: None
) -> Iterator[IngestResult]:
    """Fetch and ingest every configured source (or only ``only``), yielding each result.

    A source locked by another run is skipped (``notice`` tells why). A source that fails
    (server down: TransientError; bad settings: ConfigError) does not stop the others; the
    first such error is raised once every source had its turn. A store that is locked or
    unreachable (BackendUnavailable) stops the run at once, leaving the message at its source.
    """
    from hdcli.mail.ingest import ingest_one
    from hdcli.unit import finish

    all_settings = source_settings(ctx.config)
    if only is not None:
        if only not in all_settings:
            known = ", ".join(all_settings) or "none configured"
            raise UsageError(f"no mail source {only!r} (configured: {known})")
        all_settings = {only: all_settings[only]}
    first_error: Exception | None = None
    for name, settings in all_settings.items():
        if not settings.get("enabled", True) and only is None:
            continue
        billing = bool(settings.get("billing", False))
        with ctx.store.lock(f"fetch:{name}") as locked:
            if not locked:
                notice(f"source {name}: another fetch is running; skipped")
                continue
            try:
                source = make_source(name, settings)
            except ConfigError as exc:
                notice(f"source {name}: {exc}")
                first_error = first_error or exc
                continue
            try:
                for message in source.messages():
                    result = ingest_one(ctx, message.raw, name, billing, deliver=False)
                    # Only now, with the result committed, may the source clear it away.
                    source.done(message.ref, result.source_outcome)
                    yield result
                    if ctx.after_commit:
                        finish(ctx)
            except (ConfigError, TransientError) as exc:  # this source only; the store is fine
                notice(f"source {name}: {exc}")
                first_error = first_error or exc
            finally:
                if ctx.after_commit:
                    finish(ctx)
                with contextlib.suppress(Exception):
                    source.close()
    if first_error is not None:
        raise first_error
