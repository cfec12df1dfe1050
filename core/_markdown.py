"""Markdown pieces that hold untrusted text without changing the document's structure.

Table cells and headings get one line with Markdown and HTML characters escaped; code spans
and fenced blocks get a fence longer than any run of backticks inside them. Control
characters never reach the output.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["one_line", "inline_text", "code_span", "fenced_block", "table"]

#: the longest text kept in one table cell or heading.
MAX_INLINE = 300
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~&$])")
_BACKTICKS = re.compile(r"`+")


def one_line(value: Any, width: int = MAX_INLINE) -> str:
    """``value`` as text on one line (whitespace and control characters become spaces), cut."""
    line = " ".join(_CONTROL.sub(" ", str(value)).split())
    return line if len(line) <= width else f"{line[: width - 3]}..."


def inline_text(value: Any) -> str:
    """One line of text in which no character has a Markdown or HTML meaning."""
    return _INLINE_SPECIAL.sub(r"\\\1", one_line(value)) or "(empty)"


def _fence_for(text: str, minimum: int) -> str:
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    return "`" * max(minimum, longest + 1)


def code_span(value: Any) -> str:
    """One line as inline code, its pipes escaped so it can sit in a table cell."""
    text = one_line(value).replace("|", "\\|")
    if not text:
        return "(empty)"
    fence = _fence_for(text, 1)
    pad = " " if text[0] in "` " or text[-1] in "` " else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def fenced_block(text: str, info: str = "text") -> str:
    """``text`` in a fenced code block that nothing inside it can close."""
    body = _CONTROL.sub(" ", text.strip("\n"))
    fence = _fence_for(body, 3)
    return f"{fence}{info}\n{body}\n{fence}"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A pipe table; the cells must already be escaped (``inline_text`` or ``code_span``)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
