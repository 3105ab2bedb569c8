"""The embedded default: SQLite (WAL, busy timeout, foreign keys)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote

from hdcli.backends.base import (
    INTEGRITY,
    PERMANENT,
    TRANSIENT,
    ErrorKind,
    SqlStorage,
    _insert_sql,
    like_pattern,
)
from hdcli.errors import BackendError, BackendUnavailable, HdcliError
from hdcli.util import private_dir, private_file

BUSY_TIMEOUT_MS = 15000

#: The write lock of each database file, per process. Threads of one process (the server's
#: workers) queue for it here and are woken the moment it is free, instead of polling in
#: SQLite's busy handler, which sleeps up to 100 ms between tries. Reentrant, so that two
#: stores of one thread still meet at SQLite's lock as before.
_WRITERS: dict[str, threading.RLock] = {}
_WRITERS_GUARD = threading.Lock()


def _writer(path: Path) -> threading.RLock:
    key = os.path.realpath(path)
    with _WRITERS_GUARD:
        lock = _WRITERS.get(key)
        if lock is None:
            lock = _WRITERS[key] = threading.RLock()
        return lock


#: The messages of "try again later" errors, for errors that carry no result code.
_UNAVAILABLE_MESSAGES = ("locked", "busy", "unable to open", "disk I/O", "disk is full")

#: What each SQLite primary result code means for hdcli (the low byte of
#: ``sqlite_errorcode``, so every extended code goes with its primary one: READONLY_DIRECTORY
#: with READONLY, IOERR_SHORT_READ with IOERR, CONSTRAINT_UNIQUE with CONSTRAINT).
#:
#: - TRANSIENT: the database cannot take the change *now*: it is locked by another process
#:   (BUSY, LOCKED, PROTOCOL), not writable for this user (READONLY, PERM, CANTOPEN: the
#:   Postfix alias running as ``nobody``), the disk is full or failing (FULL, IOERR), memory
#:   ran out (NOMEM, raised by Python as MemoryError), or the statement was interrupted
#:   (INTERRUPT, ABORT). An admin or time fixes it without touching the data:
#:   :class:`~hdcli.errors.BackendUnavailable` (exit 5; 75 for mail ingest, so the MTA keeps
#:   the message).
#: - PERMANENT: trying again gives the same answer: a damaged database (CORRUPT), a file that
#:   is no database (NOTADB, FORMAT), SQL the database refuses (ERROR: no such table or column,
#:   a syntax error; SCHEMA; AUTH; MISUSE, RANGE: bugs), a value too big (TOOBIG), or the
#:   host's limits (NOLFS): :class:`~hdcli.errors.BackendError`. A mail that causes one is
#:   quarantined.
#: - INTEGRITY: a violated constraint (CONSTRAINT, MISMATCH) stays ``sqlite3.IntegrityError``,
#:   as the storage contract says, so that the workflow can tell a duplicate key.
#:
#: A code missing here, and a ``sqlite3.Error`` without a code (raised by the ``sqlite3``
#: module itself: a closed connection, wrong parameters), is PERMANENT.
ERROR_KINDS: dict[int, ErrorKind] = {
    1: PERMANENT,  # SQLITE_ERROR
    2: PERMANENT,  # SQLITE_INTERNAL
    3: TRANSIENT,  # SQLITE_PERM
    4: TRANSIENT,  # SQLITE_ABORT
    5: TRANSIENT,  # SQLITE_BUSY
    6: TRANSIENT,  # SQLITE_LOCKED
    7: TRANSIENT,  # SQLITE_NOMEM
    8: TRANSIENT,  # SQLITE_READONLY
    9: TRANSIENT,  # SQLITE_INTERRUPT
    10: TRANSIENT,  # SQLITE_IOERR
    11: PERMANENT,  # SQLITE_CORRUPT
    12: PERMANENT,  # SQLITE_NOTFOUND
    13: TRANSIENT,  # SQLITE_FULL
    14: TRANSIENT,  # SQLITE_CANTOPEN
    15: TRANSIENT,  # SQLITE_PROTOCOL
    16: PERMANENT,  # SQLITE_EMPTY
    17: PERMANENT,  # SQLITE_SCHEMA
    18: PERMANENT,  # SQLITE_TOOBIG
    19: INTEGRITY,  # SQLITE_CONSTRAINT
    20: INTEGRITY,  # SQLITE_MISMATCH
    21: PERMANENT,  # SQLITE_MISUSE
    22: PERMANENT,  # SQLITE_NOLFS
    23: PERMANENT,  # SQLITE_AUTH
    24: PERMANENT,  # SQLITE_FORMAT
    25: PERMANENT,  # SQLITE_RANGE
    26: PERMANENT,  # SQLITE_NOTADB
}

#: What to tell the admin on top of SQLite's own message (by primary code).
_HINTS = {
    3: "check that this user may write the database file and its folder",
    8: "check that this user may write the database file and its folder",
    14: "check that this user may write the database file and its folder",
    13: "free some disk space",
    11: "restore it from a backup",
    26: "restore it from a backup",
}


def error_kind(exc: BaseException) -> ErrorKind | None:
    """TRANSIENT, PERMANENT or INTEGRITY for an error of the ``sqlite3`` driver (see
    :data:`ERROR_KINDS`); None for anything else (it is no driver error)."""
    if isinstance(exc, MemoryError):  # how Python raises SQLITE_NOMEM
        return TRANSIENT
    if not isinstance(exc, sqlite3.Error):
        return None
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        if isinstance(exc, sqlite3.IntegrityError):
            return INTEGRITY
        # An error without a result code (a driver or wrapper that gives none): known
        # "try again" messages are transient, anything else is permanent.
        if isinstance(exc, sqlite3.OperationalError) and any(
            m in str(exc) for m in _UNAVAILABLE_MESSAGES
        ):
            return TRANSIENT
        return PERMANENT
    return ERROR_KINDS.get(code & 0xFF, PERMANENT)


def _create_private(path: Path) -> None:
    """Create a missing database file as 0600 before SQLite opens it: SQLite gives its
    ``-wal`` and ``-shm`` files the database file's mode, so they are private too. An
    existing database keeps its mode (an admin may share it with the MTA's user on purpose)."""
    if str(path) in ("", ":memory:") or path.exists():
        return
    with contextlib.suppress(FileExistsError):  # a concurrent run created it first
        os.close(private_file(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL))


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    return {d[0]: v for d, v in zip(cursor.description, row, strict=True)}


def path_of(url: str) -> Path:
    """``sqlite:///rel/path`` is relative, ``sqlite:////abs/path`` absolute (SQLAlchemy style);
    ``sqlite:///`` followed by an absolute path as produced by the defaults also works."""
    rest = url.split("://", 1)[1]
    rest = rest.split("?", 1)[0]
    if rest.startswith("/"):
        rest = rest[1:]
    return Path(unquote(rest)).expanduser()


#: blobs of this size and more are written in pieces of this size (:meth:`insert_blob`)
BLOB_PIECE = 1 << 20
#: how the search index splits and folds its text (FTS5's tokenizer); a query's words are
#: folded by the same tokenizer before they are looked up
SEARCH_TOKENIZER = "unicode61 remove_diacritics 2"
#: a word of a query stands for at most this many terms of the index; a word that begins
#: more terms than this is matched as a prefix (FTS5 merges their posting lists at once)
SEARCH_EXPAND = 64
#: words shorter than this are matched as a prefix: looking up their terms costs more than
#: it saves
SEARCH_EXPAND_FROM = 3


class SqliteStorage(SqlStorage):
    """``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db``.

    Writes take the database's write lock at ``BEGIN IMMEDIATE`` and wait up to
    ``BUSY_TIMEOUT_MS`` for it; ``lock(name)`` is an ``flock`` on a file beside the database.
    """

    dialect = "sqlite"
    ddl: ClassVar[dict[str, str]] = {
        "ID": "INTEGER PRIMARY KEY",
        "BIGINT": "INTEGER",
        "BLOB": "BLOB",
        # rowid = the ticket's id; diacritics folded, so "Muller" finds "Müller"
        "SEARCH_INDEX": "CREATE VIRTUAL TABLE search_index USING fts5(body, "
        f"tokenize = '{SEARCH_TOKENIZER}')",
    }
    IntegrityError = sqlite3.IntegrityError
    #: FTS5's bm25 rank: lower is better
    search_hits = (
        "SELECT rowid AS ticket_id, rank AS score FROM search_index WHERE search_index MATCH ?"
    )
    search_ids = "SELECT rowid AS ticket_id FROM search_index WHERE search_index MATCH ?"

    @classmethod
    def missing(cls, url: str) -> str | None:
        # A new file in an existing folder is how a helpdesk starts; a folder that does not
        # exist is a typo in the URL (or a disk not mounted), not a new helpdesk.
        folder = path_of(url).parent
        return None if folder.is_dir() else f"SQLite folder {folder}"

    def __init__(self, url: str, config: Any = None) -> None:
        super().__init__()
        self.url = url
        self._search_ready = False
        self.path = path_of(url)
        self._writer = _writer(self.path)
        self._writing = False  # holds self._writer
        try:
            private_dir(self.path.parent)
            _create_private(self.path)
            self._conn = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
            self._conn.row_factory = _dict_row
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if self._conn.execute("PRAGMA journal_mode").fetchone()["journal_mode"] != "wal":
                self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._conn.execute("PRAGMA synchronous = NORMAL")
        except (sqlite3.Error, MemoryError, OSError) as exc:
            if error_kind(exc) == PERMANENT:
                raise BackendError(
                    f"cannot open SQLite database {self.path}: {self._reason(exc)}"
                ) from exc
            raise BackendUnavailable(
                f"cannot open SQLite database {self.path}: {self._reason(exc)}"
            ) from exc

    def _sql(self, sql: str) -> str:
        return sql

    def _begin(self) -> None:
        if not self._writer.acquire(timeout=BUSY_TIMEOUT_MS / 1000):
            raise sqlite3.OperationalError("database is locked (by another thread)")
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._writer.release()
            raise
        self._writing = True

    def _commit(self) -> None:
        self._conn.execute("COMMIT")
        self._done_writing()

    def _rollback(self) -> None:
        try:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        finally:
            self._done_writing()

    def _done_writing(self) -> None:
        if self._writing:
            self._writing = False
            self._writer.release()

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):  # closed by another thread than the writer
            self._done_writing()
        super().close()

    def _wrap(self, exc: Exception) -> Exception | None:
        if isinstance(exc, HdcliError):
            return None
        kind = error_kind(exc)
        if kind == TRANSIENT:
            return BackendUnavailable(f"SQLite database {self.path}: {self._reason(exc)}")
        if kind == PERMANENT:
            return BackendError(f"SQLite database {self.path}: {self._reason(exc)}")
        return None

    @staticmethod
    def _reason(exc: BaseException) -> str:
        """``attempt to write a readonly database (SQLITE_READONLY_DBMOVED): check …``."""
        text = " ".join(str(exc).split()) or type(exc).__name__
        if isinstance(exc, MemoryError):
            return "out of memory"
        name = getattr(exc, "sqlite_errorname", None)
        if name:
            text += f" ({name})"
        hint = _HINTS.get((getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF)
        return f"{text}: {hint}" if hint else text

    def insert_blob(self, table: str, values: dict[str, Any], column: str, data: bytes) -> None:
        if len(data) < BLOB_PIECE:
            return super().insert_blob(table, values, column, data)
        # a zero-filled blob of the right size, then the bytes written into it piece by piece:
        # SQLite never holds a copy of the whole blob
        sql = _insert_sql(table, (*values, column))
        head, _, tail = sql.rpartition("?")
        self._flush(table)
        cur = self._guard(
            self._conn.execute, f"{head}zeroblob(?){tail}", (*values.values(), len(data))
        )
        row_id = int(self._guard(cur.fetchone)["id"])
        view = memoryview(data)
        with self._guard(self._conn.blobopen, table, column, row_id) as blob:
            for at in range(0, len(data), BLOB_PIECE):
                self._guard(blob.write, view[at : at + BLOB_PIECE])
        return None

    def is_unique_violation(self, exc: BaseException) -> bool:
        if not isinstance(exc, sqlite3.IntegrityError):
            return False
        name = getattr(exc, "sqlite_errorname", "")
        if name:
            return name in ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY")
        return "UNIQUE constraint failed" in str(exc)

    # -- the search index ----------------------------------------------------------------
    def search_terms(self, words: Sequence[str]) -> str:
        # Every word must occur as the beginning of a term: "drucker" finds "Druckers".
        # FTS5 answers a prefix ("drucker"*) by merging the posting lists of all its terms
        # before the first row, and again for bm25's weights (20 and 30 ms for a word in a
        # fifth of 1,000,000 documents); the same terms named as exact words are read
        # lazily (under 1 ms and 13 ms). So a word stands for the terms of the index it
        # begins (FTS5's vocabulary, folded by the index's own tokenizer), unless they are
        # too many. Every term is a quoted FTS5 string ("" inside doubles): nothing the
        # caller typed is FTS5 syntax (AND, OR, NEAR, parentheses, column filters, quotes).
        def quoted(text: str) -> str:
            return '"' + text.replace('"', '""') + '"'

        parts = []
        for word, tokens in zip(words, self._search_tokens(words), strict=True):
            found = self._search_vocab(tokens[0]) if len(tokens) == 1 else None
            if found is None:
                parts.append(quoted(word) + "*")
            elif found:
                parts.append("(" + " OR ".join(quoted(t) for t in found) + ")")
            else:  # no term begins so: the word as it is, which matches nothing
                parts.append(quoted(tokens[0]))
        return " AND ".join(parts)

    def _search_tokens(self, words: Sequence[str]) -> list[list[str]]:
        """The index's terms of each of ``words``: as its tokenizer splits and folds them
        (a temporary FTS5 table with the same tokenizer, and its vocabulary)."""
        if not self._search_ready:
            self.execute(
                "CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_vocab "
                "USING fts5vocab(main, search_index, row)"
            )
            self.execute(
                "CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_words "
                f"USING fts5(word, tokenize = '{SEARCH_TOKENIZER}')"
            )
            self.execute(
                "CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_word_terms "
                "USING fts5vocab(temp, search_words, instance)"
            )
            self._search_ready = True
        tokens: list[list[str]] = [[] for _ in words]
        self.executemany(
            "INSERT INTO temp.search_words (rowid, word) VALUES (?, ?)", list(enumerate(words))
        )
        try:
            for row in self.query(
                'SELECT doc, term FROM temp.search_word_terms ORDER BY doc, "offset"'
            ):
                tokens[int(row["doc"])].append(str(row["term"]))
        finally:
            self.execute("DELETE FROM temp.search_words")
        return tokens

    def _search_vocab(self, prefix: str) -> list[str] | None:
        """The terms of the index that begin with ``prefix`` (a folded term), or None when
        they are more than :data:`SEARCH_EXPAND` or ``prefix`` is too short to look up."""
        last = ord(prefix[-1]) + 1 if prefix else 0
        if 0xD800 <= last < 0xE000:
            last = 0xE000  # past the surrogates, which no text holds
        if len(prefix) < SEARCH_EXPAND_FROM or last > 0x10FFFF:
            return None
        # the terms from the prefix up to (not including) the prefix with its last
        # character raised by one: exactly those that begin with it (code point order is
        # the byte order of UTF-8, FTS5's and SQLite's order of terms)
        rows = self.query(
            f"SELECT term FROM temp.search_vocab WHERE term >= ? AND term < ? "
            f"LIMIT {SEARCH_EXPAND + 1}",
            (prefix, prefix[:-1] + chr(last)),
        )
        if len(rows) > SEARCH_EXPAND:
            return None
        return [str(r["term"]) for r in rows]

    def search_ranked(self, terms: str, ticket_ids: Sequence[int]) -> tuple[str, list[Any]]:
        # FTS5 reads its index from the lowest id on: the hits from there, ranked
        return f"{self.search_hits} AND rowid >= ?", [terms, min(ticket_ids)]

    def search_put(self, docs: Sequence[tuple[int, str]]) -> None:
        # FTS5 replaces a document of the same rowid (its old terms go with it)
        self.executemany("INSERT OR REPLACE INTO search_index (rowid, body) VALUES (?, ?)", docs)

    def search_drop(self, ticket_ids: Sequence[int]) -> None:
        self.executemany("DELETE FROM search_index WHERE rowid = ?", [(t,) for t in ticket_ids])

    def search_clear(self) -> None:
        self.execute("DELETE FROM search_index")

    def search_containing(self, text: str) -> list[int]:
        rows = self.query(
            "SELECT rowid AS ticket_id FROM search_index WHERE body LIKE ? ESCAPE '\\'",
            (like_pattern(text),),
        )
        return [int(r["ticket_id"]) for r in rows]

    def search_compact(self) -> None:
        # merge every segment: the terms of deleted documents are gone from the file's pages
        self.execute("INSERT INTO search_index (search_index) VALUES ('optimize')")

    def search_snippets(self, terms: str, numbers: Sequence[str]) -> dict[str, str]:
        if not numbers:
            return {}
        marks = ", ".join("?" * len(numbers))
        # the index read between the tickets' lowest and highest id only: a common word's
        # every hit would be matched otherwise (0.46 s for 20 excerpts at 1,000,000 tickets)
        ids = f"(SELECT {{}}(id) FROM tickets WHERE number IN ({marks}))"
        rows = self.query(
            "SELECT t.number, snippet(search_index, 0, '[', ']', '…', 16) AS snippet "
            "FROM search_index JOIN tickets t ON t.id = search_index.rowid "
            f"WHERE search_index MATCH ? AND search_index.rowid >= {ids.format('min')} "
            f"AND search_index.rowid <= {ids.format('max')} AND t.number IN ({marks})",
            (terms, *numbers, *numbers, *numbers),
        )
        return {str(r["number"]): str(r["snippet"]) for r in rows}

    def list_tables(self) -> list[str]:
        rows = self.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
        return [str(r["name"]) for r in rows]

    def _table_exists(self, name: str) -> bool:
        row = self.query_one(
            "SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        )
        return row is not None

    @contextmanager
    def lock(self, name: str) -> Iterator[bool]:
        import fcntl

        lock_path = self.path.with_name(f"{self.path.name}.{name}.lock")
        try:
            fh = os.fdopen(private_file(lock_path, os.O_RDWR | os.O_CREAT), "r+b")
        except OSError as exc:
            raise BackendUnavailable(f"cannot open lock file {lock_path}: {exc.strerror}") from None
        with fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            except OSError as exc:
                raise BackendUnavailable(f"cannot lock {lock_path}: {exc.strerror}") from None
            try:
                yield True
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
