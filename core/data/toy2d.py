"""2-D toy point clouds, standardised to zero mean and unit variance per axis."""

from __future__ import annotations

import math

import torch

from core.component import Component
from core.data.configs import Toy2DConfig

__all__ = ["Toy2D", "make_points"]


def make_points(shape: str, size: int, noise: float, generator: torch.Generator) -> torch.Tensor:
    """``size`` points of the named shape, as a (size, 2) float tensor."""
    if shape == "moons":
        upper = size // 2
        t = torch.rand(size, generator=generator) * math.pi
        x = torch.where(torch.arange(size) < upper, torch.cos(t), 1 - torch.cos(t))
        y = torch.where(torch.arange(size) < upper, torch.sin(t), 0.5 - torch.sin(t))
        points = torch.stack([x, y], dim=1)
    elif shape == "swiss-roll":
        t = 1.5 * math.pi * (1 + 2 * torch.rand(size, generator=generator))
        points = torch.stack([t * torch.cos(t), t * torch.sin(t)], dim=1) / 10
    else:
        centres = torch.tensor([[math.cos(a), math.sin(a)] for a in torch.arange(8) * math.pi / 4])
        idx = torch.randint(0, 8, (size,), generator=generator)
        points = 2 * centres[idx]
    points = points + noise * torch.randn(points.shape, generator=generator)
    return (points - points.mean(0)) / points.std(0)


class Toy2D(Component, torch.utils.data.Dataset):
    """A fixed draw of 2-D points; items are ``(point, 0)`` pairs."""

    value_range = None

    config_class = Toy2DConfig
    config_section = "data"
    kind = "dataset"

    def __init__(self, config=None, /, **overrides) -> None:
        self.config = self.resolve_config(config, **overrides)
        seed = self.config.seed * 2 + (0 if self.config.split == "train" else 1)
        generator = torch.Generator().manual_seed(seed)
        self.points = make_points(self.config.shape, self.config.size, self.config.noise, generator)

        self.labels = torch.zeros(len(self.points), dtype=torch.long)

    def __len__(self) -> int:
        return len(self.points)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.points[index], self.labels[index]
