"""Feature-FID and KID on digit-classifier features."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch

from core.building import build_model
from core.component import Component
from core.errors import ConfigError
from core.metrics.configs import FeatureFIDConfig, KIDConfig

__all__ = ["frechet_distance", "kid_score", "FeatureFID", "KID", "load_classifier"]


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(a: Any, b: Any) -> float:
    """FID between Gaussian fits of feature sets ``a`` (N, D) and ``b`` (M, D).

    |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2), square roots by
    symmetric eigen-decomposition.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or len(a) < 2 or len(b) < 2:
        raise ConfigError(
            f"frechet_distance: expected two (N>=2, D) feature sets with equal D, got "
            f"{a.shape} and {b.shape}"
        )
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root_a = _sqrt_psd(cov_a)
    middle = root_a @ cov_b @ root_a
    values = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_sqrt = np.sqrt(np.clip(values, 0, None)).sum()
    value = float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt)
    return max(value, 0.0)


def kid_score(
    a: Any, b: Any, subset_size: int = 100, subsets: int = 50, seed: int = 0
) -> tuple[float, float]:
    """(mean, std) of unbiased MMD^2 with kernel (x.y/d + 1)^3 over random subsets."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ConfigError(f"kid_score: expected (N, D) feature sets, got {a.shape} and {b.shape}")
    m = min(subset_size, len(a), len(b))
    if m < 2:
        raise ConfigError(f"kid_score: need at least 2 items per set, got {len(a)} and {len(b)}")
    d = a.shape[1]
    rng = np.random.default_rng(seed)
    scores = []
    for _ in range(subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        kxx = (x @ x.T / d + 1) ** 3
        kyy = (y @ y.T / d + 1) ** 3
        kxy = (x @ y.T / d + 1) ** 3
        scores.append(
            (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
            + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
            - 2 * kxy.mean()
        )
    return float(np.mean(scores)), float(np.std(scores))


@functools.lru_cache(maxsize=4)
def _cached_classifier(reference: str, device: str) -> Any:

    model = build_model(reference, device=device)
    if not hasattr(model, "features_of"):
        raise ConfigError(f"classifier {reference!r} has no features_of(images) method")
    return model.eval()


def load_classifier(reference: str = "digit-classifier", device: Any = "cpu") -> Any:
    """The pretrained feature classifier (cached per process)."""
    return _cached_classifier(str(reference), str(device))


class _FeatureMetric(Component):
    """``metric(samples, reference, value_range=(-1, 1))``: ``score`` of the classifier
    features of both sets."""

    kind = "metric"
    config_section = "metric"

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        self.config = self.resolve_config(config, **overrides)

    def features(self, images: torch.Tensor, value_range: tuple[float, float]) -> torch.Tensor:
        classifier = load_classifier(self.config.classifier)
        return classifier.features_of(images, value_range, self.config.batch_size)

    def __call__(
        self,
        samples: torch.Tensor,
        reference: torch.Tensor,
        value_range: tuple[float, float] = (-1.0, 1.0),
        **_: Any,
    ) -> dict[str, float]:
        fa = self.features(samples, value_range).numpy()
        return self.score(fa, self.features(reference, value_range).numpy())

    def score(self, a: np.ndarray, b: np.ndarray) -> dict[str, float]:
        raise NotImplementedError


class FeatureFID(_FeatureMetric):
    """``metric(samples, reference, value_range=(-1, 1)) -> {"feature_fid": ...}``."""

    config_class = FeatureFIDConfig
    key = "feature_fid"

    def score(self, a: np.ndarray, b: np.ndarray) -> dict[str, float]:
        return {self.key: frechet_distance(a, b)}


class KID(_FeatureMetric):
    """``metric(samples, reference, value_range=(-1, 1)) -> {"kid": mean, "kid_std": std}``."""

    config_class = KIDConfig
    key = "kid"

    def score(self, a: np.ndarray, b: np.ndarray) -> dict[str, float]:
        c = self.config
        mean, std = kid_score(a, b, c.subset_size, c.subsets, c.seed)
        return {"kid": mean, "kid_std": std}
