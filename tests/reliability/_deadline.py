"""A time limit for one test step (SIGALRM): a hang fails the test instead of stalling it."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator
from typing import Any


class TooSlow(BaseException):
    """The step ran past its time limit (a BaseException: no `except Exception` swallows it)."""


@contextlib.contextmanager
def time_limit(seconds: int, error: Callable[[], BaseException] | None = None) -> Iterator[None]:
    """Raise ``error()`` (default TooSlow) in the main thread after ``seconds``."""

    def fire(signum: int, frame: Any) -> None:
        raise error() if error is not None else TooSlow(f"took more than {seconds}s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
