"""Run ``hdcli`` command lines in the test process, as a subprocess would see them.

For the tests of hdcli and of its plugins: a command line run by :func:`invoke` costs
milliseconds, where starting ``python -m hdcli`` costs a third of a second. What depends on the
process itself (start-up imports, the exit status an MTA sees, a killed run, concurrent writers)
still needs a real subprocess.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["invoke"]


def invoke(
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str | Path | None = None,
    input: str | bytes | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``hdcli ARGS`` in this process as ``subprocess.run([python, "-m", "hdcli", *args],
    env=env, cwd=cwd, input=input, capture_output=True)`` would; the same kind of result.

    - The environment of the run is exactly ``env``: variables of this process that ``env``
      lacks are unset while it runs. ``PYTHONPATH`` entries go in front of ``sys.path`` for the
      run, and modules imported from them are forgotten afterwards (a plugin distribution that
      is only on that path is found by the run, and by nothing after it).
    - :func:`hdcli.cli.reset` runs before and after, so the app, the loaded plugins and the
      template caches of one run never reach the next run, or the caller. Plugins registered
      by hand (``pm.register``) stay registered, and the run sees them.
    - stdin holds ``input``; its text splits lines at ``\\n`` only, as Python's stdin does on
      POSIX, and ``sys.stdin.buffer`` gives the bytes. stdout and stderr are captured (Typer's
      testing isolation) and returned as text; unless ``input`` is bytes, ``\\r\\n`` and ``\\r``
      become ``\\n``, as they do with ``subprocess.run(..., text=True)``.
    - An exception that escapes (``HDCLI_DEBUG=1`` raises instead of printing one line) is
      printed to stderr as the interpreter would, and the exit code is 1.
    """
    from typer.testing import CliRunner

    from hdcli.cli import reset, run

    overrides: dict[str, str | None] = {k: None for k in os.environ if k not in env}
    overrides.update(env)
    extra_paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    extra_paths = [p for p in extra_paths if p not in sys.path]
    data = input.encode("utf-8") if isinstance(input, str) else (input or b"")
    old_cwd = os.getcwd()
    old_path = list(sys.path)
    old_modules = set(sys.modules)
    reset()
    try:
        with CliRunner().isolation(env=overrides) as (out, err, _mixed):
            sys.stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline="\n")
            sys.path[:0] = extra_paths
            if cwd is not None:
                os.chdir(cwd)
            try:
                code = run(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except Exception:
                traceback.print_exc()
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os.chdir(old_cwd)
                sys.path[:] = old_path
            stdout, stderr = out.getvalue().decode("utf-8"), err.getvalue().decode("utf-8")
    finally:
        reset()
        if extra_paths:
            for name in set(sys.modules) - old_modules:
                where = getattr(sys.modules[name], "__file__", None) or ""
                if where.startswith(tuple(extra_paths)):
                    del sys.modules[name]
    if not isinstance(input, bytes):
        stdout = stdout.replace("\r\n", "\n").replace("\r", "\n")
        stderr = stderr.replace("\r\n", "\n").replace("\r", "\n")
    return subprocess.CompletedProcess(["hdcli", *args], code, stdout, stderr)
