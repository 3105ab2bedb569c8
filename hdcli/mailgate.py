"""``hdcli-mailgate``: the lean MTA entry point (one message on stdin).

Does what ``hdcli mail ingest -`` does without loading the command line (no Typer, no
command modules), because an MTA starts it once per delivered message. Exit codes follow
sysexits, as MTAs expect:

- 0: the message was handled in any way (new, followup, duplicate, ignored, rejected,
  quarantined): the MTA forgets it;
- 75 (EX_TEMPFAIL): a transient failure (store locked or unreachable) or a setup that cannot
  work yet (configuration, a store that needs ``hdcli db upgrade``): the MTA keeps the message
  and tries again later;
- 1: an unexpected error.

Postfix, ``/etc/aliases``: ``helpdesk: "|/usr/local/bin/hdcli-mailgate"`` (see docs/mail.md).
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from typing import BinaryIO, TextIO

USAGE = """usage: hdcli-mailgate [--config PATH] [--profile NAME] [--source LABEL] [--billing]
Reads one message on standard input and ingests it like `hdcli mail ingest -`.
Exit 0 handled, 75 try again later, 1 unexpected error."""

EX_OK = 0
EX_UNEXPECTED = 1
EX_USAGE = 64
EX_TEMPFAIL = 75


@dataclass
class Options:
    config: str | None = None
    profile: str | None = None
    source: str = "mailgate"
    billing: bool = False


def _parse_args(argv: list[str]) -> Options:
    opts = Options()
    args = iter(argv)
    for arg in args:
        name, eq, value = arg.partition("=")
        if name in ("-h", "--help"):
            raise SystemExit(USAGE)
        if name == "--billing":
            opts.billing = True
        elif name in ("--config", "--profile", "--source"):
            if not eq:
                value = next(args, "")
            if not value:
                raise ValueError(f"{name} needs a value")
            setattr(opts, name[2:], value)
        else:
            raise ValueError(f"unknown argument {arg!r}")
    return opts


def run(argv: list[str], stdin: BinaryIO, stdout: TextIO, stderr: TextIO) -> int:
    """Ingest the message on ``stdin`` (binary); returns the exit code."""
    import json
    import logging

    from hdcli.errors import HdcliError

    debug = os.environ.get("HDCLI_DEBUG", "") not in ("", "0")
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="hdcli-mailgate: %(levelname)s: %(message)s",
    )
    try:
        opts = _parse_args(argv)
    except ValueError as exc:
        stderr.write(f"hdcli-mailgate: error: {exc}\n{USAGE}\n")
        return EX_USAGE
    ctx = None
    try:
        from hdcli.config import Config
        from hdcli.context import Context
        from hdcli.mail.ingest import ingest_one

        raw = stdin.read()
        config = Config.load(opts.config, opts.profile)
        ctx = Context(config, os.environ.get("HDCLI_USER") or None)
        result = ingest_one(ctx, raw, opts.source, opts.billing)
        stdout.write(json.dumps(result.as_dict(), ensure_ascii=False) + "\n")
        return EX_OK
    except HdcliError as exc:
        # A bad message never gets here (it is quarantined): what does is the store being
        # locked, unreachable or not upgraded, or the configuration: worth retrying later.
        if debug:
            raise
        stderr.write(f"hdcli-mailgate: error: {exc}; try again later\n")
        return EX_TEMPFAIL
    except Exception as exc:
        if debug:
            raise
        stderr.write(f"hdcli-mailgate: error: unexpected {type(exc).__name__}: {exc}\n")
        return EX_UNEXPECTED
    finally:
        if ctx is not None:
            # Closing must not change the answer given to the MTA.
            with contextlib.suppress(Exception):
                ctx.close()


def main() -> None:
    """Console-script entry point ``hdcli-mailgate``."""
    sys.exit(run(sys.argv[1:], sys.stdin.buffer, sys.stdout, sys.stderr))


if __name__ == "__main__":
    main()
