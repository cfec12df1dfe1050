"""Assertions that bad input was refused as core promises: one error, one line.

``expect_refused`` checks a Python call, ``expect_cli_refused`` a ``core`` command run
in-process (``run_cli`` runs one and gives back its exit code and output). Both return a short description of the refusal and raise ``AssertionError``
when the input was accepted or refused the wrong way.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable

import core.errors
from core.cli import main

__all__ = ["expect_refused", "expect_cli_refused", "run_cli"]


def expect_refused(error: str, action: Callable[[], object]) -> str:
    """Run ``action``; it must raise the ``core.errors`` class named ``error``, in one line."""
    try:
        action()
    except getattr(core.errors, error) as exc:
        message = str(exc)
        assert message and "\n" not in message, f"not one line: {message!r}"
        return f"{error}: {message}"
    raise AssertionError("accepted")


def run_cli(*args: str) -> tuple[int, str, str]:
    """``core ARGS`` in-process: (exit code, stdout, stderr)."""

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def expect_cli_refused(*args: str) -> str:
    """``core ARGS`` in-process: exit code 2 and exactly one ``error:`` line on stderr."""
    code, _, err = run_cli(*args)
    lines = err.strip().splitlines()
    assert code == 2, f"exit {code}: {err[-300:]}"
    assert len(lines) == 1 and lines[0].startswith("error: "), f"stderr: {lines[:3]}"
    return f"exit 2: {lines[0]}"
