"""Offline metrics: ``feature-fid`` and ``kid`` on digit-classifier features, ``accuracy``,
``sliced-wasserstein``; and ``evaluate_model`` behind ``core evaluate``. Torch-free import."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["frechet_distance", "kid_score", "sliced_wasserstein", "evaluate_model", "load_model"]

_LAZY = {
    "frechet_distance": "core.metrics.fid",
    "kid_score": "core.metrics.fid",
    "sliced_wasserstein": "core.metrics.sliced",
    "evaluate_model": "core.metrics.evaluate",
    "load_model": "core.metrics.evaluate",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'core.metrics' has no attribute '{name}'")
