"""Small building blocks shared by the denoising networks."""

from __future__ import annotations

import math

import torch

from core.errors import ConfigError

__all__ = ["sinusoidal_embedding", "check_timesteps", "check_image_input"]


def sinusoidal_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """[sin(t f), cos(t f)] with f_k = exp(-k ln(10000) / (half - 1)); shape (B, dim)."""
    half = dim // 2
    k = torch.arange(half, device=t.device, dtype=torch.float32)
    freqs = torch.exp(-math.log(10000.0) * k / max(half - 1, 1))
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.sin(args), torch.cos(args)], dim=1)
    if dim % 2:
        emb = torch.nn.functional.pad(emb, (0, 1))
    return emb


def check_timesteps(name: str, x: torch.Tensor, t: torch.Tensor | int | float) -> torch.Tensor:
    """``t`` as a (B,) tensor on x's device; a scalar is broadcast."""
    if not torch.is_tensor(t):
        t = torch.full((x.shape[0],), t, device=x.device)
    if t.ndim == 0:
        t = t.expand(x.shape[0])
    if t.shape != (x.shape[0],):
        raise ConfigError(
            f"{name}: t must have shape ({x.shape[0]},) (one timestep per sample), "
            f"got {tuple(t.shape)}"
        )
    return t.to(x.device)


def check_image_input(name: str, x: torch.Tensor, channels: int, factor: int) -> None:
    """Raise a clear error unless x is (B, channels, H, W) with H, W divisible by factor."""
    if x.ndim != 4 or x.shape[1] != channels:
        raise ConfigError(
            f"{name}: expected input of shape (B, {channels}, H, W), got {tuple(x.shape)}"
        )
    h, w = x.shape[-2:]
    if h % factor or w % factor:
        raise ConfigError(
            f"{name}: input size {h}x{w} is not divisible by {factor}, the network's "
            "downsampling factor"
        )


def check_conditioning(
    name: str,
    y: torch.Tensor | None,
    cond: torch.Tensor | None,
    num_classes: int,
    cond_channels: int,
    batch: int,
) -> None:
    """Raise a clear error for a conditioning keyword the network does not take (or lacks)."""
    if y is not None and num_classes == 0:
        raise ConfigError(f"{name}: got class labels y, but the network has num_classes=0")
    if cond is not None and cond_channels == 0:
        raise ConfigError(
            f"{name}: got a conditioning image cond, but the network has cond_channels=0"
        )
    if cond is None and cond_channels > 0:
        raise ConfigError(
            f"{name}: the network has cond_channels={cond_channels}; pass cond=<(B, "
            f"{cond_channels}, H, W) image>"
        )
    if y is not None and (y.shape != (batch,) or y.dtype.is_floating_point):
        raise ConfigError(
            f"{name}: y must be an integer tensor of shape ({batch},), got "
            f"{tuple(y.shape)} {y.dtype}"
        )
