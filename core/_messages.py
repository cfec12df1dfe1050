"""Keys and values quoted in error messages, cut short: an error never echoes a whole file."""

from __future__ import annotations

import re
import reprlib
from collections.abc import Iterable
from typing import Any

__all__ = ["short_repr", "key_text", "first_of", "clip"]

_REPR = reprlib.Repr()
_REPR.maxstring = 60
_REPR.maxother = 60
_REPR.maxlevel = 2
_REPR.maxdict = 4
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxfrozenset = 6
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}")


def short_repr(value: Any) -> str:
    """``repr(value)`` cut to about 60 characters (a long string keeps its start only)."""
    if isinstance(value, str) and len(value) > _REPR.maxstring:
        return f"{value[: _REPR.maxstring]!r}..."
    return _REPR.repr(value)


def key_text(key: Any) -> str:
    """``'lr'`` for a key that looks like a name; else ``<47-character key>``, never its text."""
    text = str(key)
    return repr(text) if _NAME.fullmatch(text) else f"<{len(text)}-character key>"


def first_of(keys: Iterable[Any]) -> str:
    """The first key (as ``key_text``) and how many others: ``'lr_' (and 3 more)``."""
    keys = list(keys)
    if not keys:
        return "none"
    more = f" (and {len(keys) - 1} more)" if len(keys) > 1 else ""
    return f"{key_text(keys[0])}{more}"


def clip(text: str, width: int = 100) -> str:
    """``text`` on one line, cut to ``width`` characters with ``...``."""
    line = " ".join(str(text).split())
    return line if len(line) <= width else f"{line[: width - 3]}..."
