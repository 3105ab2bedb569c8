"""``hdcli-mailgate``: the lean MTA entry point (one message on stdin).

Does what ``hdcli mail ingest -`` does without loading the command line (no Typer, no
command modules), because an MTA starts it once per delivered message. Exit codes follow
sysexits, as MTAs expect:

- 0: the message was handled in any way (new, followup, duplicate, ignored, rejected,
  quarantined): the MTA forgets it;
- 75 (EX_TEMPFAIL): anything else: a transient failure (the store locked, unreachable, full
  or read-only for the user the MTA runs this as), a setup that cannot work yet
  (configuration, a store that needs ``hdcli db upgrade``) and any unexpected error (a crash
  of hdcli is hdcli's fault, not the sender's): the MTA keeps the message and tries again
  later; a message that was committed before the failure comes back as ``duplicate``.
  Bad arguments and a ``--config`` file that does not exist are a setup problem too (the
  alias or the master.cf line is wrong): 75 with one line, so that no mail bounces while an
  admin fixes the line.

It never answers 1 or 64 (EX_USAGE), which an MTA takes as a permanent failure and bounces
the mail. Only ``--help`` exits 0 without reading a message.

Postfix, ``/etc/aliases``: ``helpdesk: "|/usr/local/bin/hdcli-mailgate"`` (see docs/mail.md).
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from typing import BinaryIO, TextIO

USAGE = """usage: hdcli-mailgate [--config PATH] [--profile NAME] [--source LABEL] [--billing]
       hdcli-mailgate --url URL --token-env VAR [--source LABEL] [--billing]
