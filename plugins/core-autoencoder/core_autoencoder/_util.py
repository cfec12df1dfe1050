"""Small helpers shared by the modules of this plugin."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from core.errors import ConfigError

__all__ = ["norm", "check_image", "as_targets", "freeze"]


def norm(channels: int, groups: int) -> nn.GroupNorm:
    """GroupNorm with the largest group count dividing ``channels`` up to ``groups``."""
    return nn.GroupNorm(math.gcd(channels, groups), channels)


def check_image(x: Any, channels: int, multiple: int, who: str, what: str = "input") -> None:
    """Raise a ConfigError unless ``x`` is (B, channels, H, W) with H, W multiples of ``multiple``."""
    if not isinstance(x, torch.Tensor):
        raise ConfigError(f"{who}: {what} must be a tensor, got {type(x).__name__}")
    if x.dim() != 4 or x.shape[1] != channels:
        raise ConfigError(
            f"{who}: expected {what} of shape (batch, {channels}, H, W), got {tuple(x.shape)}"
        )
    if x.shape[2] % multiple or x.shape[3] % multiple:
        raise ConfigError(
            f"{who}: {what} height and width must be multiples of {multiple}, "
            f"got {tuple(x.shape[2:])}"
        )


def as_targets(batch: Any) -> dict[str, Any]:
    """A batch as a dict: tensor -> {image}, (x, y) -> {image, label}, dict -> itself."""
    if isinstance(batch, torch.Tensor):
        return {"image": batch}
    if isinstance(batch, Mapping):
        out = dict(batch)
        if "image" not in out:
            for alias in ("x", "input"):
                if alias in out:
                    out["image"] = out[alias]
                    break
        if "label" not in out and "y" in out:
            out["label"] = out["y"]
        return out
    if isinstance(batch, (list, tuple)) and batch:
        out = {"image": batch[0]}
        if len(batch) > 1:
            out["label"] = batch[1]
        return out
    from core.errors import DataError

    raise DataError(f"cannot read a batch of type {type(batch).__name__}")


def freeze(module: nn.Module) -> nn.Module:
    """Stop gradients into ``module``'s parameters."""
    for p in module.parameters():
        p.requires_grad_(False)
    return module
