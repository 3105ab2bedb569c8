"""Shared fixtures. Server fixtures (SMTP, IMAP, PostgreSQL, HTTP) live in servers.py, the
``hd`` helpdesk fixture in helpdesk.py."""

from __future__ import annotations

import pytest

pytest_plugins = ["servers", "helpdesk", "workflow"]


@pytest.fixture(autouse=True)
def _no_installed_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never load installed entry points unless they ask for them."""
    monkeypatch.setenv("HDCLI_LOAD_PLUGINS", "")
