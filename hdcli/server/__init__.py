"""``hdcli serve``: the remote helpdesk, a JSON API over the configured storage.

An entry point beside :mod:`hdcli.cli` and :mod:`hdcli.mailgate`: its resources call the
operations of :mod:`hdcli.ops` (the same functions the commands call) with a context whose
actor is the agent of the request's token. Needs the ``hdcli[server]`` extra (Starlette,
uvicorn); the plain CLI never imports it.
"""
