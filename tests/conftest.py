"""Shared fixtures. Server fixtures (SMTP, IMAP, PostgreSQL, HTTP) live in servers.py, the
``hd`` helpdesk fixture in helpdesk.py."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

pytest_plugins = ["servers", "helpdesk", "workflow"]

# Property tests: a bounded number of examples, and no per-example deadline (the machines that
# run the suite are shared; a slow moment is not a failure). Under CI=true Hypothesis loads its
# own "ci" profile (also without a deadline, and derandomised); HYPOTHESIS_PROFILE picks another.
settings.register_profile("hdcli", max_examples=100, deadline=None)
if os.environ.get("CI") != "true":
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "hdcli"))


@pytest.fixture(autouse=True)
def _no_installed_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never load installed entry points unless they ask for them."""
    monkeypatch.setenv("HDCLI_LOAD_PLUGINS", "")
