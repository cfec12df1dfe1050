"""Decoder heads: ``rgb``, ``segmentation`` and ``classification``."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from core import BaseModel
from core.errors import ConfigError
from core_autoencoder.configs import (
    ClassificationHeadConfig,
    RGBHeadConfig,
    SegmentationHeadConfig,
)

__all__ = ["Head", "RGBHead", "SegmentationHead", "ClassificationHead"]


class Head(BaseModel):
    """A head maps a (B, C, H, W) feature map to one output; ``postprocess`` for inference."""

    config_section = "head"
    kind = "head"

    def _check(self, features: torch.Tensor) -> None:
        c = self.config.in_channels
        if not isinstance(features, torch.Tensor) or features.dim() != 4 or features.shape[1] != c:
            shape = tuple(features.shape) if isinstance(features, torch.Tensor) else features
            raise ConfigError(
                f"{self.describe()}: expected features of shape (batch, {c}, H, W), got {shape}"
            )

    def postprocess(self, output: torch.Tensor) -> torch.Tensor:
        """The output as used at inference (probabilities for class heads)."""
        return output

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
        return (torch.randn(batch_size, self.config.in_channels, 8, 8),)


class RGBHead(Head):
    """3x3 conv to ``out_channels``, then tanh (or sigmoid / none)."""

    config_class = RGBHeadConfig

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.conv = nn.Conv2d(self.config.in_channels, self.config.out_channels, 3, padding=1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        self._check(features)
        out = self.conv(features)
        if self.config.activation == "tanh":
            return torch.tanh(out)
        if self.config.activation == "sigmoid":
            return torch.sigmoid(out)
        return out


class SegmentationHead(Head):
    """Per-pixel class logits (B, num_classes, H, W); ``postprocess`` applies softmax."""

    config_class = SegmentationHeadConfig

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        self.conv = nn.Sequential(
            nn.Conv2d(c.in_channels, c.in_channels, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(c.in_channels, c.num_classes, 1),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        self._check(features)
        return self.conv(features)

    def postprocess(self, output: torch.Tensor) -> torch.Tensor:
        return output.softmax(dim=1)


class ClassificationHead(Head):
    """Global pooling, optional hidden layer, linear: logits (B, num_classes)."""

    config_class = ClassificationHeadConfig

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        width = c.in_channels * (2 if c.pooling == "avgmax" else 1)
        layers: list[nn.Module] = []
        if c.hidden:
            layers += [nn.Linear(width, c.hidden), nn.SiLU()]
            width = c.hidden
        self.dropout = nn.Dropout(c.dropout)
        self.hidden = nn.Sequential(*layers)
        self.linear = nn.Linear(width, c.num_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        self._check(features)
        pooling = self.config.pooling
        if pooling == "avg":
            pooled = features.mean(dim=(2, 3))
        elif pooling == "max":
            pooled = features.amax(dim=(2, 3))
        else:
            pooled = torch.cat([features.mean(dim=(2, 3)), features.amax(dim=(2, 3))], dim=1)
        return self.linear(self.dropout(self.hidden(pooled)))

    def postprocess(self, output: torch.Tensor) -> torch.Tensor:
        return output.softmax(dim=1)

    def on_runtime_change(self, changed: dict[str, Any]) -> None:
        if "dropout" in changed:
            self.dropout.p = float(changed["dropout"])
