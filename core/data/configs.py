"""Configs of the built-in datasets (torch-free)."""

from __future__ import annotations

from typing import Literal

from core.schema import ComponentConfig, Field

__all__ = ["Toy2DConfig"]


class Toy2DConfig(ComponentConfig):
    """A 2-D toy distribution."""

    shape: Literal["moons", "swiss-roll", "gaussian-mixture"] = Field(
        "moons", description="which point cloud"
    )
    size: int = Field(4096, ge=1, le=10_000_000, description="number of points")
    noise: float = Field(0.05, ge=0.0, description="std of Gaussian noise added to each point")
    split: Literal["train", "test"] = Field(
        "train", description="train and test draw different seeds"
    )
    seed: int = Field(0, description="random seed of the draw")
