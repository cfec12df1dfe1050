"""Sinusoidal time embedding (no parameters)."""

from __future__ import annotations

import math

import torch

__all__ = ["sinusoidal_embedding", "SinusoidalEmbedding"]


def sinusoidal_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """``[sin(t f), cos(t f)]`` with ``f_k = exp(-k ln(10^4) / (dim/2 - 1))``; shape (B, dim)."""
    half = dim // 2
    k = torch.arange(half, device=t.device, dtype=torch.float32)
    freqs = torch.exp(-k * (math.log(10_000.0) / max(half - 1, 1)))
    args = t.to(torch.float32)[:, None] * freqs[None, :]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


class SinusoidalEmbedding(torch.nn.Module):
    """Module form of :func:`sinusoidal_embedding`."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return sinusoidal_embedding(t, self.dim)
