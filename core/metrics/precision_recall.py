"""Improved precision and recall (Kynkaanniemi et al. 2019) on digit-classifier features."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from core.errors import ConfigError
from core.metrics.configs import PrecisionRecallConfig
from core.metrics.fid import _FeatureMetric

__all__ = ["knn_radii", "manifold_coverage", "precision_recall", "PrecisionRecall"]


def _matrix(x: Any, name: str) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(x), dtype=torch.float64)
    if x.ndim != 2:
        raise ConfigError(
            f"precision_recall: {name} must be an (N, D) feature set, got {tuple(x.shape)}"
        )
    return x


def knn_radii(points: Any, k: int = 3, chunk_size: int = 1024) -> torch.Tensor:
    """Distance of each row of ``points`` to its ``k``-th nearest other row (exact, in chunks
    of ``chunk_size`` rows against all rows; the row itself is not counted)."""
    points = _matrix(points, "points")
    if len(points) <= k:
        raise ConfigError(f"precision_recall: k={k} needs more than {k} points, got {len(points)}")
    radii = [
        torch.cdist(block, points).kthvalue(k + 1, dim=1).values
        for block in points.split(chunk_size)
    ]
    return torch.cat(radii)


def manifold_coverage(
    queries: Any, centres: Any, radii: torch.Tensor, chunk_size: int = 1024
) -> float:
    """Share of ``queries`` inside at least one ball (``centres[j]``, ``radii[j]``)."""
    queries, centres = _matrix(queries, "queries"), _matrix(centres, "centres")
    inside = sum(
        int((torch.cdist(block, centres) <= radii[None, :]).any(dim=1).sum())
        for block in queries.split(chunk_size)
    )
    return inside / len(queries)


def precision_recall(
    generated: Any, real: Any, k: int = 3, chunk_size: int = 1024
) -> tuple[float, float]:
    """``(precision, recall)``: the share of generated features inside the real manifold (the
    union of balls around each real feature, radius its ``k``-th nearest real neighbour), and
    the share of real features inside the generated manifold, built the same way."""
    generated, real = _matrix(generated, "generated"), _matrix(real, "real")
    if generated.shape[1] != real.shape[1]:
        raise ConfigError(
            f"precision_recall: feature sizes differ, {generated.shape[1]} and {real.shape[1]}"
        )
    precision = manifold_coverage(generated, real, knn_radii(real, k, chunk_size), chunk_size)
    recall = manifold_coverage(real, generated, knn_radii(generated, k, chunk_size), chunk_size)
    return precision, recall


class PrecisionRecall(_FeatureMetric):
    """``metric(samples, reference, value_range=(-1, 1)) -> {"precision": ..., "recall": ...}``."""

    config_class = PrecisionRecallConfig
    key = "precision"
    keys = ("precision", "recall")

    def score(self, a: np.ndarray, b: np.ndarray) -> dict[str, float]:
        precision, recall = precision_recall(a, b, self.config.k, self.config.chunk_size)
        return {"precision": precision, "recall": recall}
