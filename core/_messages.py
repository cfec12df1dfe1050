"""Values quoted in error messages, cut short: an error never echoes a whole file."""

from __future__ import annotations

import reprlib
from collections.abc import Iterable
from typing import Any

__all__ = ["short_repr", "first_of", "clip"]

_REPR = reprlib.Repr()
_REPR.maxstring = 60
_REPR.maxother = 60
_REPR.maxlevel = 2
_REPR.maxdict = 4
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxfrozenset = 6


def short_repr(value: Any) -> str:
    """``repr(value)`` cut to about 60 characters (long strings, deep or long containers)."""
    return _REPR.repr(value)


def first_of(items: Iterable[Any]) -> str:
    """The first item, quoted short, and how many others: ``'lr_' (and 3 more)``."""
    items = list(items)
    if not items:
        return "none"
    more = f" (and {len(items) - 1} more)" if len(items) > 1 else ""
    return f"{short_repr(items[0])}{more}"


def clip(text: str, width: int = 100) -> str:
    """``text`` on one line, cut to ``width`` characters with ``...``."""
    line = " ".join(str(text).split())
    return line if len(line) <= width else f"{line[: width - 3]}..."
