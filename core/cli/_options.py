"""What several commands declare alike: the ``--raw`` flag and ``KEY=VALUE`` option parsing."""

from __future__ import annotations

from typing import Any

import click

from core.config import parse_override
from core.errors import ConfigError

__all__ = ["RAW", "key_values"]

#: ``--raw``: a run's raw weights instead of its EMA (sample, evaluate, export).
RAW = click.option("--raw", is_flag=True, help="Use the raw weights of a run, not its EMA.")


def key_values(pairs: tuple[str, ...], option: str, example: str) -> dict[str, Any]:
    """``("eta=0.5", "check=false")`` -> ``{"eta": 0.5, "check": False}`` (YAML-typed); a pair
    that is not ``KEY=VALUE`` is one ConfigError naming ``option`` and an ``example``."""
    values = {}
    for pair in pairs:
        key, sep, _ = pair.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ConfigError(f"{option} {pair!r} must look like KEY=VALUE, e.g. {example}")
        key, value = parse_override(pair)
        values[key] = value
    return values
