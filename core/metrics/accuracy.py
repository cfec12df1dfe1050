"""Classifier accuracy of labelled images (e.g. class-conditional samples)."""

from __future__ import annotations

from typing import Any

import torch

from core.errors import ConfigError
from core.metrics.configs import AccuracyConfig
from core.metrics.fid import _FeatureMetric, load_classifier

__all__ = ["Accuracy"]


class Accuracy(_FeatureMetric):
    """``metric(images, labels=..., value_range=(-1, 1)) -> {"accuracy": fraction}``."""

    config_class = AccuracyConfig
    key = "accuracy"

    def __call__(
        self,
        samples: torch.Tensor,
        reference: Any = None,
        *,
        labels: torch.Tensor | None = None,
        value_range: tuple[float, float] = (-1.0, 1.0),
        **_: Any,
    ) -> dict[str, float]:
        if labels is None:
            raise ConfigError("metric 'accuracy' needs labels= (the class of each image)")
        labels = torch.as_tensor(labels).long().cpu()
        if len(labels) != len(samples):
            raise ConfigError(f"metric 'accuracy': {len(samples)} images but {len(labels)} labels")
        classifier = load_classifier(self.config.classifier)
        predicted = classifier.predict(samples, value_range, self.config.batch_size)
        return {"accuracy": float((predicted == labels).float().mean())}
