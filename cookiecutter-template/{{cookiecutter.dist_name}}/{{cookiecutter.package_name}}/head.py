"""The example head: decoder features to image channels."""

from __future__ import annotations

from typing import Any

import torch
from core import BaseModel
from core.errors import ConfigError
from torch import nn

__all__ = ["ImageHead"]


class ImageHead(BaseModel):
    """A 1x1 convolution from ``in_channels`` to ``out_channels``, then an activation."""

    kind = "head"
    config_section = "head"

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        self.proj = nn.Conv2d(c.in_channels, c.out_channels, kernel_size=1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        c = self.config
        if features.dim() != 4 or features.shape[1] != c.in_channels:
            raise ConfigError(
                f"{self.describe()}: expected features of shape (batch, {c.in_channels}, "
                f"height, width), got {tuple(features.shape)}"
            )
        out = self.proj(features)
        if c.activation == "sigmoid":
            return torch.sigmoid(out)
        if c.activation == "tanh":
            return torch.tanh(out)
        return out

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
        return (torch.randn(batch_size, self.config.in_channels, 8, 8),)
