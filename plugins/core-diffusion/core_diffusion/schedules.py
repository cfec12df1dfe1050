"""Noise schedules: betas, alphas and alpha_bars of a discrete diffusion process."""

from __future__ import annotations

import math
from typing import Any

import torch

from core import BaseModel
from core.errors import ConfigError
from core_diffusion.configs import (
    CosineScheduleConfig,
    LinearScheduleConfig,
    QuadraticScheduleConfig,
    SigmoidScheduleConfig,
)

__all__ = [
    "NoiseSchedule",
    "LinearSchedule",
    "CosineSchedule",
    "QuadraticSchedule",
    "SigmoidSchedule",
    "linear_betas",
    "quadratic_betas",
    "sigmoid_betas",
    "cosine_betas",
]


def linear_betas(timesteps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    return torch.linspace(beta_start, beta_end, timesteps, dtype=torch.float64)


def quadratic_betas(
    timesteps: int, beta_start: float = 1e-4, beta_end: float = 0.02
) -> torch.Tensor:
    return torch.linspace(beta_start**0.5, beta_end**0.5, timesteps, dtype=torch.float64) ** 2


def sigmoid_betas(
    timesteps: int, beta_start: float = 1e-4, beta_end: float = 0.02, width: float = 6.0
) -> torch.Tensor:
    grid = torch.linspace(-width, width, timesteps, dtype=torch.float64)
    return torch.sigmoid(grid) * (beta_end - beta_start) + beta_start


def cosine_betas(timesteps: int, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    steps = torch.arange(timesteps + 1, dtype=torch.float64)
    f = torch.cos((steps / timesteps + s) / (1 + s) * math.pi / 2) ** 2
    alpha_bar = f / f[0]
    return (1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=max_beta)


class NoiseSchedule(BaseModel):
    """A discrete noise schedule; ``forward`` is ``add_noise``.

    Exposes ``betas``, ``alphas``, ``alpha_bars`` (float32 buffers of length T, not saved:
    they follow from the config) and ``timesteps`` (T).
    """

    kind = "noise-schedule"
    config_section = "noise_schedule"

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        betas = self.make_betas().to(torch.float64)
        if not bool(((betas > 0) & (betas < 1)).all()):
            raise ConfigError(f"{self.describe()}: betas must lie in (0, 1)")
        alphas = 1 - betas
        alpha_bars = torch.cumprod(alphas, 0)
        self.register_buffer("betas", betas.float(), persistent=False)
        self.register_buffer("alphas", alphas.float(), persistent=False)
        self.register_buffer("alpha_bars", alpha_bars.float(), persistent=False)
        #: float64 copy for samplers' scalar coefficients.
        self.alpha_bars_f64 = alpha_bars

    def make_betas(self) -> torch.Tensor:
        raise NotImplementedError

    @property
    def timesteps(self) -> int:
        return int(self.config.timesteps)

    @property
    def num_steps(self) -> int:
        return self.timesteps

    def __len__(self) -> int:
        return self.timesteps

    def _gather(self, values: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(t, device=values.device).long()
        if t.ndim == 0:
            t = t.expand(like.shape[0])
        if t.shape != (like.shape[0],):
            raise ConfigError(
                f"{self.describe()}: t must have shape ({like.shape[0]},), got {tuple(t.shape)}"
            )
        if bool(((t < 0) | (t >= self.timesteps)).any()):
            raise ConfigError(
                f"{self.describe()}: timesteps must lie in [0, {self.timesteps - 1}], "
                f"got {t.min().item()}..{t.max().item()}"
            )
        out = values[t].to(device=like.device, dtype=like.dtype)
        return out.view(-1, *([1] * (like.ndim - 1)))

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) noise."""
        if noise.shape != x0.shape:
            raise ConfigError(
                f"{self.describe()}: noise shape {tuple(noise.shape)} differs from x0 "
                f"shape {tuple(x0.shape)}"
            )
        ab = self._gather(self.alpha_bars, t, x0)
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise

    def velocity(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """v = sqrt(alpha_bar_t) noise - sqrt(1 - alpha_bar_t) x0."""
        ab = self._gather(self.alpha_bars, t, x0)
        return ab.sqrt() * noise - (1 - ab).sqrt() * x0

    def forward(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.add_noise(x0, noise, t)

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
        g = torch.Generator().manual_seed(0)
        x0 = torch.randn(batch_size, 3, generator=g)
        t = torch.linspace(0, self.timesteps - 1, batch_size).long()
        return x0, torch.randn(batch_size, 3, generator=g), t


class LinearSchedule(NoiseSchedule):
    """beta linear from 1e-4 to 0.02 (Ho et al. 2020)."""

    config_class = LinearScheduleConfig

    def make_betas(self) -> torch.Tensor:
        c = self.config
        return linear_betas(c.timesteps, c.beta_start, c.beta_end)


class QuadraticSchedule(NoiseSchedule):
    """sqrt(beta) linear, squared."""

    config_class = QuadraticScheduleConfig

    def make_betas(self) -> torch.Tensor:
        c = self.config
        return quadratic_betas(c.timesteps, c.beta_start, c.beta_end)


class SigmoidSchedule(NoiseSchedule):
    """beta follows a sigmoid between beta_start and beta_end."""

    config_class = SigmoidScheduleConfig

    def make_betas(self) -> torch.Tensor:
        c = self.config
        return sigmoid_betas(c.timesteps, c.beta_start, c.beta_end, c.sigmoid_range)


class CosineSchedule(NoiseSchedule):
    """alpha_bar follows a squared cosine (Nichol & Dhariwal 2021)."""

    config_class = CosineScheduleConfig

    def make_betas(self) -> torch.Tensor:
        c = self.config
        return cosine_betas(c.timesteps, c.s, c.max_beta)
