"""Small helpers used across the workflow modules (stdlib only: imported at start-up)."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

_CTRL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")


def now_iso() -> str:
    """The current UTC time as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def one_line(text: str) -> str:
    """Fold CR, LF, TAB and other control characters into single spaces (header-safe).

    NEL, LINE SEPARATOR and PARAGRAPH SEPARATOR count as line breaks too: ``str.splitlines``
    splits on them, and the stdlib's ``email`` package refuses a header value that holds one.
    """
    return _CTRL.sub(" ", text).strip()


def norm_email(address: str) -> str:
    """A bare address, lower-cased and stripped."""
    return address.strip().strip("<>").strip().lower()


_EMAIL_RE = re.compile(r"^[^@\s<>\"(),;:\[\]\\]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$|^[^@\s]+@localhost$")


def valid_email(address: str) -> bool:
    return bool(_EMAIL_RE.match(address))


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
