"""Small helpers used across the workflow modules (stdlib only: imported at start-up)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

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
