"""hdcli serve: the remote helpdesk (needs the hdcli[server] extra)."""

from __future__ import annotations

from typing import Annotated

import typer

from hdcli.commands._common import STATE, say

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def serve(
    host: Annotated[str, typer.Option("--host", help="address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port", min=1, max=65535)] = 8080,
    workers: Annotated[int, typer.Option("--workers", help="worker processes", min=1)] = 1,
    tls_cert: Annotated[str | None, typer.Option("--tls-cert", help="PEM certificate")] = None,
    tls_key: Annotated[str | None, typer.Option("--tls-key", help="PEM private key")] = None,
    behind_proxy: Annotated[
        bool, typer.Option("--behind-proxy", help="a TLS proxy in front (non-loopback bind)")
    ] = False,
) -> None:
    """Serve the helpdesk as a JSON API (/api, /openapi.json) to token holders.

    A non-loopback address needs --tls-cert and --tls-key, or --behind-proxy.

    Example: hdcli serve --port 8080 --workers 4
    """
    import os

    from hdcli.errors import UsageError

    if (tls_cert is None) != (tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together")
    if host not in LOOPBACK and tls_cert is None and not behind_proxy:
        raise UsageError(
            f"refusing to serve on {host} without TLS: give --tls-cert and --tls-key, "
            "or --behind-proxy when a TLS proxy is in front"
        )
    try:
        import uvicorn
    except ImportError:
        raise UsageError(
            "hdcli serve needs the server extra: pip install 'hdcli[server]'"
        ) from None
    from hdcli.config import Config

    # the workers load the configuration as this process does
    if STATE.config_path is not None:
        os.environ["HDCLI_CONFIG"] = str(STATE.config_path)
    if STATE.profile is not None:
        os.environ["HDCLI_PROFILE"] = STATE.profile
    config = Config.load(STATE.config_path, STATE.profile)
    if config.storage_url.startswith(("http://", "https://")):
        raise UsageError("storage.url names a remote helpdesk: serve a local storage")
    scheme = "https" if tls_cert else "http"
    say(f"serving {scheme}://{host}:{port}/api ({workers} worker{'s' if workers > 1 else ''})")
    uvicorn.run(
        "hdcli.server.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        ssl_certfile=tls_cert,
        ssl_keyfile=tls_key,
        proxy_headers=behind_proxy,
        log_level="warning",
        access_log=False,
    )


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
