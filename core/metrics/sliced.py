"""Sliced Wasserstein-1 distance between point clouds (for 2-D toy data)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from core.component import Component
from core.errors import ConfigError
from core.metrics.configs import SlicedWassersteinConfig

__all__ = ["sliced_wasserstein", "SlicedWasserstein"]


def sliced_wasserstein(a: Any, b: Any, projections: int = 256, seed: int = 0) -> float:
    """Mean over random unit directions of W1 between the projected clouds (quantile matching)."""
    a = np.asarray(a, dtype=np.float64).reshape(len(a), -1)
    b = np.asarray(b, dtype=np.float64).reshape(len(b), -1)
    if a.shape[1] != b.shape[1] or len(a) == 0 or len(b) == 0:
        raise ConfigError(
            f"sliced_wasserstein: expected (N, D) and (M, D) point sets, got {a.shape} and {b.shape}"
        )
    rng = np.random.default_rng(seed)
    directions = rng.standard_normal((a.shape[1], projections))
    directions /= np.linalg.norm(directions, axis=0, keepdims=True)
    pa, pb = np.sort(a @ directions, axis=0), np.sort(b @ directions, axis=0)
    n = max(len(a), len(b))
    q = (np.arange(n) + 0.5) / n
    qa = pa if len(a) == n else np.quantile(pa, q, axis=0)
    qb = pb if len(b) == n else np.quantile(pb, q, axis=0)
    return float(np.abs(qa - qb).mean())


class SlicedWasserstein(Component):
    """``metric(samples, reference) -> {"sliced_wasserstein": ...}``."""

    config_class = SlicedWassersteinConfig
    kind = "metric"
    config_section = "metric"
    key = "sliced_wasserstein"

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        self.config = self.resolve_config(config, **overrides)

    def __call__(
        self, samples: torch.Tensor, reference: torch.Tensor, **_: Any
    ) -> dict[str, float]:
        return {
            self.key: sliced_wasserstein(
                torch.as_tensor(samples).detach().cpu().numpy(),
                torch.as_tensor(reference).detach().cpu().numpy(),
                self.config.projections,
                self.config.seed,
            )
        }
