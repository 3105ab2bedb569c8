"""hdcli: a helpdesk ticket system driven from the command line."""

import pluggy

__version__ = "0.1.0"

#: Marker for hook implementations, used by built-in and third-party plugins alike.
hookimpl = pluggy.HookimplMarker("hdcli")

__all__ = ["__version__", "hookimpl"]
