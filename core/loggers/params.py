"""A run config as flat hyperparameters: dotted keys, scalar values (torch-free)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["flatten_config", "param_text", "plain_config"]

Scalar = bool | int | float | str | None


def flatten_config(config: Mapping[str, Any]) -> dict[str, Scalar]:
    """``{"train": {"lr": 1e-3}}`` -> ``{"train.lr": 1e-3}``; lists become JSON text."""
    flat: dict[str, Scalar] = {}
    _flatten(plain_config(config), "", flat)
    return flat


def plain_config(value: Any) -> Any:
    """Mappings as dicts, tuples as lists, other objects (paths) as text: YAML- and JSON-safe."""
    if isinstance(value, Mapping):
        return {str(key): plain_config(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_config(item) for item in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def param_text(value: Scalar) -> str:
    """A flat value as text, spelled as in YAML/JSON (``true``, ``null``, ``0.001``)."""
    return value if isinstance(value, str) else json.dumps(value)


def _flatten(config: dict[str, Any], prefix: str, flat: dict[str, Scalar]) -> None:
    for key, value in config.items():
        if isinstance(value, dict) and value:
            _flatten(value, f"{prefix}{key}.", flat)
        else:
            flat[f"{prefix}{key}"] = json.dumps(value) if isinstance(value, (dict, list)) else value
