"""Typed errors. Library code raises these; only the CLI prints them and exits.

Each error carries the process exit code the CLI uses for it (documented in docs/cli.md).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_REFUSED = 4
EXIT_UNAVAILABLE = 5
EXIT_TEMPFAIL = 75


class HdcliError(Exception):
    """Base of every error hdcli reports to a user as one line."""

    exit_code = EXIT_UNEXPECTED


class UsageError(HdcliError):
    """Bad arguments or configuration (exit 2)."""

    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """The configuration file or an environment override is invalid (exit 2)."""


class NotFound(HdcliError):
    """A ticket, customer, agent or other record does not exist (exit 3)."""

    exit_code = EXIT_NOT_FOUND


class Refused(HdcliError):
    """Refused by a ticket's state, a contract or a policy, or vetoed by a plugin (exit 4)."""

    exit_code = EXIT_REFUSED


class BackendError(HdcliError):
    """The store failed in a way that trying again does not fix: a damaged database, a file
    that is no database, SQL or a value the store refuses (exit 1). A mail that causes one is
    quarantined. Each backend's error table says which driver errors these are."""


class BackendUnavailable(BackendError):
    """The storage backend cannot be reached, is locked, full, read-only for this user or
    otherwise unable to take the change now: worth trying again (exit 5; 75 for mail ingest)."""

    exit_code = EXIT_UNAVAILABLE


class TransientError(HdcliError):
    """A failure worth retrying later, e.g. a store that is locked (exit 75 for mail ingest)."""

    exit_code = EXIT_TEMPFAIL


def error_text(message: str, code: int, as_json: bool = False) -> str:
    """The line an error is reported as on stderr, with its newline.

    Plain: ``hdcli: error: MESSAGE`` (the caller makes it safe for a terminal). With
    ``as_json`` (a run with ``--format json|jsonl``): ``{"error": MESSAGE, "code": CODE}``,
    ASCII only, so that no character of a mail or an argument acts on a terminal either.
    """
    if as_json:
        import json

        return json.dumps({"error": message, "code": code}) + "\n"
    return f"hdcli: error: {message}\n"
