"""Full-text search: the index of every ticket's text and the words of a query.

A foundation module (the documents' SQL is in :mod:`hdcli.repo.search`, the index is the
backend's): :mod:`hdcli.articles`, :mod:`hdcli.customers` and :mod:`hdcli.privacy` keep the
index in the transaction of their change; ``hdcli search`` and ``hdcli list --search`` ask it
through one query (:func:`hdcli.views.list_tickets`).

A query is read as words (letters, digits) only: every word must occur, quotes, operators and
parentheses are no syntax, so no text typed can break the index's query.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from hdcli.errors import UsageError

if TYPE_CHECKING:
    from hdcli.backends.base import SqlStorage, Storage

#: words of a query at most, characters of a word at most
MAX_WORDS = 16
MAX_WORD = 64
_WORD = re.compile(r"[^\W_]+")
BATCH = 500


def words(query: str) -> list[str]:
    """The words of ``query`` (each once, in order); UsageError when it has none."""
    found = list(dict.fromkeys(w[:MAX_WORD] for w in _WORD.findall(query)))[:MAX_WORDS]
    if not found:
        raise UsageError("the search has no words (letters or digits) to look for")
    return found


def terms(store: SqlStorage, query: str) -> str:
    """The parameter of the backend's search for ``query`` (see :func:`words`)."""
    return store.search_terms(words(query))


def refresh(store: SqlStorage, ticket_ids: Iterable[int]) -> None:
    """Write the current text of these tickets into the index: inside a transaction once,
    just before it commits (a new ticket with its first mail and its acknowledgement is
    indexed once, not after each), at once outside one. A read of the index inside the
    transaction calls :func:`current` first."""
    if not store.in_transaction:
        _write(store, ticket_ids)
        return
    store.before_commit("search", _Stale(store)).ids.update(ticket_ids)


class _Stale:
    """The tickets of the open transaction whose document is still to be written."""

    def __init__(self, store: SqlStorage) -> None:
        self.store = store
        self.ids: set[int] = set()

    def __call__(self) -> None:
        _write(self.store, sorted(self.ids))


def current(store: SqlStorage) -> None:
    """Before the index is read inside a transaction: write the documents still waiting."""
    store.run_before_commit("search")


def _write(store: SqlStorage, ticket_ids: Iterable[int]) -> None:
    from hdcli.repo import search as search_repo

    ids = list(dict.fromkeys(ticket_ids))
    for i in range(0, len(ids), BATCH):
        store.search_put(search_repo.documents(store, ids[i : i + BATCH]))


def rebuild(storage: Storage) -> int:
    """Index every ticket anew (``hdcli db upgrade``, ``hdcli db copy``); returns how many."""
    from hdcli.backends.base import SqlStorage
    from hdcli.repo import search as search_repo

    if not isinstance(storage, SqlStorage):
        return 0  # a store of a plugin's own kind keeps its own index
    store = storage

    count = 0
    with store.transaction():
        store.search_clear()
        batch: list[int] = []
        for tid in list(search_repo.ticket_ids(store)):
            batch.append(tid)
            if len(batch) >= BATCH:
                _write(store, batch)
                count += len(batch)
                batch = []
        _write(store, batch)
        count += len(batch)
    return count


def forget(store: SqlStorage, texts: Iterable[str], contact_id: int | None = None) -> int:
    """After erasure scrubbed ``texts`` (an address, a name) from the tickets: index anew
    every ticket whose document held them or whose requester is ``contact_id``, and leave no
    trace of the old documents in the index. Returns how many tickets were indexed anew."""
    from hdcli.repo import search as search_repo

    current(store)
    ids: set[int] = set()
    for text in texts:
        if text.strip():
            ids.update(store.search_containing(text.strip()))
    if contact_id is not None:
        ids.update(search_repo.of_contact(store, contact_id))
    _write(store, sorted(ids))
    store.search_compact()
    return len(ids)


def snippets(store: SqlStorage, found: str, numbers: list[str]) -> dict[str, str]:
    """An excerpt around the matches of ``found`` (:func:`terms` of a query) for each of
    these tickets, by number."""
    current(store)
    return store.search_snippets(found, numbers)
