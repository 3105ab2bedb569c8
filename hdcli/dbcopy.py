"""Move a whole helpdesk between storage backends (``hdcli db copy``).

Every table is copied in dependency order with its ids (customers, tickets, articles,
attachments, time entries, approvals, service reports, the outbound queue, the inbound log,
counters and history), then the target's id sequences are moved past the copied ids and the
row counts of both sides are compared. The copy into the target is one transaction: when
anything fails, the target is left as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from hdcli.errors import HdcliError, Refused, UsageError

if TYPE_CHECKING:
    from hdcli.backends.base import Row, Storage
    from hdcli.config import Config

BATCH = 500
_SKIP = {"schema_migrations"}


def _skipped(table: str) -> bool:
    """Not copied: the schema's history, and the search index (each backend has its own
    kind; the target's is rebuilt from the copied rows)."""
    return table in _SKIP or table.startswith("search_index")


def copy_store(
    source_url: str, target_url: str, *, force: bool = False, config: Config | None = None
) -> dict[str, int]:
    """Copy every row of ``source_url`` into ``target_url``; return rows copied per table.

    The source must be at the current schema version (``hdcli db upgrade`` it first); it is
    only read. The target is upgraded to the current schema first. A target that holds any
    row is refused (:class:`Refused`) unless ``force``, which empties it inside the same
    transaction. Raises :class:`HdcliError` when the counts differ afterwards (nothing is
    committed then).
    """
    from hdcli.backends import open_storage
    from hdcli.backends.base import latest_version
    from hdcli.config import mask_url

    if _same_store(source_url, target_url):
        raise UsageError("--from and --to name the same store")
    source = open_storage(source_url, config, upgrade=False)
    try:
        target = open_storage(target_url, config, upgrade=False)
    except BaseException:
        source.close()
        raise
    try:
        version = source.schema_version()
        if version == 0:
            raise Refused(f"{mask_url(source_url)} holds no hdcli helpdesk")
        if version != latest_version():
            raise Refused(
                f"{mask_url(source_url)} is at schema version {version}, this hdcli has "
                f"{latest_version()}: run `hdcli db upgrade` on it first"
            )
        tables = copy_order(source)
        if not force:
            filled = _filled_tables(target)
            if filled:
                raise Refused(
                    f"{mask_url(target_url)} holds data already (in {', '.join(filled[:5])}): "
                    "copy into an empty store, or replace its data with --force"
                )
        target.upgrade()
        missing = sorted(set(tables) - set(target.list_tables()))
        if missing:
            raise Refused(f"{mask_url(target_url)} has no table {', '.join(missing)}")
        counts: dict[str, int] = {}
        with source.transaction(), target.transaction():
            if force:
                for table in reversed(copy_order(target)):
                    target.delete_rows(table)
            for table in tables:
                counts[table] = _copy_table(source, target, table)
            target.reset_sequences()
            target.analyze()
            from hdcli.search import rebuild

            rebuild(target)
            _verify(source, target, counts)
        return counts
    finally:
        source.close()
        target.close()


def copy_order(store: Storage) -> list[str]:
    """The store's tables, parents before children: the known order of
    :attr:`SqlStorage.tables`, then tables it does not know, by name."""
    from hdcli.backends.base import SqlStorage

    present = [t for t in store.list_tables() if not _skipped(t)]
    known = [t for t in SqlStorage.tables if t in present]
    return known + sorted(t for t in present if t not in known)


def _filled_tables(store: Storage) -> list[str]:
    return [t for t in store.list_tables() if not _skipped(t) and store.has_rows(t)]


def _copy_table(source: Storage, target: Storage, table: str) -> int:
    wanted = set(target.columns(table))
    cols = [c for c in source.columns(table) if c in wanted]
    dropped = [c for c in source.columns(table) if c not in wanted]
    if dropped:
        raise Refused(f"table {table}: the target has no column {', '.join(dropped)}")
    # Ids in order, so self-references (a follow-up ticket) find their older row first.
    n = 0
    for batch in _batches(source.read_rows(table, cols)):
        target.write_rows(table, cols, [tuple(_portable(r[c]) for c in cols) for r in batch])
        n += len(batch)
    return n


def _batches(rows: Iterator[Row]) -> Iterator[list[Row]]:
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _portable(value: Any) -> Any:
    return value.tobytes() if isinstance(value, memoryview) else value


def _verify(source: Storage, target: Storage, counts: dict[str, int]) -> None:
    wrong = []
    for table, copied in counts.items():
        have = target.count_rows(table)
        had = source.count_rows(table)
        if not (have == had == copied):
            wrong.append(f"{table} (source {had}, copied {copied}, target {have})")
    if wrong:
        raise HdcliError(f"copy not verified, nothing was committed: {'; '.join(wrong)}")


def _same_store(a: str, b: str) -> bool:
    if a == b:
        return True
    if a.startswith("sqlite:") and b.startswith("sqlite:"):
        from hdcli.backends.sqlite import path_of

        return path_of(a).resolve() == path_of(b).resolve()
    return False
