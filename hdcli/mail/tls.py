"""The TLS context of mail connections (SMTP out, IMAP in)."""

from __future__ import annotations

from typing import Any


def tls_context(ca_file: str | None, verify: bool) -> Any:
    """A client context verifying the server against the system's CAs (or ``ca_file``);
    ``verify`` False accepts any certificate (for test servers only)."""
    import ssl

    context = ssl.create_default_context(cafile=ca_file)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
