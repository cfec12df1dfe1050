"""Small building blocks shared by the denoising networks (their input checks: ``inputs``)."""

from __future__ import annotations

import math

import torch

__all__ = ["sinusoidal_embedding"]


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
