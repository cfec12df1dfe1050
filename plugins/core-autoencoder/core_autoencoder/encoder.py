"""``conv-encoder``: stride-2 convolution steps down to a latent map."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from core import BaseModel
from core_autoencoder._util import check_image, norm
from core_autoencoder.configs import ConvEncoderConfig

__all__ = ["ConvEncoder"]


class ConvEncoder(BaseModel):
    """Per step: conv3x3 -> GN -> SiLU -> conv4x4/2 -> GN -> SiLU; then 1x1 to the latent."""

    config_class = ConvEncoderConfig
    config_section = "encoder"
    kind = "encoder"

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        layers: list[nn.Module] = []
        channels = c.in_channels
        for step in range(c.downsampling_steps):
            width = c.base_channels * 2**step
            layers += [
                nn.Conv2d(channels, width, 3, padding=1),
                norm(width, c.norm_groups),
                nn.SiLU(),
                nn.Conv2d(width, width, 4, stride=2, padding=1),
                norm(width, c.norm_groups),
                nn.SiLU(),
            ]
            channels = width
        if c.downsampling_steps == 0:
            layers += [
                nn.Conv2d(channels, c.base_channels, 3, padding=1),
                norm(c.base_channels, c.norm_groups),
                nn.SiLU(),
            ]
            channels = c.base_channels
        self.body = nn.Sequential(*layers)
        self.out_channels = channels
        if c.variational:
            self.mu = nn.Conv2d(channels, c.latent_channels, 1)
            self.logvar = nn.Conv2d(channels, c.latent_channels, 1)
        else:
            self.to_latent = nn.Conv2d(channels, c.latent_channels, 1)

    @property
    def factor(self) -> int:
        """Spatial down-sampling factor."""
        return 2**self.config.downsampling_steps

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"latent": z}``, or ``{"mu", "logvar"}`` when variational."""
        return self.encode(x)

    def encode(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        check_image(x, self.config.in_channels, self.factor, f"{self.describe()}.encode")
        h = self.body(x)
        if self.config.variational:
            return {"mu": self.mu(h), "logvar": self.logvar(h).clamp(-30.0, 20.0)}
        return {"latent": self.to_latent(h)}

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
        size = max(8, 2 * self.factor)
        return (torch.randn(batch_size, self.config.in_channels, size, size),)
