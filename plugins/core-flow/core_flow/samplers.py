"""ODE samplers of flow models: integrate dx/dt = v(x, t) from t = 1 (noise) to t = 0 (data).

A sampler is called as::

    sampler(velocity, shape, *, generator=None, device=None, dtype=torch.float32,
            x_T=None, steps=None, shift=None, **conditioning) -> Tensor

``velocity(x, t, r, **conditioning)`` is the flow model with ``t`` and ``r`` float tensors
(B,) in [0, 1], r <= t: the average velocity over [r, t] for a mean-flow model, the velocity at
t for a flow-matching one (it ignores r). Euler asks for the step's interval (exact for a
perfect mean-flow model); Heun and midpoint ask for r = t. ``steps`` and ``shift`` override the
config for that call; every other keyword is conditioning. A new solver subclasses
:class:`FlowSampler` and implements :meth:`FlowSampler.step`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from core.component import Component
from core.errors import ConfigError

from core_flow.configs import FlowSamplerConfig

__all__ = ["FlowSampler", "EulerSampler", "HeunSampler", "MidpointSampler", "time_grid"]

#: ``velocity(x, t, r=t)``: the (average) velocity of a step's state, times as floats.
Velocity = Callable[..., torch.Tensor]


def time_grid(steps: int, shift: float = 1.0) -> list[float]:
    """``steps + 1`` times from 1 down to 0: uniform u, then t = s u / (1 + (s - 1) u)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"flow sampler: steps must be an integer >= 1, got {steps!r}")
    if not shift > 0:
        raise ConfigError(f"flow sampler: shift must be > 0, got {shift!r}")
    grid = [1.0 - i / steps for i in range(steps + 1)]
    grid = [shift * u / (1 + (shift - 1) * u) for u in grid]
    grid[0], grid[-1] = 1.0, 0.0
    return grid


class FlowSampler(Component):
    """Base of the flow samplers: options, the time grid, the starting noise and the NFE count."""

    kind = "sampler"
    config_section = "sampler"
    config_class = FlowSamplerConfig
    #: network evaluations per step.
    evaluations_per_step = 1

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        self.config = self.resolve_config(config, **overrides)
        #: network evaluations of the last call.
        self.last_nfe = 0

    def step(self, velocity: Velocity, x: torch.Tensor, t: float, s: float) -> torch.Tensor:
        """x at time s from x at time t (s < t)."""
        raise NotImplementedError

    def __call__(
        self,
        model_fn: Callable[..., torch.Tensor],
        shape: tuple[int, ...] | list[int] | torch.Size,
        *schedule: Any,
        generator: torch.Generator | None = None,
        device: Any = None,
        dtype: torch.dtype = torch.float32,
        x_T: torch.Tensor | None = None,
        progress: bool = False,
        **kwargs: Any,
    ) -> torch.Tensor:
        """Samples of ``shape`` from noise (or from ``x_T``, the state at t = 1)."""
        name = type(self).__name__
        if schedule:
            raise ConfigError(
                f"{name} integrates a flow model's velocity and takes no noise schedule; a "
                "diffusion model takes its own samplers (ddpm, ddim, dpm-solver++, ...)"
            )
        options = {k: kwargs.pop(k) for k in list(kwargs) if k in type(self.config).model_fields}
        config = self.resolve_config({**self.config.model_dump(), **options})
        grid = time_grid(config.steps or 20, config.shift)
        shape = tuple(int(s) for s in shape)
        if x_T is not None:
            if tuple(x_T.shape) != shape:
                raise ConfigError(f"x_T has shape {tuple(x_T.shape)}, expected {shape}")
            x = x_T.to(device=device or x_T.device, dtype=dtype)
        else:
            gen_device = generator.device if generator is not None else device
            x = torch.randn(shape, generator=generator, device=gen_device, dtype=dtype)
            x = x.to(device)
        self.last_nfe = 0

        def velocity(x: torch.Tensor, t: float, r: float | None = None) -> torch.Tensor:
            tt = torch.full((shape[0],), t, device=x.device, dtype=x.dtype)
            rr = tt if r is None else torch.full_like(tt, r)
            out = model_fn(x, tt, rr, **kwargs)
            self.last_nfe += 1
            if out.shape != x.shape:
                raise ConfigError(
                    f"the network returned shape {tuple(out.shape)} for input {tuple(x.shape)}"
                )
            return out.to(x.dtype)

        with torch.no_grad():
            for t, s in zip(grid[:-1], grid[1:], strict=True):
                x = self.step(velocity, x, t, s)
        return x


class EulerSampler(FlowSampler):
    """x_s = x_t + (s - t) u(x_t, s, t): the average velocity over the step (a flow-matching
    model: the velocity at t)."""

    def step(self, velocity: Velocity, x: torch.Tensor, t: float, s: float) -> torch.Tensor:
        return x + (s - t) * velocity(x, t, s)


class HeunSampler(FlowSampler):
    """Heun's method: the mean of the velocities at both ends of an Euler step."""

    evaluations_per_step = 2

    def step(self, velocity: Velocity, x: torch.Tensor, t: float, s: float) -> torch.Tensor:
        v = velocity(x, t)
        v_end = velocity(x + (s - t) * v, s)
        return x + (s - t) * (v + v_end) / 2


class MidpointSampler(FlowSampler):
    """The explicit midpoint method: the velocity half an Euler step in."""

    evaluations_per_step = 2

    def step(self, velocity: Velocity, x: torch.Tensor, t: float, s: float) -> torch.Tensor:
        half = (t + s) / 2
        return x + (s - t) * velocity(x + (half - t) * velocity(x, t), half)
