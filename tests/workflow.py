"""The ``ctx`` fixture: a workflow context on a fresh SQLite helpdesk in tmp_path, for tests of
the workflow functions in process (no CLI), and ``registered`` for plugin objects."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hdcli import customers
from hdcli.backends.testing import postgres_schema
from hdcli.config import Config
from hdcli.context import Context

ANNA = "anna.schmidt@muster.example"


def make_context(root: Path, actor: str = "mmueller", **settings: str) -> Context:
    """A context on a fresh helpdesk in ``root``: Muster GmbH (muster.example, hourly 95 EUR,
    15 min), Anna Schmidt (main, approver), agent mmueller "Max Müller". ``settings`` are
    configuration overrides in ``HDCLI_…`` form (``MAIL__AUTO_REPLY_LIMIT="3"``)."""
    env = {
        "HDCLI_STORAGE__URL": f"sqlite:///{root / 'hd.db'}",
        "HDCLI_MAIL__OUTBOUND__PATH": str(root / "outbox"),
        "HDCLI_MAIL__FROM_ADDRESS": "helpdesk@smartwork.example",
        "HDCLI_MAIL__OUTBOUND__SEND_NOW": "false",
        **{f"HDCLI_{key}": value for key, value in settings.items()},
    }
    ctx = Context(Config.load(root / "config.toml", env=env), actor)
    customers.add_org(ctx, "Muster GmbH", "company", ["muster.example"])
    customers.add_contract(
        ctx,
        "Muster GmbH",
        "RV-1",
        customers.ContractFields(billing="hourly", rate="95", increment="15m"),
    )
    customers.add_contact(ctx, "Muster GmbH", "Anna Schmidt", ANNA, roles=["main", "approver"])
    customers.add_agent(ctx, "mmueller", "Max Müller", "max.mueller@smartwork.example")
    return ctx


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Context]:
    context = make_context(tmp_path)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_ctx(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Context]:
    """The ``ctx`` helpdesk on SQLite or on a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        context = make_context(tmp_path)
        try:
            yield context
        finally:
            context.close()
        return
    with postgres_schema(request.getfixturevalue("postgres_url")) as url:
        context = make_context(tmp_path, STORAGE__URL=url)
        try:
            yield context
        finally:
            context.close()


@contextmanager
def registered(plugin: object, name: str) -> Iterator[None]:
    """``plugin`` loaded for the ``with`` block (under ``name``), unregistered after it."""
    from hdcli.plugins import load_plugins, pm, reset_registries

    load_plugins()
    pm.register(plugin, name)
    reset_registries()
    try:
        yield
    finally:
        pm.unregister(name=name)
        reset_registries()
