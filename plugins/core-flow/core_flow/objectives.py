"""Few-step training targets for the average velocity u(z_t, r, t) over [r, t].

- MeanFlow (Geng et al. 2025): u satisfies ``u = v - (t - r) du/dt`` with du/dt = v . d_z u +
  d_t u, the total derivative along the path; du/dt is one Jacobian-vector product with
  tangents (v, 1, 0) for (z, t, r).
- Shortcut models (Frans et al. 2025): one step over [r, t] equals two half steps, so the
  target of u(z_t, r, t) is the mean of u over [m, t] and, from where that half step lands,
  over [r, m], with m = (t + r) / 2 (no gradient through the target).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["sample_times", "mean_flow_errors", "shortcut_errors", "interval_embedding"]

AverageVelocity = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def sample_times(
    n: int,
    *,
    distribution: str,
    logit_mean: float,
    logit_std: float,
    interval_share: float,
    device: torch.device,
    dtype: torch.dtype,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(t, r)``, each (n,): t one draw per row (uniform or logit-normal); a share
    ``interval_share`` of the rows draws a second time, and r, t are the smaller and larger."""

    def draw() -> torch.Tensor:
        if distribution == "logit-normal":
            return torch.sigmoid(logit_mean + logit_std * torch.randn(n, device=device)).to(dtype)
        return torch.rand(n, device=device, dtype=dtype)

    t = draw()
    if interval_share == 0:
        return t, t
    other = draw()
    interval = torch.rand(n, device=device) < interval_share
    return torch.where(interval, torch.maximum(t, other), t), torch.where(
        interval, torch.minimum(t, other), t
    )


def mean_flow_errors(
    average_velocity: AverageVelocity,
    z: torch.Tensor,
    v: torch.Tensor,
    t: torch.Tensor,
    r: torch.Tensor,
) -> torch.Tensor:
    """``u(z, r, t) - sg(v - (t - r) du/dt)`` per element (rows with r = t: ``u - v``)."""
    u, dudt = torch.func.jvp(
        average_velocity, (z, t, r), (v, torch.ones_like(t), torch.zeros_like(r))
    )
    width = (t - r).view(-1, *([1] * (z.ndim - 1)))
    target = (v - width * dudt).detach()
    return u.float() - target.float()


def shortcut_errors(
    average_velocity: AverageVelocity,
    z: torch.Tensor,
    t: torch.Tensor,
    r: torch.Tensor,
) -> torch.Tensor:
    """``u(z, r, t) - sg((u(z, m, t) + u(z', r, m)) / 2)`` per element, m = (t + r) / 2 and
    z' = z - (t - m) u(z, m, t) the half step's landing point."""
    middle = (t + r) / 2
    half = (t - middle).view(-1, *([1] * (z.ndim - 1)))
    with torch.no_grad():
        first = average_velocity(z, t, middle)
        second = average_velocity(z - half * first, middle, r)
        target = (first + second) / 2
    return average_velocity(z, t, r).float() - target.float()


def interval_embedding(width: int) -> torch.nn.Module:
    """The MLP that embeds the interval t - r (its sinusoidal features) into the network's
    time-embedding width; the last layer starts at zero, so training starts as flow matching."""
    mlp = torch.nn.Sequential(
        torch.nn.Linear(width, width), torch.nn.SiLU(), torch.nn.Linear(width, width)
    )
    torch.nn.init.zeros_(mlp[2].weight)
    torch.nn.init.zeros_(mlp[2].bias)
    return mlp
