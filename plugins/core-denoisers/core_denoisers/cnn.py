"""``cnn-denoiser`` and ``cnn-denoiser-large``: U-shaped CNNs with a time projection per block."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from core_diffusion.inputs import check_network_inputs
from torch import nn

from core import BaseModel
from core_denoisers.configs import CNNDenoiserConfig, CNNDenoiserLargeConfig
from core_denoisers.embedding import sinusoidal_embedding

__all__ = ["ConvBlock", "CNNDenoiser", "CNNDenoiserLarge"]


class ConvBlock(nn.Module):
    """conv3x3 -> BN -> ReLU, + Linear(time_dim, out)(t_emb) over H, W, conv3x3 -> BN -> ReLU.

    The down blocks, the bottleneck and the up blocks (with doubled inputs) all use it.
    """

    def __init__(self, in_channels: int, out_channels: int, time_dim: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.time_proj = nn.Linear(time_dim, out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor, t_emb: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.bn1(self.conv1(x)))
        h = h + self.time_proj(t_emb)[:, :, None, None]
        return F.relu(self.bn2(self.conv2(h)))


class CNNDenoiser(BaseModel):
    """Two-level CNN denoiser: down b->2b, 2b->4b, bottleneck 4b, up 4b->2b->b (sides % 4 == 0).

    ``num_classes > 0`` adds Embedding(num_classes, time_dim)(y) to the time embedding.
    """

    config_class = CNNDenoiserConfig
    model_type = "cnn-denoiser"
    #: number of down/up levels (max-pool / upsample pairs).
    levels: ClassVar[int] = 2

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        b, td = c.base_channels, c.time_dim
        self.init_conv = nn.Conv2d(c.in_channels, b, 3, padding=1)
        widths = [b * 2 ** (i + 1) for i in range(self.levels)]  # down outputs: 2b, 4b(, 8b)
        self.downs = nn.ModuleList(ConvBlock(i, o, td) for i, o in zip([b, *widths[:-1]], widths))
        self.bottleneck = ConvBlock(widths[-1], widths[-1], td)
        outs = [b * 2**i for i in range(self.levels)]  # up outputs, deepest last: b, 2b(, 4b)
        self.ups = nn.ModuleList(
            ConvBlock(2 * w, o, td) for w, o in zip(reversed(widths), reversed(outs))
        )
        self.out_conv = nn.Conv2d(b, c.out_channels or c.in_channels, 1)
        self.label_embedding = nn.Embedding(c.num_classes, td) if c.num_classes > 0 else None

    @property
    def multiple(self) -> int:
        """Image sides must be divisible by this (2 ** levels)."""
        return 2**self.levels

    def fsdp_blocks(self) -> list[nn.Module]:
        """The down, bottleneck and up blocks (``train.strategy: fsdp``'s units)."""
        return [*self.downs, self.bottleneck, *self.ups]

    def forward(self, x: torch.Tensor, t: Any, y: Any = None, **conditioning: Any) -> torch.Tensor:
        """Predicted noise, same shape as ``x`` (B, C, H, W); ``t`` (B,) 0-based timesteps."""
        t, y, _ = check_network_inputs(
            self.model_type, self.config, self.multiple, x, t, y, extra=conditioning
        )
        t_emb = sinusoidal_embedding(t, self.config.time_dim)
        if self.label_embedding is not None and y is not None:
            t_emb = t_emb + self.label_embedding(y)
        h = self.init_conv(x)
        skips = []
        for down in self.downs:
            h = down(h, t_emb)
            skips.append(h)
            h = F.max_pool2d(h, 2)
        h = self.bottleneck(h, t_emb)
        for up, skip in zip(self.ups, reversed(skips)):
            h = F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=True)
            h = up(torch.cat([h, skip], dim=1), t_emb)
        return self.out_conv(h)

    def example_inputs(self, batch_size: int = 2) -> tuple[Any, ...]:
        c, side = self.config, 2 * self.multiple
        x = torch.randn(batch_size, c.in_channels, side, side)
        t = torch.randint(0, 1000, (batch_size,))
        if c.num_classes:
            return (x, t, torch.randint(0, c.num_classes, (batch_size,)))
        return (x, t)


class CNNDenoiserLarge(CNNDenoiser):
    """Three-level CNN denoiser: adds down3 4b->8b, bottleneck 8b, up 8b->4b (sides % 8 == 0)."""

    config_class = CNNDenoiserLargeConfig
    model_type = "cnn-denoiser-large"
    levels: ClassVar[int] = 3
