"""hdcli: a helpdesk ticket system driven from the command line."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    import pluggy

    #: Marker for hook implementations, used by built-in and third-party plugins alike.
    hookimpl = pluggy.HookimplMarker("hdcli")

__all__ = ["__version__", "hookimpl"]


def __getattr__(name: str) -> Any:
    # pluggy (and the importlib.metadata it pulls in) is imported on first use of ``hookimpl``,
    # so that ``hdcli --version`` and commands that need no plugin never pay for it.
    if name == "hookimpl":
        import pluggy

        marker = pluggy.HookimplMarker("hdcli")
        globals()["hookimpl"] = marker
        return marker
    raise AttributeError(f"module 'hdcli' has no attribute {name!r}")
