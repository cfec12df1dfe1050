"""The command line every generator of a checked-in file shares: write it, or ``--check`` it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from core.atomic import atomic_write_text


def write_or_check(output: Path, render: Callable[[], str], description: str) -> int:
    """Write ``render()`` to ``output``; with ``--check``, exit 1 when the file differs."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args()
    text = render()
    if args.check:
        current = output.read_text() if output.is_file() else None
        if current != text:
            print(f"{output} is stale: run {sys.argv[0]}", file=sys.stderr)
            return 1
        return 0
    atomic_write_text(output, text)
    print(f"wrote {output}")
    return 0
