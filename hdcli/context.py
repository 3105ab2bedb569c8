"""One run's context: configuration, the store (opened on first use) and the acting agent."""

from __future__ import annotations

import os
from datetime import date, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from hdcli.errors import ConfigError
from hdcli.util import one_line

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from hdcli.backends.base import SqlStorage
    from hdcli.config import Config
    from hdcli.remote import Remote


class Context:
    """What workflow functions need: ``config``, ``store``, ``actor`` and the local day."""

    def __init__(self, config: Config, actor: str | None = None) -> None:
        self.config = config
        self._actor = actor
        self._system_user: str | None = None
        self.dry_run = False  # changes are checked, then rolled back (see hdcli.unit.change)
        self.after_commit: list[Any] = []  # events to announce, outbound ids to deliver

    @cached_property
    def store(self) -> SqlStorage:
        from hdcli.backends import open_storage

        store: SqlStorage = open_storage(self.config.storage_url, self.config)  # type: ignore[assignment]
        return store

    @cached_property
    def remote(self) -> Remote | None:
        """The client of the remote helpdesk when ``storage.url`` is ``http(s)://``, else None
        (then :mod:`hdcli.remote` and requests are never imported)."""
        url = str(self.config.storage_url)
        if not url.startswith(("http://", "https://")):
            return None
        from hdcli.remote import Remote, token_of

        return Remote(url, token_of(self.config))

    def act_as(self, actor: str) -> None:
        """Make ``actor`` the acting agent (the server: the agent of the request's token)."""
        self._actor = actor

    @property
    def actor(self) -> str:
        """``--as``, else ``HDCLI_USER`` / config ``user``, else the operating-system user."""
        if self._actor:
            return one_line(self._actor)
        configured = self.config.get("user")
        if configured:
            return one_line(str(configured))
        if self._system_user is None:
            import getpass

            try:
                self._system_user = f"system:{getpass.getuser()}"
            except (KeyError, OSError):
                self._system_user = "system"
        return self._system_user

    @cached_property
    def tz(self) -> ZoneInfo:
        """The ``billing.timezone``; ConfigError when this system does not know it."""
        from hdcli.config_schema import Invalid, load_zone  # only when the local day is needed

        try:
            return load_zone(str(self.config.get("billing.timezone")))
        except Invalid as exc:
            raise ConfigError(f"billing.timezone: {exc}") from None

    def today(self) -> date:
        return datetime.now(self.tz).date()

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
        if self.__dict__.get("remote") is not None:
            self.__dict__["remote"].close()


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
