"""Differentiable augmentation (DiffAugment, Zhao et al. 2020) for GAN discriminators.

The same policy transforms real and generated images, each image with its own random draw,
before the discriminator sees them; every transform is differentiable in the images, so the
generator learns through it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import get_args

import torch
import torch.nn.functional as F

from core_gan.configs import AUGMENTATION_NAMES

__all__ = ["AUGMENTATIONS", "diff_augment"]


def _color(x: torch.Tensor) -> torch.Tensor:
    """Brightness (+U(-0.5, 0.5)), saturation (x U(0, 2) around the pixel's channel mean) and
    contrast (x U(0.5, 1.5) around the image mean), per image."""
    shape = (x.shape[0], 1, 1, 1)
    x = x + (torch.rand(shape, dtype=x.dtype, device=x.device) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (torch.rand(shape, dtype=x.dtype, device=x.device) * 2.0) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (torch.rand(shape, dtype=x.dtype, device=x.device) + 0.5) + mean


def _translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by whole pixels, up to ``ratio`` of its side each way, zero-filled."""
    batch, _, height, width = x.shape
    limits = torch.tensor([width, height], device=x.device) * ratio
    shifts = torch.round((torch.rand(batch, 2, device=x.device) * 2 - 1) * limits)
    padded = F.pad(x, (width, width, height, height))  # zeros wherever a shift reaches
    rows = torch.arange(height, device=x.device)[None, :] + height - shifts[:, 1:].long()
    cols = torch.arange(width, device=x.device)[None, :] + width - shifts[:, :1].long()
    index = torch.arange(batch, device=x.device)[:, None, None]
    picked = padded.permute(0, 2, 3, 1)[index, rows[:, :, None], cols[:, None, :]]
    return picked.permute(0, 3, 1, 2)


def _cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero one square of ``ratio`` times the side at a random place in each image."""
    batch, _, height, width = x.shape
    size_h, size_w = int(height * ratio + 0.5), int(width * ratio + 0.5)
    top = torch.randint(0, height + (1 - size_h % 2), (batch, 1), device=x.device)
    left = torch.randint(0, width + (1 - size_w % 2), (batch, 1), device=x.device)
    rows = torch.arange(height, device=x.device)[None, :] - (top - size_h // 2)
    cols = torch.arange(width, device=x.device)[None, :] - (left - size_w // 2)
    inside_rows = (rows >= 0) & (rows < size_h)
    inside_cols = (cols >= 0) & (cols < size_w)
    keep = ~(inside_rows[:, :, None] & inside_cols[:, None, :])
    return x * keep[:, None].to(x.dtype)


#: DiffAugment's transforms by name, applied in this order whatever order a config lists them.
AUGMENTATIONS = dict(zip(get_args(AUGMENTATION_NAMES), (_color, _translation, _cutout)))


def diff_augment(x: torch.Tensor, policy: Sequence[str]) -> torch.Tensor:
    """``x`` ``(B, C, H, W)`` through the named transforms of ``AUGMENTATIONS``, each image
    drawn on its own (the global torch RNG)."""
    for name, transform in AUGMENTATIONS.items():
        if name in policy:
            x = transform(x)
    return x
