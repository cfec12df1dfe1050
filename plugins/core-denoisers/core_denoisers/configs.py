"""Configs of the denoising networks (torch-free)."""

from __future__ import annotations

from pydantic import model_validator

from core.schema import ComponentConfig, Field

__all__ = ["MLPDenoiserConfig", "CNNDenoiserConfig", "CNNDenoiserLargeConfig"]


class MLPDenoiserConfig(ComponentConfig):
    """An MLP on cat(x, t / num_timesteps) for vector data (2-D point clouds)."""

    data_dim: int = Field(2, ge=1, le=1_000_000, description="size of each data vector")
    hidden_dim: int = Field(128, ge=1, le=65_536, description="width of the two hidden layers")
    num_timesteps: int = Field(
        1000, ge=1, description="t is divided by this before it joins x (the diffusion's T)"
    )
    num_classes: int = Field(
        0, ge=0, description="> 0: class-conditional, Embedding(num_classes, hidden_dim) added"
    )


class CNNDenoiserConfig(ComponentConfig):
    """A two-level U-shaped CNN with sinusoidal time embedding projected into every block."""

    in_channels: int = Field(1, ge=1, le=4096, description="channels of the images")
    out_channels: int | None = Field(
        None, ge=1, le=4096, description="channels of the output (None: in_channels)"
    )
    base_channels: int = Field(64, ge=1, le=4096, description="channels after the first conv")
    time_dim: int = Field(
        128, ge=4, le=8192, description="size of the sinusoidal time embedding (even)"
    )
    num_classes: int = Field(
        0, ge=0, description="> 0: class-conditional, Embedding(num_classes, time_dim) added"
    )

    @model_validator(mode="after")
    def _check(self) -> CNNDenoiserConfig:
        if self.time_dim % 2:
            raise ValueError(f"time_dim must be even (sin and cos halves), got {self.time_dim}")
        return self


class CNNDenoiserLargeConfig(CNNDenoiserConfig):
    """The three-level CNN denoiser (image sides divisible by 8)."""

    base_channels: int = Field(128, ge=1, le=4096, description="channels after the first conv")
