"""hdcli db: schema migrations and moving a helpdesk between backends."""

from __future__ import annotations

from typing import Annotated

import typer

from hdcli.commands._common import FormatOpt, JsonOpt, context, fmt_of, out, say

app = typer.Typer(
    help="Storage: schema status and upgrades.\n\nExample: hdcli db status", no_args_is_help=True
)


@app.command("status")
def status(fmt: FormatOpt = "table", as_json: JsonOpt = False) -> None:
    """The store's URL, schema version and pending migrations.

    Example: hdcli db status --json
    """
    from hdcli.backends import open_storage
    from hdcli.backends.base import latest_version, migrations
    from hdcli.config import mask_url
    from hdcli.output import render_record

    ctx = context()
    store = open_storage(ctx.config.storage_url, ctx.config, upgrade=False, create=False)
    try:
        version = store.schema_version()
        pending = [f"{v:04d}_{n}" for v, n, _ in migrations() if v > version]
        out(
            render_record(
                {
                    "url": mask_url(ctx.config.storage_url),
                    "backend": store.dialect,
                    "version": version,
                    "latest": latest_version(),
                    "pending": pending,
                },
                fmt_of(fmt, as_json),
            )
        )
    finally:
        store.close()


@app.command("upgrade")
def upgrade() -> None:
    """Apply pending schema migrations.

    Example: hdcli --profile production db upgrade
    """
    from hdcli.backends import open_storage

    ctx = context()
    store = open_storage(ctx.config.storage_url, ctx.config, upgrade=False)
    try:
        applied = store.upgrade()
        if 8 in applied:  # the search index came: fill it for the tickets there are
            from hdcli.search import rebuild

            rebuild(store)
    finally:
        store.close()
    say(
        f"applied migrations: {', '.join(map(str, applied))}" if applied else "schema is up to date"
    )


@app.command("copy")
def copy(
    source: Annotated[str, typer.Option("--from", help="storage URL to copy from")],
    target: Annotated[str, typer.Option("--to", help="storage URL to copy into")],
    force: Annotated[
        bool, typer.Option("--force", help="copy into a non-empty target (its data is replaced)")
    ] = False,
) -> None:
    """Copy a whole helpdesk between backends and verify the counts.

    Example: hdcli db copy --from sqlite:///hdcli.db --to postgresql://hd@db/helpdesk
    """
    from hdcli.dbcopy import copy_store

    counts = copy_store(source, target, force=force, config=context().config)
    for table, n in counts.items():
        say(f"{table}: {n}")
    say("copy verified")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="db")
