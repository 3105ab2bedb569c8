"""Mail templates: Jinja2 in a sandbox, German and English, overridable from the config dir.

A template is ``<language>/<name>.txt``: a first line ``Subject: …``, an empty line, then the
body. Values from mails and the CLI are passed as variables, never pasted into template source,
and the sandbox keeps an overridden template from reaching into Python objects.

Importing Jinja2 costs more than the rest of ``hdcli open`` together, so templates that use only
``{{ a.b }}``, ``{{ a.b | filter }}`` (the filters of :mod:`hdcli.formats`: ``money``,
``hours``, ``date`` … in the template's ``language``) and ``{% if a.b %}…{% else %}…{% endif
%}`` over plain dicts (every shipped template) are rendered by a small interpreter with Jinja's
semantics for exactly that subset (``trim_blocks``, ``lstrip_blocks``, ``keep_trailing_newline``,
strict undefined). Anything else, and any lookup the subset cannot answer the way Jinja would,
goes to Jinja2 itself.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hdcli.errors import ConfigError, UsageError
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

_PATH = r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*"
_TAG = re.compile(
    r"\{\{ *(?P<var>" + _PATH + r") *(?:\| *(?P<filter>[a-z]+) *)?\}\}"
    r"|(?P<lead>(?:^|(?<=\n))[ \t]*)?\{% *(?P<block>if +" + _PATH + r"|else|endif) *%\}\n?"
)

# A parsed simple template: text, ("var", path) or ("if", path, then_nodes, else_nodes).
_Node = Any
_SIMPLE: dict[str, list[_Node] | None] = {}


class _NotSimple(Exception):
    """The fast path cannot give Jinja's answer: render with Jinja2."""


def _parse_simple(source: str) -> list[_Node] | None:
    """The node tree of a template in the simple subset, or None when it is not in it."""
    if "\r" in source or "{#" in source:
        return None
    root: list[_Node] = []
    stack: list[tuple[list[_Node], list[_Node], bool]] = []  # (then, else, in_else)
    current = root
    pos = 0
    for m in _TAG.finditer(source):
        # The match starts before a block tag's indentation (lstrip_blocks) and takes the
        # newline after it (trim_blocks), so neither ends up in the text.
        text = source[pos : m.start()]
        if "{{" in text or "{%" in text:
            return None
        if text:
            current.append(text)
        if m.group("var") is not None:
            name = m.group("filter")
            if name is not None and name not in _filters():
                return None
            current.append(("var", m.group("var").split("."), name))
        else:
            block = m.group("block").split()
            if block[0] == "if":
                node: list[_Node] = []
                else_node: list[_Node] = []
                current.append(("if", block[1].split("."), node, else_node))
                stack.append((node, else_node, False))
                current = node
            elif block[0] == "else":
                if not stack or stack[-1][2]:
                    return None
                then, other, _ = stack[-1]
                stack[-1] = (then, other, True)
                current = other
            else:  # endif
                if not stack:
                    return None
                stack.pop()
                current = root if not stack else (stack[-1][1] if stack[-1][2] else stack[-1][0])
        pos = m.end()
    rest = source[pos:]
    if stack or "{{" in rest or "{%" in rest:
        return None
    if rest:
        root.append(rest)
    return root


def _filters() -> dict[str, Any]:
    """The filters of :mod:`hdcli.formats` (``money``, ``hours``, ``date`` …)."""
    from hdcli.formats import FILTERS

    return FILTERS


def _lookup(context: dict[str, Any], path: list[str]) -> Any:
    if path[0] not in context:
        raise _NotSimple  # undefined, or one of Jinja's globals
    value = context[path[0]]
    for part in path[1:]:
        # Jinja tries the attribute first; on a plain dict that is the item unless the name
        # is a dict method. Other objects go through the sandbox.
        if type(value) is not dict or hasattr(dict, part) or part not in value:
            raise _NotSimple
        value = value[part]
    return value


def _render_nodes(nodes: list[_Node], context: dict[str, Any], out: list[str]) -> None:
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        elif node[0] == "var":
            value = _lookup(context, node[1])
            if node[2] is not None:
                value = _filters()[node[2]](value, str(context.get("language") or "de"))
            out.append(str(value))
        else:
            _render_nodes(node[2] if _lookup(context, node[1]) else node[3], context, out)


def render_simple(source: str, context: dict[str, Any]) -> str | None:
    """``source`` rendered as Jinja would (with hdcli's settings), or None when only Jinja can."""
    nodes = _SIMPLE.get(source, ...)
    if nodes is ...:
        nodes = _parse_simple(source)
        _SIMPLE[source] = nodes
    if nodes is None:
        return None
    out: list[str] = []
    try:
        _render_nodes(nodes, context, out)
    except _NotSimple:
        return None
    return "".join(out)


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
        from hdcli.formats import jinja_filters

        env.filters.update(jinja_filters())
        _ENVS[search] = env
    return env