Reads one message on standard input and ingests it like `hdcli mail ingest -`, or POSTs it
to the remote helpdesk at URL (`hdcli serve`, a gateway token in $VAR; no database here).
Exit 0 handled, 75 try again later (never 1: the MTA would bounce the mail)."""

#: seconds to connect to the remote helpdesk, seconds to wait for its answer
URL_TIMEOUT = (5.0, 60.0)

EX_OK = 0
EX_TEMPFAIL = 75


class _Help(Exception):
    """``--help`` was asked for."""


@dataclass
class Options:
    config: str | None = None
    profile: str | None = None
    source: str = "mailgate"
    billing: bool = False
    url: str | None = None
    token_env: str | None = None


def _parse_args(argv: list[str]) -> Options:
    opts = Options()
    args = iter(argv)
    for arg in args:
        name, eq, value = arg.partition("=")
        if name in ("-h", "--help"):
            raise _Help
        if name == "--billing":
            opts.billing = True
        elif name in ("--config", "--profile", "--source", "--url", "--token-env"):
            if not eq:
                value = next(args, "")
            if not value:
                raise ValueError(f"{name} needs a value")
            setattr(opts, name[2:].replace("-", "_"), value)
        else:
            raise ValueError(f"unknown argument {arg!r}")
    if (opts.url is None) != (opts.token_env is None):
        raise ValueError("--url and --token-env go together")
    if opts.url is not None and not opts.url.startswith(("http://", "https://")):
        raise ValueError("--url needs an http:// or https:// URL")
    return opts


def post(opts: Options, raw: bytes, stdout: TextIO, stderr: TextIO) -> int:
    """The message to the remote helpdesk's ``POST /mail``: 0 when it answered 2xx (the mail
    was handled in any way), 75 when it is unreachable, slow, answers 5xx or refuses the token."""
    import requests

    assert opts.url is not None and opts.token_env is not None
    token = os.environ.get(opts.token_env, "").strip()
    if not token:
        stderr.write(f"hdcli-mailgate: error: ${opts.token_env} holds no token; try again later\n")
        return EX_TEMPFAIL
    url = opts.url.rstrip("/") + "/mail"
    params = {"source": opts.source}
    if opts.billing:
        params["billing"] = "true"
    try:
        answer = requests.post(
            url,
            data=raw,
            params=params,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "message/rfc822"},
            timeout=URL_TIMEOUT,
        )
    except requests.RequestException as exc:
        stderr.write(f"hdcli-mailgate: error: {url}: {type(exc).__name__}; try again later\n")
        return EX_TEMPFAIL
    if not 200 <= answer.status_code < 300:
        reason = ""
        with contextlib.suppress(ValueError, AttributeError):
            reason = str(answer.json().get("error", ""))
        from hdcli.util import one_line

        stderr.write(
            f"hdcli-mailgate: error: {url}: HTTP {answer.status_code} {one_line(reason)[:200]}; "
            "try again later\n"
        )
        return EX_TEMPFAIL
    stdout.write(answer.text.strip() + "\n")
    return EX_OK


def run(argv: list[str], stdin: BinaryIO, stdout: TextIO, stderr: TextIO) -> int:
    """Ingest the message on ``stdin`` (binary); returns the exit code. Log lines go to
    ``stderr`` as ``hdcli-mailgate: LEVEL: message``."""
    from hdcli.util import RunLog

    debug = os.environ.get("HDCLI_DEBUG", "") not in ("", "0")
    run_log = RunLog(stderr, debug, "hdcli-mailgate")
    try:
        return _run(argv, stdin, stdout, stderr, debug)
    finally:
        run_log.close()


def _run(argv: list[str], stdin: BinaryIO, stdout: TextIO, stderr: TextIO, debug: bool) -> int:
    import json

    from hdcli.errors import HdcliError
    from hdcli.util import one_line

    try:
        opts = _parse_args(argv)
        if opts.config is not None and not os.path.exists(opts.config):
            raise ValueError(f"the configuration file {opts.config} does not exist")
    except _Help:
        stdout.write(USAGE + "\n")
        return EX_OK
    except ValueError as exc:
        # The pipe's command line is configuration (an alias, a master.cf line): the MTA
        # keeps the message until an admin fixes it (EX_USAGE would bounce it).
        with contextlib.suppress(Exception):
            stdin.read()  # taken in full, so the MTA sees our answer, not a broken pipe
        usage = USAGE.splitlines()[0]
        stderr.write(f"hdcli-mailgate: error: {one_line(str(exc))} ({usage}); try again later\n")
        return EX_TEMPFAIL
    if opts.url is not None:
        try:
            return post(opts, stdin.read(), stdout, stderr)
        except Exception as exc:
            stderr.write(
                f"hdcli-mailgate: error: unexpected {type(exc).__name__}; try again later\n"
            )
            return EX_TEMPFAIL
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
        # locked, unreachable, full, read-only or not upgraded, or the configuration: worth
        # retrying later.
        if debug:
            import traceback

            traceback.print_exc(file=stderr)
        stderr.write(f"hdcli-mailgate: error: {one_line(str(exc))}; try again later\n")
        return EX_TEMPFAIL
    except (Exception, KeyboardInterrupt) as exc:
        # A crash of hdcli: the MTA keeps the message (exit 1 would bounce it to the sender).
        if debug:
            import traceback

            traceback.print_exc(file=stderr)
        stderr.write(
            f"hdcli-mailgate: error: unexpected {type(exc).__name__}: {one_line(str(exc))}; "
            "try again later (HDCLI_DEBUG=1 shows the traceback)\n"
        )
        return EX_TEMPFAIL
    finally:
        if ctx is not None:
            # Closing must not change the answer given to the MTA.
            with contextlib.suppress(Exception):
                ctx.close()


def main() -> None:
    """Console-script entry point ``hdcli-mailgate``."""
    try:
        code = run(sys.argv[1:], sys.stdin.buffer, sys.stdout, sys.stderr)
    except BaseException as exc:  # even a failing import or a signal: never exit 1
        with contextlib.suppress(Exception):
            sys.stderr.write(
                f"hdcli-mailgate: error: unexpected {type(exc).__name__}; try again later\n"
            )
        code = EX_TEMPFAIL
    sys.exit(code)


if __name__ == "__main__":
    main()
