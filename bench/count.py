"""``python -m bench.count FILE [--notify]``: statements per ticket of a bulk open;
``python -m bench.count --export ADDRESS``: statements of one ``hdcli privacy export``;
``python -m bench.count --ingest FOLDER``: statements per mail of ingesting each file of FOLDER
as ``hdcli-mailgate`` does, one transaction a mail (by outcome and kind).

Opens the rows of FILE (JSONL or CSV) in this process as ``hdcli open --from-file`` does, in the
helpdesk that ``HDCLI_CONFIG`` / ``HDCLI_STORAGE__URL`` name, and counts every statement hdcli
sends to the store through its connection (SQLite or PostgreSQL alike: the backends send all
SQL through the DB-API connection's ``execute``/``executemany`` and its cursors). Prints one JSON
object: rows, tickets created, statements, and statements by kind (``INSERT tickets``,
``SELECT``, ``SAVEPOINT``, …). Needs no ``pg_stat_statements`` on the server.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def _kind(sql: Any) -> str:
    words = str(sql).split(None, 3)
    if not words:
        return "?"
    head = words[0].upper()
    if head == "INSERT" and len(words) > 2:
        return f"INSERT {words[2]}"
    if head == "UPDATE" and len(words) > 1:
        return f"UPDATE {words[1]}"
    if head == "DELETE" and len(words) > 2:
        return f"DELETE {words[2]}"
    return head


class _Cursor:
    def __init__(self, cur: Any, owner: Counting) -> None:
        self._cur = cur
        self._owner = owner

    def execute(self, sql: Any, *args: Any, **kwargs: Any) -> Any:
        self._owner.count(sql)
        return self._cur.execute(sql, *args, **kwargs)

    def executemany(self, sql: Any, rows: Any, *args: Any, **kwargs: Any) -> Any:
        rows = list(rows)
        self._owner.count(sql, len(rows))
        return self._cur.executemany(sql, rows, *args, **kwargs)

    def __enter__(self) -> _Cursor:
        self._cur.__enter__()
        return self

    def __exit__(self, *exc: Any) -> Any:
        return self._cur.__exit__(*exc)

    def __iter__(self) -> Any:
        return iter(self._cur)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cur, name)


class Counting:
    """A DB-API connection that counts the statements sent through it (one per ``execute``,
    one per ``executemany`` with its rows counted apart), delegating everything else."""

    def __init__(self, conn: Any) -> None:
        object.__setattr__(self, "_conn", conn)
        object.__setattr__(self, "kinds", Counter())
        object.__setattr__(self, "many_rows", 0)

    def count(self, sql: Any, rows: int | None = None) -> None:
        self.kinds[_kind(sql)] += 1
        if rows is not None:
            object.__setattr__(self, "many_rows", self.many_rows + rows)

    def execute(self, sql: Any, *args: Any, **kwargs: Any) -> Any:
        self.count(sql)
        return self._conn.execute(sql, *args, **kwargs)

    def executemany(self, sql: Any, rows: Any, *args: Any, **kwargs: Any) -> Any:
        rows = list(rows)
        self.count(sql, len(rows))
        return self._conn.executemany(sql, rows, *args, **kwargs)

    def cursor(self, *args: Any, **kwargs: Any) -> _Cursor:
        return _Cursor(self._conn.cursor(*args, **kwargs), self)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._conn, name, value)


@contextmanager
def _counted() -> Iterator[tuple[Any, Counting]]:
    """The helpdesk that ``HDCLI_CONFIG`` names, its connection counting what is sent."""
    from hdcli.config import Config
    from hdcli.context import Context

    ctx = Context(Config.load(os.environ.get("HDCLI_CONFIG"), env=os.environ), "bench")
    store: Any = ctx.store
    counting = Counting(store._conn)
    store._conn = counting
    try:
        yield ctx, counting
    finally:
        store._conn = counting._conn
        ctx.close()


def export(address: str) -> int:
    """Count the statements of one privacy export of ``address`` (written to /dev/null)."""
    from hdcli.privacy import export as run

    with _counted() as (ctx, counting), open(os.devnull, "w", encoding="utf-8") as sink:
        rows = run(ctx, address, sink)
    print(
        json.dumps(
            {
                "rows": rows,
                "statements": sum(counting.kinds.values()),
                "by_kind": dict(counting.kinds.most_common()),
            }
        )
    )
    return 0


def ingest(folder: str) -> int:
    """Count the statements of ingesting every file of ``folder``, one transaction a mail."""
    from hdcli.mail.ingest import ingest_one

    outcomes: Counter[str] = Counter()
    per: dict[str, Counter[str]] = {}
    with _counted() as (ctx, counting):
        for path in sorted(Path(folder).iterdir()):
            before = Counter(counting.kinds)
            outcome = ingest_one(ctx, path.read_bytes(), path.name).outcome
            outcomes[outcome] += 1
            per.setdefault(outcome, Counter()).update(counting.kinds - before)
    mails = sum(outcomes.values())
    print(
        json.dumps(
            {
                "mails": mails,
                "statements": sum(counting.kinds.values()),
                "per_mail": round(sum(counting.kinds.values()) / max(mails, 1), 1),
                "outcomes": dict(outcomes),
                "per_mail_by_outcome": {
                    o: {
                        "statements": round(sum(c.values()) / outcomes[o], 1),
                        "by_kind": {k: round(n / outcomes[o], 2) for k, n in c.most_common()},
                    }
                    for o, c in per.items()
                },
            },
            indent=1,
        )
    )
    return 0


def main(argv: list[str]) -> int:
    from hdcli.bulk import open_from_file

    if argv[:1] == ["--export"]:
        return export(argv[1])
    if argv[:1] == ["--ingest"]:
        return ingest(argv[1])
    path, notify = argv[0], "--notify" in argv
    with _counted() as (ctx, counting):
        results = list(open_from_file(ctx, path, notify=notify))
    print(
        json.dumps(
            {
                "rows": len(results),
                "created": sum(1 for r in results if r.created),
                "statements": sum(counting.kinds.values()),
                "executemany_rows": counting.many_rows,
                "by_kind": dict(counting.kinds.most_common()),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
