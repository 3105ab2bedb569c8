"""Generate docs/cli.md from the CLI's own --help texts.

Run: python docs/gen_cli.py > docs/cli.md   (tests/test_docs_cli.py checks it is current)
Only built-in commands are documented: installed plugins are not loaded.
"""

from __future__ import annotations

import os
import sys
from typing import Any

os.environ["HDCLI_LOAD_PLUGINS"] = ""

INTRO = """\
# CLI reference

Generated from `hdcli --help` by `docs/gen_cli.py`; `tests/test_docs_cli.py` keeps it current.

## Conventions

- Data goes to stdout, messages to stderr. `--format table|json|jsonl|csv|md` (`--json` for
  short) on every command that prints data; `csv` always has a header row; `json` of `list` is
  an array, of `show` an object.
- `-q` prints only ticket numbers; `-` as a ticket number reads numbers from stdin exactly as
  `hdcli list -q` prints them: one per line, blank lines ignored. Anything else (a table, csv)
  is refused with exit 2 before any ticket is touched; an empty stdin does nothing and exits 0,
  so `hdcli list --status waiting -q | hdcli close - --reason stale` is quiet in cron on a
  quiet day. `--dry-run` shows what a bulk command would do.
- `--fields a,b` on `list` and `show` keeps only those fields (JSON keys, table and csv
  columns), as `gh --json` does; an unknown field is exit 2 and the message lists the valid ones.
- The acting agent: `--as LOGIN`, which must name an active agent (exit 3 otherwise); else
  config `user` (`HDCLI_USER`); else the operating-system user, recorded as `os:LOGIN`. It is
  recorded in the history of every change.
- The storage URL must name an existing helpdesk: an SQLite file whose folder does not
  exist is exit 5 for every command but `db upgrade` (which creates it) and `demo`.
- Shell completion: `hdcli --install-completion` (bash, zsh, fish, PowerShell) installs it,
  `hdcli --show-completion` prints the script to put where you like.
- No prompts, no colour when `NO_COLOR` is set or stdout is no terminal; progress on stderr
  only on a terminal.
- Text from mail never reaches the terminal as control sequences: `table`, `md` and the text
  of `show` write control characters, ANSI escapes, bidi overrides and isolates, zero-width and
  other format characters as visible escapes (`\\x1b`, `\\u202e`). `json`, `jsonl` and `csv`
  carry the text exactly as received (JSON escapes control characters itself); mind that when
  you print csv to a terminal.

## Exit codes

| code | meaning |
| --- | --- |
| 0 | ok |
| 1 | unexpected error (`HDCLI_DEBUG=1` shows the traceback); a damaged store |
| 2 | usage: bad arguments, bad configuration |
| 3 | not found: no such ticket, organisation, contract, contact, agent or quarantine id |
| 4 | refused by state or policy: `start` on a closed ticket, a stranger, a plugin's veto |
| 5 | backend unavailable: database unreachable, locked, full or read-only; transport down |
| 75 | `mail ingest` / `hdcli-mailgate` only: transient failure, the MTA retries |

Errors are one line on stderr: `hdcli: error: …`; in a run with `--format json|jsonl` (or
`--json`) a JSON object instead, `{"error": "…", "code": 4}`, with the same exit code.

## Commands
"""


def main() -> None:
    import typer

    from hdcli.cli import build

    command = typer.main.get_command(build())
    parts = [INTRO]

    def walk(cmd: Any, path: list[str], parent: Any) -> None:
        ctx = cmd.make_context(
            path[-1],
            [],
            parent=parent,
            resilient_parsing=True,
            terminal_width=100,
            max_content_width=100,
        )
        if len(path) > 1:
            text = cmd.get_help(ctx)
            parts.append(f"\n### `{' '.join(path)}`\n\n```text\n{text}\n```\n")
        subs = getattr(cmd, "commands", None)
        if subs:
            for name in cmd.list_commands(ctx):
                walk(subs[name], [*path, name], ctx)

    root_ctx = command.make_context(
        "hdcli", [], resilient_parsing=True, terminal_width=100, max_content_width=100
    )
    parts.append(f"\n### `hdcli`\n\n```text\n{command.get_help(root_ctx)}\n```\n")
    for name in command.list_commands(root_ctx):
        walk(command.commands[name], ["hdcli", name], root_ctx)
    sys.stdout.write("".join(parts))


if __name__ == "__main__":
    main()
