"""``hdcli webhook test``: post a test event and report the receiver's answer.

Imported only while the CLI is built. No ``from __future__ import annotations`` here: Typer
reads the parameter annotations at run time.
"""

from dataclasses import replace
from typing import Annotated

import typer

from hdcli_webhook import TEST_EVENT, Settings, WebhookError, deliver, flush, test_event


def test(
    event: Annotated[
        str, typer.Option("--event", help="event name to send (the events filter is not applied)")
    ] = TEST_EVENT,
) -> None:
    """Post a test event to plugins.webhook.url and print the HTTP status.

    Exit 0 when the receiver answered 2xx, 2 when no URL is configured or a setting is bad,
    5 when the delivery failed.
    """
    from hdcli.commands._common import context, out
    from hdcli.errors import BackendUnavailable, ConfigError

    ctx = context()
    settings = Settings.from_config(ctx.config)
    if settings is None:
        raise ConfigError(
            "no webhook URL: set plugins.webhook.url in the config or HDCLI_PLUGINS__WEBHOOK__URL"
        )
    payload = replace(test_event(ctx.actor), event=event).to_dict()
    try:
        done = deliver(settings, payload)
    except WebhookError as exc:
        raise BackendUnavailable(f"webhook test to {settings.origin} failed: {exc}") from None
    plural = "s" if done.attempts > 1 else ""
    out(
        f"delivered {event} to {settings.origin}: HTTP {done.status} "
        f"({done.attempts} attempt{plural})"
    )


def flush_queue(
    everything: Annotated[
        bool, typer.Option("--all", help="try every queued delivery, also those not yet due")
    ] = False,
) -> None:
    """Deliver the queued (failed) webhook events that are due, oldest first; for cron.

    Exit 0 when the queue is empty afterwards, 5 when deliveries still wait (the receiver is
    still down, or they are not due yet), 2 when no URL is configured.
    """
    from hdcli.commands._common import context, say
    from hdcli.errors import ConfigError

    ctx = context()
    settings = Settings.from_config(ctx.config)
    if settings is None:
        raise ConfigError("no webhook URL: set plugins.webhook.url")
    done = flush(ctx.config, settings, everything=everything)
    say(f"delivered {done.delivered}, waiting {done.waiting}, dropped {done.dropped}")
    if done.waiting:
        raise typer.Exit(5)


def webhook_app() -> typer.Typer:
    """The ``webhook`` command group."""
    group = typer.Typer(
        help="The webhook plugin: post ticket events as JSON.", no_args_is_help=True
    )
    group.command("test")(test)
    group.command("flush")(flush_queue)
    return group
