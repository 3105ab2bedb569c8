"""Storage backends, chosen by URL scheme through the ``register_storage`` hook."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hdcli.errors import BackendUnavailable, UsageError

if TYPE_CHECKING:
    from hdcli.backends.base import Storage
    from hdcli.config import Config


def open_storage(
    url: str, config: Config | None = None, *, upgrade: bool = True, create: bool = True
) -> Storage:
    """Open the backend registered for ``url``'s scheme.

    With ``upgrade`` an empty store gets the schema; an older, non-empty one is refused until
    ``hdcli db upgrade`` ran. Without ``create`` a store that cannot exist yet (an SQLite
    file whose folder does not exist: a typo in the URL, say) is refused (BackendUnavailable,
    exit 5) instead of being created empty.
    """
    from hdcli.plugins import storage_backends

    scheme = url.split("://", 1)[0].split("+", 1)[0] if "://" in url else ""
    if not scheme:
        raise UsageError(f"storage URL {url!r} has no scheme (e.g. sqlite:///path/hdcli.db)")
    if scheme in ("http", "https"):
        raise UsageError(
            "this command is not available against a remote helpdesk "
            f"(storage.url {url}); run it on the server"
        )
    factory = storage_backends.get(scheme)
    if not create:
        absent = getattr(factory, "missing", None)
        what = absent(url) if callable(absent) else None
        if what:
            raise BackendUnavailable(
                f"no helpdesk at storage.url: the {what} does not exist "
                "(hdcli db upgrade creates it)"
            )
    store: Storage = factory(url, config)
    if upgrade:
        store.ensure_schema()
    return store
