"""The Frameworm DDPM U-Net: three levels, ReLU residual blocks, max-pool down, nearest up."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from core import BaseModel
from core_diffusion.configs import DDPMUNetConfig
from core_diffusion.layers import (
    check_conditioning,
    check_image_input,
    check_timesteps,
    sinusoidal_embedding,
)
from core_diffusion.unet_features import UNetFeatures

__all__ = ["DDPMUNet", "ReluResBlock"]


class ReluResBlock(nn.Module):
    """conv3x3(relu(x)) + Linear(t) -> conv3x3(relu(h)) + skip(x)."""

    def __init__(self, cin: int, cout: int, time_dim: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time = nn.Linear(time_dim, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, t_emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.relu(x))
        h = h + self.time(F.relu(t_emb))[:, :, None, None]
        h = self.conv2(F.relu(h))
        return h + self.skip(x)


class DDPMUNet(BaseModel):
    """Denoising network ``forward(x, t, y=None) -> eps`` (same shape as x).

    ``encode`` / ``decode`` run the encoder and decoder paths apart (``forward`` is
    ``decode(encode(...))``); ``skip_channels`` and ``middle_channels`` give their channels.
    """

    config_class = DDPMUNetConfig
    #: inputs must be divisible by this.
    downsample_factor = 8

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        b, td, cin = c.base_channels, c.time_dim, c.in_channels
        self.time_mlp = nn.Sequential(nn.Linear(td, 4 * td), nn.ReLU(), nn.Linear(4 * td, td))
        classes = c.num_classes + int(c.null_class)  # the null class is index num_classes
        self.label_emb = nn.Embedding(classes, td) if c.num_classes else None
        self.d1 = ReluResBlock(cin, b, td)
        self.d2 = ReluResBlock(b, 2 * b, td)
        self.d3 = ReluResBlock(2 * b, 4 * b, td)
        self.bottleneck = ReluResBlock(4 * b, 4 * b, td)
        self.up1 = ReluResBlock(8 * b, 2 * b, td)
        self.up2 = ReluResBlock(4 * b, b, td)
        self.up3 = ReluResBlock(2 * b, b, td)
        self.out = nn.Conv2d(b, c.out_channels or cin, 1)
        #: channels of each skip feature, in encoder order.
        self.skip_channels: tuple[int, ...] = (b, 2 * b, 4 * b)
        #: channels of the middle block's output.
        self.middle_channels = 4 * b

    def encode(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        y: torch.Tensor | None = None,
        cond: torch.Tensor | None = None,
    ) -> UNetFeatures:
        """The encoder path: skip features, the bottleneck's output and the embedding."""
        c = self.config
        check_image_input("ddpm-unet", x, c.in_channels, self.downsample_factor)
        t = check_timesteps("ddpm-unet", x, t)
        check_conditioning("ddpm-unet", y, cond, c.num_classes, 0, x.shape[0])
        emb = self.time_mlp(sinusoidal_embedding(t, c.time_dim).to(x.dtype))
        if self.label_emb is not None and y is not None:
            emb = emb + self.label_emb(y)
        h1 = self.d1(x, emb)
        h2 = self.d2(F.max_pool2d(h1, 2), emb)
        h3 = self.d3(F.max_pool2d(h2, 2), emb)
        h = self.bottleneck(F.max_pool2d(h3, 2), emb)
        return UNetFeatures(skips=(h1, h2, h3), middle=h, embedding=emb)

    def decode(self, features: UNetFeatures) -> torch.Tensor:
        """The decoder path: the prediction from (possibly modified) encoder features."""
        features.check_channels("ddpm-unet", self.skip_channels, self.middle_channels)
        (h1, h2, h3), h, emb = features.skips, features.middle, features.embedding
        h = self.up1(torch.cat([F.interpolate(h, scale_factor=2.0, mode="nearest"), h3], 1), emb)
        h = self.up2(torch.cat([F.interpolate(h, scale_factor=2.0, mode="nearest"), h2], 1), emb)
        h = self.up3(torch.cat([F.interpolate(h, scale_factor=2.0, mode="nearest"), h1], 1), emb)
        return self.out(h)

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        y: torch.Tensor | None = None,
        cond: torch.Tensor | None = None,
        *,
        down_residuals: Sequence[torch.Tensor] | None = None,
        mid_residual: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The prediction; ``down_residuals`` / ``mid_residual`` are added to the skip
        features / the bottleneck's output first (shapes as in ``encode``'s result)."""
        features = self.encode(x, t, y, cond)
        if down_residuals is not None or mid_residual is not None:
            features = features.with_residuals(down_residuals, mid_residual, name="ddpm-unet")
        return self.decode(features)

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
        g = torch.Generator().manual_seed(0)
        x = torch.randn(batch_size, self.config.in_channels, 16, 16, generator=g)
        t = torch.randint(0, 1000, (batch_size,), generator=g)
        if not self.config.num_classes:
            return x, t
        return x, t, torch.randint(0, self.config.num_classes, (batch_size,), generator=g)
