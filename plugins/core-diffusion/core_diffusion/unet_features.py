"""``UNetFeatures``: what a U-Net's encoder path hands its decoder path."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch

from core.errors import ConfigError

__all__ = ["UNetFeatures"]


@dataclass(frozen=True)
class UNetFeatures:
    """The encoder path's outputs, the input of ``decode``.

    ``skips``: the features the skip connections carry, in encoder order (shallowest first);
    ``middle``: the middle block's output; ``embedding``: the time (plus label) embedding.
    """

    skips: tuple[torch.Tensor, ...]
    middle: torch.Tensor
    embedding: torch.Tensor

    def with_residuals(
        self,
        down_residuals: Sequence[torch.Tensor] | None = None,
        mid_residual: torch.Tensor | None = None,
        *,
        name: str = "unet",
    ) -> UNetFeatures:
        """These features with ``down_residuals`` added to the skips and ``mid_residual`` to
        the middle; each residual has its feature's shape."""
        skips = self.skips
        if down_residuals is not None:
            down_residuals = tuple(down_residuals)
            if len(down_residuals) != len(skips):
                raise ConfigError(
                    f"{name}: down_residuals must hold one tensor per skip connection "
                    f"({len(skips)}), got {len(down_residuals)}"
                )
            for i, (skip, residual) in enumerate(zip(skips, down_residuals)):
                _check_shape(name, f"down_residuals[{i}]", residual, skip)
            skips = tuple(s + r for s, r in zip(skips, down_residuals))
        middle = self.middle
        if mid_residual is not None:
            _check_shape(name, "mid_residual", mid_residual, middle)
            middle = middle + mid_residual
        return replace(self, skips=skips, middle=middle)

    def check_channels(self, name: str, skip_channels: Sequence[int], middle_channels: int) -> None:
        """Raise a clear error unless the skips and middle have a U-Net's channel counts."""
        got = tuple(s.shape[1] if s.ndim == 4 else None for s in self.skips)
        if got != tuple(skip_channels):
            raise ConfigError(
                f"{name}: features must have skips with channels {tuple(skip_channels)}, got {got}"
            )
        if self.middle.ndim != 4 or self.middle.shape[1] != middle_channels:
            raise ConfigError(
                f"{name}: the middle feature must have shape (B, {middle_channels}, H, W), "
                f"got {tuple(self.middle.shape)}"
            )


def _check_shape(name: str, what: str, residual: torch.Tensor, feature: torch.Tensor) -> None:
    if not isinstance(residual, torch.Tensor) or residual.shape != feature.shape:
        got = tuple(residual.shape) if isinstance(residual, torch.Tensor) else type(residual)
        raise ConfigError(
            f"{name}: {what} must have the shape of its feature {tuple(feature.shape)}, got {got}"
        )
