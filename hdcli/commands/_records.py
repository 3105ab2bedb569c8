"""The command group of a kind of record (org, contract, contact, agent) from its description.

A group's module writes what is particular to it, its ``add`` and ``edit`` commands, and
describes the rest in a :class:`Records`; :func:`group` makes ``list``, ``show``, ``remove``
and ``import`` from it, each with its help and an example.

No ``from __future__ import annotations`` here: the commands are closures whose annotations
must be objects when Typer reads them. Workflow modules (and :mod:`hdcli.ops`) are imported
when a command runs, never when the app is built.
"""

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

import typer

from hdcli.commands._common import (
    DryRunOpt,
    FormatOpt,
    JsonOpt,
    context,
    fmt_of,
    import_records,
    out,
    say,
)

if TYPE_CHECKING:
    from hdcli.context import Context
    from hdcli.models import Row

OrgOpt = Annotated[str | None, typer.Option(help="only this organisation's")]
ImportPath = Annotated[str, typer.Argument(help="CSV or JSONL file, - = stdin (JSONL)")]


def _removed(row: "Row") -> str:
    return "removed"


class Records(NamedTuple):
    """What the generated commands of one group call and say.

    ``list``, ``show`` and ``remove`` call :func:`hdcli.ops.records`, :func:`hdcli.ops.record`
    and :func:`hdcli.ops.remove_record` of the group (``list`` with ``--org`` when
    ``by_org``), here or on the remote helpdesk; the removed record's field ``key`` names it in
    the message. ``import_one(ctx, record)`` adds one record of an import file; without it the
    group has no ``import``.

    A named tuple, not a dataclass: the class is made on every run of these commands, and a
    dataclass takes about a millisecond longer to make.
    """

    group: str  #: the command's name, ``org``
    help: str  #: the group's help
    noun: str  #: ``organisation``, in help and messages; its plural takes an s
    one: str  #: ``an organisation``, in help
    key: str  #: the argument that names a record (``name``), of show, edit and remove
    key_help: str
    example: str  #: a key as typed in a shell, for the examples
    import_one: Callable[["Context", dict[str, Any]], object] | None = None
    import_fields: str = ""  #: the import's fields, for its help
    by_org: bool = False  #: ``list`` takes ``--org``
    show_help: str | None = None
    remove_help: str | None = None
    removed: Callable[["Row"], str] = _removed  #: the verb of the message after ``remove``


def _help(text: str, example: str) -> str:
    return f"{text}\n\nExample: {example}"


def _keyed(records: Records, fn: Callable[..., None]) -> Callable[..., None]:
    """``fn`` with its first parameter as the record's key: named ``records.key`` (Typer names
    an argument after its parameter) and with the key's help."""
    signature = inspect.signature(fn, eval_str=True)
    first, *rest = signature.parameters.values()
    key = first.replace(
        name=records.key, annotation=Annotated[str, typer.Argument(help=records.key_help)]
    )

    @functools.wraps(fn)
    def call(**kwargs: Any) -> None:
        fn(kwargs.pop(records.key), **kwargs)

    call.__signature__ = signature.replace(parameters=[key, *rest])  # type: ignore[attr-defined]
    return call


def group(records: Records, *, add: Callable[..., None], edit: Callable[..., None]) -> typer.Typer:
    """The group's app: ``add``, ``list``, ``show``, ``edit``, ``remove`` and ``import``.

    ``add`` and ``edit`` are the module's commands; ``edit`` takes the key first.
    """
    hd = f"hdcli {records.group}"
    example = (
        f'{hd} list --org "Muster GmbH" --format csv' if records.by_org else f"{hd} list --json"
    )
    app = typer.Typer(help=_help(records.help, example), no_args_is_help=True)
    app.command("add")(add)

    def list_by_org(org: OrgOpt = None, fmt: FormatOpt = "table", as_json: JsonOpt = False) -> None:
        from hdcli.ops import records as rows  # here, or the remote helpdesk
        from hdcli.output import render_rows

        out(render_rows(rows(context(), records.group, org), fmt_of(fmt, as_json)))

    def list_all(fmt: FormatOpt = "table", as_json: JsonOpt = False) -> None:
        from hdcli.ops import records as rows
        from hdcli.output import render_rows

        out(render_rows(rows(context(), records.group), fmt_of(fmt, as_json)))

    app.command("list", help=_help(f"List {records.noun}s.", example))(
        list_by_org if records.by_org else list_all
    )

    def show(key: str, fmt: FormatOpt = "table", as_json: JsonOpt = False) -> None:
        from hdcli.ops import record  # here, or the remote helpdesk
        from hdcli.output import render_record

        out(render_record(record(context(), key, kind=records.group), fmt_of(fmt, as_json)))

    text = records.show_help or f"Show {records.one}."
    app.command("show", help=_help(text, f"{hd} show {records.example}"))(_keyed(records, show))
    app.command("edit")(_keyed(records, edit))

    def remove(key: str) -> None:
        from hdcli.ops import remove_record  # here, or the remote helpdesk

        row = remove_record(context(), key, kind=records.group)
        say(f"{records.removed(row)} {records.noun} {row[records.key]}")

    text = records.remove_help or f"Remove {records.one} without tickets."
    app.command("remove", help=_help(text, f"{hd} remove {records.example}"))(
        _keyed(records, remove)
    )

    import_one = records.import_one
    if import_one is not None:

        def import_(path: ImportPath, dry_run: DryRunOpt = False) -> None:
            ctx = context()
            import_records(path, lambda rec: import_one(ctx, rec), records.noun, dry_run)

        text = f"Import {records.noun}s: fields {records.import_fields}."
        example = f"{hd} import {records.group}s.csv --dry-run"
        app.command("import", help=_help(text, example))(import_)
    return app
