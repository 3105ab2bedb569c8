"""Shared fixtures. Server fixtures (SMTP, IMAP, PostgreSQL, HTTP) live in servers.py."""

pytest_plugins = ["servers", "helpdesk"]
