"""Offline metrics: ``feature-fid``, ``kid`` and ``precision-recall`` on digit-classifier
features, ``accuracy``, ``sliced-wasserstein``; and ``evaluate_model`` behind
``core evaluate``. Torch-free import."""

from __future__ import annotations

from core.lazy import lazy_exports

__all__ = [
    "frechet_distance",
    "kid_score",
    "precision_recall",
    "sliced_wasserstein",
    "evaluate_model",
    "load_model",
]

_LAZY = {
    "frechet_distance": "core.metrics.fid",
    "kid_score": "core.metrics.fid",
    "precision_recall": "core.metrics.precision_recall",
    "sliced_wasserstein": "core.metrics.sliced",
    "evaluate_model": "core.metrics.evaluate",
    "load_model": "core.metrics.evaluate",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
