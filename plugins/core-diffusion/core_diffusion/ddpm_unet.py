"""The Frameworm DDPM U-Net: three levels, ReLU residual blocks, max-pool down, nearest up."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from core_diffusion.configs import DDPMUNetConfig
from core_diffusion.inputs import check_network_inputs
from core_diffusion.unet_base import UNetBase, time_embedding
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


class DDPMUNet(UNetBase):
    """Denoising network ``forward(x, t, y=None) -> eps`` (same shape as x); see ``UNetBase``."""

    config_class = DDPMUNetConfig
    network_name = "ddpm-unet"
    downsample_factor = 8

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        b, td, cin = c.base_channels, c.time_dim, c.in_channels
        self.time_dim = td
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
        self.skip_channels = (b, 2 * b, 4 * b)
        self.middle_channels = 4 * b

    def fsdp_blocks(self) -> list[nn.Module]:
        """The down, bottleneck and up residual blocks (``train.strategy: fsdp``'s units)."""
        return [self.d1, self.d2, self.d3, self.bottleneck, self.up1, self.up2, self.up3]

    def encode(
        self,
        x: torch.Tensor,
        t: Any,
        y: Any = None,
        cond: Any = None,
        *,
        embedding_residual: torch.Tensor | None = None,
    ) -> UNetFeatures:
        """The encoder path: skip features, the bottleneck's output and the embedding
        (``embedding_residual`` (B, time_dim), when given, is added to it)."""
        t, y, _ = check_network_inputs(
            self.network_name, self.config, self.downsample_factor, x, t, y, cond
        )
        emb = time_embedding(self, t, y, self.config.time_dim, x.dtype)
        if embedding_residual is not None:
            emb = emb + embedding_residual
        h1 = self.d1(x, emb)
        h2 = self.d2(F.max_pool2d(h1, 2), emb)
        h3 = self.d3(F.max_pool2d(h2, 2), emb)
        h = self.bottleneck(F.max_pool2d(h3, 2), emb)
        return UNetFeatures(skips=(h1, h2, h3), middle=h, embedding=emb)

    def _decode(self, features: UNetFeatures) -> torch.Tensor:
        (h1, h2, h3), h, emb = features.skips, features.middle, features.embedding
        h = self.up1(torch.cat([F.interpolate(h, scale_factor=2.0, mode="nearest"), h3], 1), emb)
        h = self.up2(torch.cat([F.interpolate(h, scale_factor=2.0, mode="nearest"), h2], 1), emb)
        h = self.up3(torch.cat([F.interpolate(h, scale_factor=2.0, mode="nearest"), h1], 1), emb)
        return self.out(h)