_SEARCH: dict[int, tuple[Any, tuple[str, ...]]] = {}
_SOURCES: dict[tuple[tuple[str, ...], str, str], tuple[Path, str] | None] = {}


def search_path(config: Any) -> tuple[str, ...]:
    """Folders searched for templates, highest precedence first (worked out once per config)."""
    cached = _SEARCH.get(id(config))
    if cached is not None and cached[0] is config:
        return cached[1]
    from hdcli.plugins import template_dirs

    search = (str(config.template_dir), *reversed(template_dirs()))
    _SEARCH[id(config)] = (config, search)
    return search


def reset() -> None:
    """Forget the search paths, template sources and Jinja environments worked out so far
    (they are kept for the life of the process; a process that runs several command lines
    may see templates change in between)."""
    _SEARCH.clear()
    _SOURCES.clear()
    _ENVS.clear()


def _find(search: tuple[str, ...], name: str, language: str) -> Path | None:
    """The file Jinja's loader would pick: the first folder holding the language, else English."""
    for lang in (language, "en"):
        for folder in search:
            path = Path(folder) / lang / f"{name}.txt"
            if path.is_file():
                return path
    return None


def _render_jinja(
    search: tuple[str, ...], name: str, language: str, context: dict[str, Any]
) -> str:
    from jinja2 import TemplateError, TemplateNotFound

    env = _environment(search)
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
        text: str = template.render(**context)
    except TemplateError as exc:
        raise ConfigError(f"mail template {language}/{name}.txt: {exc}") from None
    return text


def render(config: Any, name: str, language: str, context: dict[str, Any]) -> tuple[str, str]:
    """Render template ``name`` in ``language`` (falling back to English): (subject, body)."""
    search = search_path(config)
    key = (search, name, language)
    found = _SOURCES.get(key, ...)
    if found is ...:
        path = _find(search, name, language)
        found = None
        if path is not None:
            try:
                with open(path, encoding="utf-8", newline="") as fh:  # keep \r: Jinja's business
                    found = (path, fh.read())
            except (OSError, UnicodeDecodeError):
                found = (path, "{#")  # unreadable: Jinja's loader reports it
        _SOURCES[key] = found
    if found is None:
        raise ConfigError(f"no mail template {name!r} for language {language!r}")
    text = render_simple(found[1], context)
    if text is None:
        text = _render_jinja(search, name, language, context)
    head, _, body = text.partition("\n")
    if not head.lower().startswith("subject:"):
        raise ConfigError(f"mail template {language}/{name}.txt must start with 'Subject:'")
    return one_line(head[8:]), body.lstrip("\n")


_ANSWER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def answers(config: Any) -> list[dict[str, str]]:
    """The canned answers in the config folder's ``answers/<lang>/NAME.txt``: ``name``,
    ``language`` and ``first_line`` (the text's first non-empty line), by name and language."""
    found: list[dict[str, str]] = []
    root = Path(config.answers_dir)
    if not root.is_dir():
        return found
    for path in sorted(root.glob("*/*.txt")):
        name = path.name[:-4]
        if not _ANSWER_NAME.fullmatch(name):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = ""
        first = next((line.strip() for line in text.splitlines() if line.strip()), "")
        found.append({"name": name, "language": path.parent.name, "first_line": first})
    found.sort(key=lambda a: (a["name"], a["language"]))
    return found


def render_answer(config: Any, name: str, language: str, context: dict[str, Any]) -> str:
    """Canned answer ``name`` in ``language`` (falling back to English) rendered with the
    ticket's ``context`` in the same sandbox as the mail templates. UsageError (exit 2) for
    a name that is not one (no path: letters, digits, ``_``, ``-``, ``.``); ConfigError for a
    missing or broken answer."""
    if not _ANSWER_NAME.fullmatch(name) or ".." in name:
        raise UsageError(f"bad answer name {name!r} (see `hdcli answer list`)")
    search = (str(config.answers_dir),)
    if _find(search, name, language) is None:
        raise ConfigError(f"no answer {name!r} for language {language!r} (see `hdcli answer list`)")
    return _render_jinja(search, name, language, context)


def signature(config: Any, login: str) -> str:
    """The agent's signature: ``signatures/LOGIN.txt`` beside the config file, or ``""`` when
    there is none (or the login could not name a file)."""
    if not login or not _ANSWER_NAME.fullmatch(login) or ".." in login:
        return ""
    path = Path(config.path).parent / "signatures" / f"{login}.txt"
    try:
        return path.read_text(encoding="utf-8").strip("\n")
    except (OSError, UnicodeDecodeError):
        return ""
