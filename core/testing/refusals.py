"""Assertions that bad input was refused as core promises: one error, one line.

``expect_refused`` checks a Python call, ``expect_cli_refused`` a ``core`` command run
in-process. Both return a short description of the refusal and raise ``AssertionError``
when the input was accepted or refused the wrong way.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable

__all__ = ["expect_refused", "expect_cli_refused"]


def expect_refused(error: str, action: Callable[[], object]) -> str:
    """Run ``action``; it must raise the ``core.errors`` class named ``error``, in one line."""
    import core.errors

    try:
        action()
    except getattr(core.errors, error) as exc:
        message = str(exc)
        assert message and "\n" not in message, f"not one line: {message!r}"
        return f"{error}: {message}"
    raise AssertionError("accepted")


def expect_cli_refused(*args: str) -> str:
    """``core ARGS`` in-process: exit code 2 and exactly one ``error:`` line on stderr."""
    from core.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(list(args))
    lines = err.getvalue().strip().splitlines()
    assert code == 2, f"exit {code}: {err.getvalue()[-300:]}"
    assert len(lines) == 1 and lines[0].startswith("error: "), f"stderr: {lines[:3]}"
    return f"exit 2: {lines[0]}"
