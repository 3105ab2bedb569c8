"""Small helpers used across the workflow modules (stdlib only: imported at start-up)."""

from __future__ import annotations

import os
import re
import sys
import time
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from logging import Logger
    from pathlib import Path

_CTRL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")


def logger(name: str) -> Logger:
    """The logger ``name``; :mod:`logging` is imported only when there is something to say
    (most runs log nothing, and the import is a cost of every start)."""
    import logging

    return logging.getLogger(name)


class RunLog:
    """What ``logging.basicConfig()`` would set up, for one run only: a handler that writes
    ``PREFIX: LEVEL: message`` to the run's stderr, at WARNING (DEBUG with ``HDCLI_DEBUG``).

    Most runs log nothing, and importing :mod:`logging` costs about 5 ms of every start. So
    when nothing has imported it yet, this waits on ``sys.meta_path`` and sets the handler up
    the moment something does; :meth:`close` takes it (or the wait) away again.
    """

    def __init__(self, stream: Any, debug: bool, prefix: str = "hdcli") -> None:
        self.stream = stream
        self.debug = debug
        self.prefix = prefix
        self._installed: tuple[Any, Any, int] | None = None  # root logger, handler, old level
        if "logging" in sys.modules:
            self._install(sys.modules["logging"])
        else:
            sys.meta_path.insert(0, self)

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        """The import hook: finds nothing itself, but sets up the handler once
        :mod:`logging` has been loaded by the usual finder."""
        if name != "logging":
            return None
        sys.meta_path.remove(self)
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            load = spec.loader.exec_module

            def exec_module(module: Any) -> None:
                load(module)
                self._install(module)

            spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec

    def _install(self, logging: Any) -> None:
        root = logging.getLogger()
        handler = logging.StreamHandler(self.stream)
        handler.setFormatter(logging.Formatter(f"{self.prefix}: %(levelname)s: %(message)s"))
        self._installed = (root, handler, root.level)
        root.addHandler(handler)
        root.setLevel(logging.DEBUG if self.debug else logging.WARNING)

    def close(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        if self._installed is not None:
            root, handler, level = self._installed
            root.removeHandler(handler)
            root.setLevel(level)
            self._installed = None


_now: tuple[int, str] = (-1, "")  # the second of the last now_iso() and its text


def now_iso() -> str:
    """The current UTC time as ``YYYY-MM-DDTHH:MM:SSZ``.

    Formatted once per second: a bulk run asks for it several times per ticket."""
    global _now
    second = int(time.time())
    last = _now  # one tuple: threads see a second with its own text
    if second != last[0]:
        last = _now = (second, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second)))
    return last[1]


def one_line(text: str) -> str:
    """Fold CR, LF, TAB and other control characters into single spaces (header-safe).

    NEL, LINE SEPARATOR and PARAGRAPH SEPARATOR count as line breaks too: ``str.splitlines``
    splits on them, and the stdlib's ``email`` package refuses a header value that holds one.
    """
    return _CTRL.sub(" ", text).strip()


def norm_email(address: str) -> str:
    """A bare address, lower-cased and stripped."""
    return address.strip().strip("<>").strip().lower()


_EMAIL_RE = re.compile(r"[^@\s<>\"(),;:\[\]\\]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}|[^@\s]+@localhost")


def valid_email(address: str) -> bool:
    """Whether ``address`` is one plain address, the whole string (a trailing line break is
    not part of it: it would end a header line)."""
    return bool(_EMAIL_RE.fullmatch(address))


def like_escape(text: str) -> str:
    """``text`` for a LIKE pattern with ``ESCAPE '\\'``: its ``%``, ``_`` and ``\\`` match
    only themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def like_pattern(text: str) -> str:
    """A LIKE pattern (with ``ESCAPE '\\'``) for "contains ``text``"."""
    return f"%{like_escape(text)}%"


# -- a term standing alone in a text ---------------------------------------------------------------
#: The characters of a local part besides letters, digits and ``_`` (RFC 5322 atext, the dot
#: and ``@``): a term next to one of them is part of a longer address or word.
_SPECIALS = ".!#$%&*+/=?^`{|}~@-"


def _alone(term: str, word: str, specials: str) -> str:
    """The regular expression of ``term`` where it stands alone: not preceded by a character
    of an address (nor by a letter's apostrophe, as in ``o'carl@…``), not followed by one —
    after an address only a domain can go on (``carl@x.example.org``), after a name a local
    part too (``carl.x@…``, ``carl+news@…``); a sentence's full stop or question mark after
    it is no continuation."""
    cls = re.escape(specials)
    before = rf"(?<![{word}{cls}])(?<![{word}]')"
    if "@" in term:
        after = rf"(?![{word}@-])(?!\.[{word}-])"
    else:
        after = rf"(?![{word}@-])(?![{cls}]+[{word}@-])"
    return f"{before}{re.escape(term)}{after}"


def alone_pattern(terms: list[str]) -> re.Pattern[str]:
    """Any of ``terms`` (case-insensitive, the longest first) where it stands alone: an
    address is not found inside a longer address (``xcarl@…`` or ``carl@….org`` for
    ``carl@…``), a name not inside a longer word or an address."""
    ordered = sorted((t for t in terms if t), key=len, reverse=True)
    return re.compile("|".join(_alone(t, r"\w", _SPECIALS) for t in ordered), re.I)


def alone_bytes_pattern(terms: list[str]) -> re.Pattern[bytes]:
    """:func:`alone_pattern` for bytes (UTF-8; every non-ASCII byte counts as a letter)."""
    ordered = sorted((t for t in terms if t), key=len, reverse=True)
    source = "|".join(_alone(t, r"\w\x80-\xff", _SPECIALS) for t in ordered)
    return re.compile(source.encode("utf-8", "surrogateescape"), re.I)


@lru_cache(maxsize=64)
def _alone_one(address: str) -> re.Pattern[str]:
    return alone_pattern([address])


def names_address(text: object, address: str) -> bool:
    """Whether ``text`` holds ``address`` standing alone (see :func:`alone_pattern`)."""
    return bool(text) and _alone_one(address).search(str(text)) is not None


#: Files hdcli creates are readable and writable by their user only, folders usable by their
#: user only, whatever the umask: mail, tickets and reports are personal data.
PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def private_dir(path: Path) -> None:
    """Create the folder ``path`` and every missing parent as 0700, whatever the umask.

    Folders that already exist keep their mode (an admin may have opened one to a group on
    purpose). Raises OSError.
    """
    missing: list[Path] = []
    folder = path
    while not folder.is_dir():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    for created in reversed(missing):
        try:
            os.mkdir(created, PRIVATE_DIR)
        except FileExistsError:
            if not created.is_dir():
                raise
            continue  # made by a concurrent run: its mode is the same
        os.chmod(created, PRIVATE_DIR)  # the umask may have cleared bits; it never adds any


def private_file(path: Path | str, flags: int = os.O_WRONLY | os.O_CREAT | os.O_TRUNC) -> int:
    """Open ``path`` with ``os.open`` ``flags`` and make it 0600 whatever the umask; the file
    descriptor is the caller's to close.

    A file opened for writing becomes 0600 also when it existed (an ``-o`` target never keeps
    a wider mode); with ``os.O_EXCL`` only a new file is touched. Raises OSError.
    """
    fd = os.open(path, flags, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_private(path: Path | str, data: bytes) -> None:
    """Write ``data`` to ``path`` (created or truncated) as a 0600 file. Raises OSError."""
    fd = private_file(path)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
