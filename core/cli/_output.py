"""Plain-text tables and JSON for CLI output."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click

from core._markdown import one_line

__all__ = ["echo_table", "echo_json"]


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], indent: int = 0) -> None:
    """Print a left-aligned table with a header rule, each line indented by ``indent``.

    Each cell is one line (a newline or control character in a description becomes a space,
    so no cell can fake a row), cut at 300 characters.
    """
    cells = [[one_line(c) for c in headers], *[[one_line(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        line = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        click.echo(" " * indent + line)
        if n == 0:
            click.echo(" " * indent + "  ".join("-" * w for w in widths))


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))
