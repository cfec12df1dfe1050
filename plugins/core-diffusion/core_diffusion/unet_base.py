"""``UNetBase``: what core-diffusion's U-Nets (``unet``, ``ddpm-unet``) share.

A subclass builds its layers, sets ``downsample_factor``, ``skip_channels`` and
``middle_channels`` and gives ``encode`` and ``_decode``; the base gives ``forward``
(``decode(encode(...))`` with optional residuals), ``decode``'s feature check and
``example_inputs``. It adds no parameters: state-dict keys are the subclass's own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from core import BaseModel
from core_diffusion.layers import sinusoidal_embedding
from core_diffusion.unet_features import UNetFeatures

__all__ = ["UNetBase", "time_embedding"]


def time_embedding(
    path: nn.Module, t: torch.Tensor, y: torch.Tensor | None, dim: int, dtype: torch.dtype
) -> torch.Tensor:
    """``path.time_mlp`` of the sinusoidal embedding of ``t``, plus ``path.label_emb(y)``."""
    emb = path.time_mlp(sinusoidal_embedding(t, dim).to(dtype))
    if path.label_emb is not None and y is not None:
        emb = emb + path.label_emb(y)
    return emb


class UNetBase(BaseModel):
    """Denoising network ``forward(x, t, y=None, cond=None) -> prediction`` (x's shape).

    ``encode`` / ``decode`` run the encoder and decoder paths apart (``forward`` is
    ``decode(encode(...))``); ``skip_channels`` and ``middle_channels`` give their channels.
    """

    #: the network's name in error messages.
    network_name: ClassVar[str] = "unet"
    #: inputs' sides must be divisible by this.
    downsample_factor: int
    #: channels of each skip feature, in encoder order.
    skip_channels: tuple[int, ...]
    #: channels of the middle block's output.
    middle_channels: int
    #: width of the time embedding (what ``embedding_residual`` must have).
    time_dim: int

    #: ``encode(x, t, y=None, cond=None) -> UNetFeatures``, the encoder path, is the subclass's.
    encode: Callable[..., UNetFeatures]

    def _decode(self, features: UNetFeatures) -> torch.Tensor:
        raise NotImplementedError

    def decode(self, features: UNetFeatures) -> torch.Tensor:
        """The decoder path: the prediction from (possibly modified) encoder features."""
        features.check_channels(self.network_name, self.skip_channels, self.middle_channels)
        return self._decode(features)

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        y: torch.Tensor | None = None,
        cond: torch.Tensor | None = None,
        *,
        down_residuals: Sequence[torch.Tensor] | None = None,
        mid_residual: torch.Tensor | None = None,
        embedding_residual: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The prediction; ``down_residuals`` / ``mid_residual`` are added to the skip
        features / the middle block's output first (shapes as in ``encode``'s result), and
        ``embedding_residual`` (B, time_dim) to the time embedding (a second conditioning
        signal, e.g. a flow model's step size)."""
        features = self.encode(x, t, y, cond, embedding_residual=embedding_residual)
        if down_residuals is not None or mid_residual is not None:
            features = features.with_residuals(down_residuals, mid_residual, name=self.network_name)
        return self.decode(features)

    def example_inputs(self, batch_size: int = 2) -> tuple[Any, ...]:
        g = torch.Generator().manual_seed(0)
        c = self.config
        size = self.downsample_factor * 2
        x = torch.randn(batch_size, c.in_channels, size, size, generator=g)
        t = torch.randint(0, 1000, (batch_size,), generator=g)
        cond_channels = getattr(c, "cond_channels", 0)
        if not (c.num_classes or cond_channels):
            return x, t
        y = torch.randint(0, c.num_classes, (batch_size,), generator=g) if c.num_classes else None
        if not cond_channels:
            return x, t, y
        return x, t, y, torch.randn(batch_size, cond_channels, size, size, generator=g)
