"""Sliced-Wasserstein distance between point clouds (for the 2-D examples)."""

from __future__ import annotations

import torch

__all__ = ["sliced_wasserstein"]


def sliced_wasserstein(
    a: torch.Tensor, b: torch.Tensor, projections: int = 512, seed: int = 0
) -> float:
    """Mean over random unit directions of the 1-D Wasserstein-1 distance of the projections.

    ``a`` and ``b`` are (N, D) and (M, D); unequal sizes are compared through quantiles.
    """
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(
            f"point clouds must be (N, D) and (M, D) with the same D, got "
            f"{tuple(a.shape)} and {tuple(b.shape)}"
        )
    generator = torch.Generator().manual_seed(seed)
    dirs = torch.randn(a.shape[1], projections, generator=generator, dtype=torch.float64)
    dirs = dirs / dirs.norm(dim=0, keepdim=True)
    pa = (a.double().cpu() @ dirs).sort(dim=0).values
    pb = (b.double().cpu() @ dirs).sort(dim=0).values
    if pa.shape[0] != pb.shape[0]:
        n = max(pa.shape[0], pb.shape[0])
        q = (torch.arange(n, dtype=torch.float64) + 0.5) / n
        pa = torch.quantile(pa, q, dim=0)
        pb = torch.quantile(pb, q, dim=0)
    return float((pa - pb).abs().mean())
