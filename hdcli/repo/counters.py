"""Named counters (the ``counters`` table): where ticket numbers come from.

A counter is incremented atomically across processes by the backend
(:meth:`~hdcli.backends.base.Storage.next_value`, a dialect point); reserved values roll back
with their transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hdcli.backends.base import Storage


def reserve(store: Storage, counter: str, n: int = 1) -> range:
    """Reserve the next ``n`` values of ``counter`` (a new counter starts at 1)."""
    last = store.next_value(counter, n)
    return range(last - n + 1, last + 1)
