"""Checks of the denoising-network inputs: one clear error instead of a torch shape error."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from core.errors import ConfigError

__all__ = ["check_timesteps", "check_labels", "check_conditioning"]


def check_timesteps(name: str, t: Any, batch: int, device: torch.device) -> torch.Tensor:
    """``t`` as a (B,) tensor: an int, a 0-d or (1,) tensor is broadcast to the batch."""
    if not isinstance(t, torch.Tensor):
        if isinstance(t, bool) or not isinstance(t, (int, float)):
            raise ConfigError(
                f"{name}: t must be a tensor of timesteps of shape ({batch},) or a number, "
                f"got {type(t).__name__}"
            )
        t = torch.tensor(t, device=device)
    if t.dim() == 0 or (t.dim() == 1 and t.shape[0] == 1 and batch != 1):
        t = t.reshape(1).expand(batch)
    if t.dim() != 1 or t.shape[0] != batch:
        raise ConfigError(
            f"{name}: t must have shape ({batch},) (one timestep per sample), got {tuple(t.shape)}"
        )
    if t.is_complex() or t.dtype == torch.bool:
        raise ConfigError(f"{name}: t must hold integer (or real) timesteps, got {t.dtype}")
    return t.to(device)


def check_labels(
    name: str, y: Any, num_classes: int, batch: int, device: torch.device | None = None
) -> torch.Tensor | None:
    """``y`` as a (B,) long tensor, or None (unconditional network, or no labels given)."""
    if num_classes == 0:
        if y is not None:
            raise ConfigError(
                f"{name}: got class labels y but the network is unconditional "
                "(num_classes: 0); build it with num_classes > 0 to condition on labels"
            )
        return None
    if y is None:  # no labels: the label embedding is skipped (as core-diffusion's U-Nets do)
        return None
    if not isinstance(y, torch.Tensor):
        y = torch.as_tensor(y)
    if y.dim() == 0:
        y = y.reshape(1).expand(batch)
    if y.dim() != 1 or y.shape[0] != batch:
        raise ConfigError(f"{name}: y must have shape ({batch},), got {tuple(y.shape)}")
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise ConfigError(f"{name}: y must hold integer class labels, got {y.dtype}")
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ConfigError(
            f"{name}: class labels must be in [0, {num_classes - 1}], "
            f"got values in [{int(y.min())}, {int(y.max())}]"
        )
    return y.long() if device is None else y.long().to(device)


def check_conditioning(name: str, conditioning: Mapping[str, Any]) -> None:
    """Reject conditioning keywords the network does not understand."""
    if conditioning:
        raise ConfigError(
            f"{name}: unsupported conditioning keyword(s) {', '.join(sorted(conditioning))}; "
            "this network accepts only y (class labels, when num_classes > 0)"
        )
