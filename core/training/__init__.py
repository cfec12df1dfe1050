"""Training: the ``Trainer``, its configs, EMA, checkpoints and the ``Optimizers`` object.

``from core.training import Trainer; Trainer("run.yaml").fit()``. Importing this package
is torch-free; the classes load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "Trainer",
    "TrainConfig",
    "SampleConfig",
    "EMAConfig",
    "EMA",
    "Optimizers",
    "draw_samples",
    "lr_factor",
    "save_samples",
    "train",
]

_LAZY = {
    "Trainer": "core.training.trainer",
    "draw_samples": "core.sampling",
    "TrainConfig": "core.training.configs",
    "SampleConfig": "core.training.configs",
    "EMAConfig": "core.training.configs",
    "EMA": "core.training.ema",
    "Optimizers": "core.training.optimizers",
    "lr_factor": "core.training.lr_schedules",
    "save_samples": "core.training.images",
}


def train(config: Any, **kwargs: Any) -> dict[str, Any]:
    """Train from a run config: ``Trainer(config, **kwargs).fit()``."""
    from core.training.trainer import Trainer  # lazy: keeps torch out of core.training

    return Trainer(config, **kwargs).fit()


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'core.training' has no attribute '{name}'")
