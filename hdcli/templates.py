"""Mail templates: Jinja2 in a sandbox, German and English, overridable from the config dir.

A template is ``<language>/<name>.txt``: a first line ``Subject: …``, an empty line, then the
body. Values from mails and the CLI are passed as variables, never pasted into template source,
and the sandbox keeps an overridden template from reaching into Python objects.
"""

from __future__ import annotations

from typing import Any

from hdcli.errors import ConfigError
from hdcli.util import one_line

_ENVS: dict[tuple[str, ...], Any] = {}

NAMES = (
    "acknowledgement",
    "started",
    "reply",
    "approval_request",
    "service_report",
    "closed_notice",
    "report",
)


def _environment(search: tuple[str, ...]) -> Any:
    env = _ENVS.get(search)
    if env is None:
        from jinja2 import FileSystemLoader, StrictUndefined
        from jinja2.sandbox import SandboxedEnvironment

        env = SandboxedEnvironment(
            loader=FileSystemLoader(list(search)),
            autoescape=False,
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        _ENVS[search] = env
    return env


def search_path(config: Any) -> tuple[str, ...]:
    """Folders searched for templates, highest precedence first."""
    from hdcli.plugins import template_dirs

    return (str(config.template_dir), *reversed(template_dirs()))


def render(config: Any, name: str, language: str, context: dict[str, Any]) -> tuple[str, str]:
    """Render template ``name`` in ``language`` (falling back to English): (subject, body)."""
    from jinja2 import TemplateError, TemplateNotFound

    env = _environment(search_path(config))
    template = None
    for lang in (language, "en"):
        try:
            template = env.get_template(f"{lang}/{name}.txt")
            break
        except TemplateNotFound:
            continue
    if template is None:
        raise ConfigError(f"no mail template {name!r} for language {language!r}")
    try:
        text = template.render(**context)
    except TemplateError as exc:
        raise ConfigError(f"mail template {language}/{name}.txt: {exc}") from None
    head, _, body = text.partition("\n")
    if not head.lower().startswith("subject:"):
        raise ConfigError(f"mail template {language}/{name}.txt must start with 'Subject:'")
    return one_line(head[8:]), body.lstrip("\n")
