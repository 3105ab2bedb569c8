"""One run's context: configuration, the store (opened on first use) and the acting agent."""

from __future__ import annotations

import os
from datetime import date, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from hdcli.errors import ConfigError, NotFound
from hdcli.util import one_line

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from hdcli.backends.base import SqlStorage
    from hdcli.config import Config
    from hdcli.remote import Remote


class Context:
    """What workflow functions need: ``config``, ``store``, ``actor`` and the local day."""

    def __init__(
        self,
        config: Config,
        actor: str | None = None,
        *,
        agent_required: bool = False,
        create_store: bool = True,
    ) -> None:
        self.config = config
        self._actor = actor
        self._actor_checked = not agent_required
        self._system_user: str | None = None
        #: False (the CLI, but for ``db upgrade`` and ``demo``): a store that does not exist
        #: (an SQLite file or folder) is an error instead of a new, empty helpdesk
        self.create_store = create_store
        self.dry_run = False  # changes are checked, then rolled back (see hdcli.unit.change)
        self.after_commit: list[Any] = []  # events to announce, outbound ids to deliver
        #: addresses whose automatic mail the daily cap suppressed in this run, warned about
        #: once (each suppression is in the ticket's history and in ``mail attention``)
        self.capped_warned: set[str] = set()

    @cached_property
    def store(self) -> SqlStorage:
        from hdcli.backends import open_storage

        store: SqlStorage = open_storage(  # type: ignore[assignment]
            self.config.storage_url, self.config, create=self.create_store
        )
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
        """``--as`` (with ``agent_required``: an active agent, else NotFound), else config
        ``user`` (``HDCLI_USER``), else the operating-system user as ``os:LOGIN``."""
        if self._actor:
            if not self._actor_checked:
                from hdcli.repo import customers as customer_repo

                if customer_repo.active_agent(self.store, self._actor) is None:
                    raise NotFound(
                        f"--as {self._actor!r} is no active agent (hdcli agent list shows them)"
                    )
                self._actor_checked = True
            return one_line(self._actor)
        configured = self.config.get("user")
        if configured:
            return one_line(str(configured))
        if self._system_user is None:
            import getpass

            try:
                self._system_user = f"os:{one_line(getpass.getuser())}"
            except (KeyError, OSError):
                self._system_user = "os:unknown"
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
