"""Checks of a denoising network's inputs: one clear ``ConfigError`` instead of a torch error.

Every denoising network of core-diffusion, core-denoisers and core-autoencoder checks its
inputs here, with one strictness:

- ``x``: a tensor (B, channels, H, W), sides divisible by the network's downsampling factor
  (or, for vector networks, checked by the network itself).
- ``t``: a number or a tensor of shape (), (1,) or (B,) holding integer or real timesteps; it
  is broadcast to (B,) on x's device. Booleans, complex numbers and other types are refused.
- ``y``: class labels, only for a network with classes; an integer tensor (or number) of
  shape () or (B,) with values in [0, num_classes), or [0, num_classes] where the network has
  a null class (index num_classes); returned as a (B,) long tensor on x's device. ``None``
  skips the label embedding.
- ``cond``: a conditioning image (B, cond_channels, H, W), required exactly when the network
  has ``cond_channels > 0``; returned in x's dtype.
- any other conditioning keyword is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from core.errors import ConfigError

__all__ = [
    "check_image_input",
    "check_timesteps",
    "check_labels",
    "check_conditioning",
    "check_network_inputs",
]


def check_image_input(name: str, x: Any, channels: int, factor: int) -> None:
    """Raise unless ``x`` is (B, channels, H, W) with H and W divisible by ``factor``."""
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != channels:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ConfigError(
            f"{name}: x must have shape (batch, {channels}, height, width), got {shape}"
        )
    h, w = x.shape[-2:]
    if h % factor or w % factor:
        raise ConfigError(
            f"{name}: image sides must be divisible by {factor} (the network's downsampling "
            f"factor), got {h}x{w}; resize or pad the images (e.g. to "
            f"{-(-h // factor) * factor}x{-(-w // factor) * factor})"
        )


def check_timesteps(name: str, t: Any, x: torch.Tensor) -> torch.Tensor:
    """``t`` as a (B,) tensor on x's device: a number, a 0-d or (1,) tensor is broadcast."""
    batch = x.shape[0]
    if not isinstance(t, torch.Tensor):
        if isinstance(t, bool) or not isinstance(t, (int, float)):
            raise ConfigError(
                f"{name}: t must be a tensor of timesteps of shape ({batch},) or a number, "
                f"got {type(t).__name__}"
            )
        t = torch.tensor(t, device=x.device)
    if t.dim() == 0 or (t.dim() == 1 and t.shape[0] == 1 and batch != 1):
        t = t.reshape(1).expand(batch)
    if t.dim() != 1 or t.shape[0] != batch:
        raise ConfigError(
            f"{name}: t must have shape ({batch},) (one timestep per sample), got {tuple(t.shape)}"
        )
    if t.is_complex() or t.dtype == torch.bool:
        raise ConfigError(f"{name}: t must hold integer (or real) timesteps, got {t.dtype}")
    return t.to(x.device)


def check_labels(
    name: str, y: Any, num_classes: int, x: torch.Tensor, *, null_class: bool = False
) -> torch.Tensor | None:
    """``y`` as a (B,) long tensor on x's device, or None (no labels given)."""
    if y is None:  # no labels: the label embedding is skipped
        return None
    if num_classes == 0:
        raise ConfigError(
            f"{name}: got class labels y but the network is unconditional (num_classes=0); "
            "build it with num_classes > 0 to condition on labels"
        )
    batch = x.shape[0]
    if not isinstance(y, torch.Tensor):
        y = torch.as_tensor(y)
    if y.dim() == 0:
        y = y.reshape(1).expand(batch)
    if y.dim() != 1 or y.shape[0] != batch:
        raise ConfigError(f"{name}: y must have shape ({batch},), got {tuple(y.shape)}")
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise ConfigError(f"{name}: y must hold integer class labels, got {y.dtype}")
    top = num_classes if null_class else num_classes - 1
    if y.numel() and not torch.compiler.is_exporting():  # export: ranges go to the manifest
        low, high = torch.aminmax(y)
        if int(low) < 0 or int(high) > top:
            null = f" ({num_classes} is the null class)" if null_class else ""
            raise ConfigError(
                f"{name}: class labels must be in [0, {top}]{null}, "
                f"got values in [{int(low)}, {int(high)}]"
            )
    return y.to(device=x.device, dtype=torch.long)


def check_conditioning(
    name: str,
    x: torch.Tensor,
    cond: Any = None,
    cond_channels: int = 0,
    extra: Mapping[str, Any] | None = None,
) -> torch.Tensor | None:
    """``cond`` checked against ``cond_channels`` (returned in x's dtype, or None); any
    ``extra`` conditioning keyword is refused."""
    if extra:
        takes = "y (class labels)" + (", cond (a conditioning image)" if cond_channels else "")
        raise ConfigError(
            f"{name}: unsupported conditioning keyword(s) {', '.join(sorted(extra))}; "
            f"this network accepts only {takes}"
        )
    if cond is None:
        if cond_channels:
            raise ConfigError(
                f"{name}: the network has cond_channels={cond_channels}; pass cond=<(B, "
                f"{cond_channels}, H, W) image>"
            )
        return None
    if not cond_channels:
        raise ConfigError(
            f"{name}: got a conditioning image cond, but the network has cond_channels=0"
        )
    expected = (x.shape[0], cond_channels, *x.shape[-2:])
    if not isinstance(cond, torch.Tensor) or tuple(cond.shape) != expected:
        got = tuple(cond.shape) if isinstance(cond, torch.Tensor) else type(cond).__name__
        raise ConfigError(f"{name}: cond must have shape {expected}, got {got}")
    return cond.to(x.dtype)


def check_network_inputs(
    name: str,
    config: Any,
    factor: int,
    x: Any,
    t: Any,
    y: Any = None,
    cond: Any = None,
    extra: Mapping[str, Any] | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """An image network's ``(t, y, cond)`` checked against its ``config`` (``in_channels``,
    ``num_classes``, optional ``null_class`` and ``cond_channels``) and downsampling factor;
    ``extra`` holds any other conditioning keywords given (refused)."""
    check_image_input(name, x, config.in_channels, factor)
    cond = check_conditioning(name, x, cond, getattr(config, "cond_channels", 0), extra)
    t = check_timesteps(name, t, x)
    labels = check_labels(
        name, y, config.num_classes, x, null_class=bool(getattr(config, "null_class", False))
    )
    return t, labels, cond
