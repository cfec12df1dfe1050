"""The digit classifier whose penultimate layer is the feature space of feature-FID and KID."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from core.base_model import BaseModel
from core.batches import unpack_batch
from core.errors import ConfigError
from core.metrics.configs import DigitClassifierConfig

__all__ = ["DigitClassifier", "to_classifier_input"]


def to_classifier_input(
    images: torch.Tensor, image_size: int, value_range: tuple[float, float] = (-1.0, 1.0)
) -> torch.Tensor:
    """Images in ``value_range`` (N, C, H, W) -> (N, 1, size, size) in [-1, 1]."""
    if images.ndim == 3:
        images = images.unsqueeze(1)
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ConfigError(
            f"digit-classifier: expected images (N, 1|3, H, W), got shape {tuple(images.shape)}"
        )
    low, high = value_range
    x = (images.float() - low) / (high - low) * 2.0 - 1.0
    if x.shape[1] == 3:
        x = x.mean(dim=1, keepdim=True)
    if x.shape[-2:] != (image_size, image_size):
        shrink = x.shape[-1] > image_size
        x = F.interpolate(
            x, size=(image_size, image_size), mode="bilinear", align_corners=False, antialias=shrink
        )
    return x.clamp(-1.0, 1.0)


class DigitClassifier(BaseModel):
    """conv-BN-ReLU blocks: 2, pool, 2, pool, 1, 3x3 average pool -> features -> logits."""

    config_class = DigitClassifierConfig

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        w = c.width

        def block(cin: int, cout: int) -> list[nn.Module]:
            return [
                nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
            ]

        self.body = nn.Sequential(
            *block(1, w),
            *block(w, w),
            nn.MaxPool2d(2),
            *block(w, 2 * w),
            *block(2 * w, 2 * w),
            nn.MaxPool2d(2),
            *block(2 * w, 4 * w),
            nn.AdaptiveAvgPool2d(3),
            nn.Flatten(),
            nn.Linear(4 * w * 9, c.feature_dim),
            nn.ReLU(inplace=True),
        )
        self.dropout = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.feature_dim, c.num_classes)

    def on_runtime_change(self, changed: dict[str, Any]) -> None:
        if "dropout" in changed:
            self.dropout.p = changed["dropout"]

    def _check(self, x: torch.Tensor) -> torch.Tensor:
        size = self.config.image_size
        if x.ndim != 4 or x.shape[1] != 1 or tuple(x.shape[-2:]) != (size, size):
            raise ConfigError(
                f"digit-classifier: expected input (N, 1, {size}, {size}) in [-1, 1], got "
                f"{tuple(x.shape)}; use features_of() for other sizes or ranges"
            )
        return x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer features of inputs (N, 1, size, size) in [-1, 1]."""
        return self.body(self._check(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(x)))

    @torch.no_grad()
    def features_of(
        self,
        images: torch.Tensor,
        value_range: tuple[float, float] = (-1.0, 1.0),
        batch_size: int = 500,
    ) -> torch.Tensor:
        """Features of any-size images in ``value_range``, in eval mode, batched."""
        out = self._in_batches(lambda x: self.features(x).float(), images, value_range, batch_size)
        return torch.cat(out) if out else torch.empty(0, self.config.feature_dim)

    @torch.no_grad()
    def predict(
        self,
        images: torch.Tensor,
        value_range: tuple[float, float] = (-1.0, 1.0),
        batch_size: int = 500,
    ) -> torch.Tensor:
        """Predicted labels of any-size images in ``value_range``."""
        out = self._in_batches(lambda x: self(x).argmax(1), images, value_range, batch_size)
        return torch.cat(out) if out else torch.empty(0, dtype=torch.long)

    def _in_batches(
        self,
        fn: Callable[[torch.Tensor], torch.Tensor],
        images: torch.Tensor,
        value_range: tuple[float, float],
        batch_size: int,
    ) -> list[torch.Tensor]:
        """``fn`` of the classifier inputs made from ``images``, batch by batch, in eval mode."""
        was = self.training
        self.eval()
        try:
            size = self.config.image_size
            return [
                fn(to_classifier_input(chunk.to(self.device), size, value_range)).cpu()
                for chunk in images.split(batch_size)
            ]
        finally:
            self.train(was)

    def compute_loss(self, batch: Any) -> dict[str, torch.Tensor]:
        x, y = unpack_batch(batch)
        logits = self(x)
        loss = F.cross_entropy(logits, y)
        return {"loss": loss, "accuracy": (logits.argmax(1) == y).float().mean()}

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor]:
        size = self.config.image_size
        return (torch.rand(batch_size, 1, size, size) * 2 - 1,)
