"""The ``api_tokens`` table: API tokens by their SHA-256 and their public prefix."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hdcli.backends.base import SqlStorage
    from hdcli.models import Row

_COLUMNS = (
    "k.id, k.prefix, a.login, k.role, k.created_at, k.expires_at, k.revoked_at, k.last_used_at"
)


def insert(store: SqlStorage, row: Mapping[str, Any]) -> int:
    """Write a new token row; returns its id."""
    return store.insert("api_tokens", dict(row))


def by_hash(store: SqlStorage, token_hash: str) -> Row | None:
    """The token with this hash with its agent's ``login`` and ``active``, or None."""
    return store.query_one(
        f"SELECT {_COLUMNS}, a.active FROM api_tokens k JOIN agents a ON a.id = k.agent_id "
        "WHERE k.token_hash = ?",
        (token_hash,),
    )


def by_prefix(store: SqlStorage, prefix: str) -> Row | None:
    """The token with this public prefix, or None."""
    return store.query_one(
        f"SELECT {_COLUMNS} FROM api_tokens k JOIN agents a ON a.id = k.agent_id "
        "WHERE k.prefix = ?",
        (prefix,),
    )


def every(store: SqlStorage) -> list[Row]:
    """Every token, oldest first (never a hash)."""
    return store.query(
        f"SELECT {_COLUMNS} FROM api_tokens k JOIN agents a ON a.id = k.agent_id ORDER BY k.id"
    )


def revoke(store: SqlStorage, token_id: int, at: str) -> None:
    """Mark a token revoked at ``at``."""
    store.execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ?", (at, token_id))


def used(store: SqlStorage, token_id: int, at: str) -> None:
    """Note the time a token was last used."""
    store.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (at, token_id))
