"""Configs of the VAE and beta-VAE (torch-free)."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator

from core.schema import ComponentConfig, Field, runtime

__all__ = ["VAEConfig", "BetaVAEConfig"]


class VAEConfig(ComponentConfig):
    """Convolutional VAE: conv encoder to (mu, logvar), transposed-conv decoder with Sigmoid."""

    latent_dim: int = Field(128, ge=1, le=8192, description="size of the latent vector z")
    image_size: int = Field(
        64,
        ge=4,
        le=1024,
        description="image side in pixels; sizes that do not halve evenly (28) are padded",
    )
    channels: int = Field(3, ge=1, le=16, description="image channels (1 grey, 3 RGB)")
    hidden_channels: list[int] = Field(
        [32, 64, 128, 256],
        min_length=1,
        max_length=8,
        description="encoder widths, one stride-2 conv each; the decoder mirrors them",
    )
    beta: float = runtime(
        1.0, ge=0.0, le=1000.0, description="weight of the KL term; > 1 is a beta-VAE"
    )
    reconstruction: Literal["bce", "mse", "gaussian"] = runtime(
        "bce",
        description="reconstruction loss summed over pixels: Bernoulli (bce), squared error "
        "(mse), or a Gaussian whose variance is the batch's mean squared error (gaussian: the "
        "calibrated decoder of sigma-VAE)",
    )
    free_bits: float = runtime(
        0.0,
        ge=0.0,
        le=100.0,
        description="nats per latent dimension below which the KL term does not push "
        "(free bits: each dimension's batch-mean KL is floored at this value; 0: off)",
    )
    sample_temperature: float = runtime(
        1.0,
        gt=0.0,
        le=10.0,
        description="standard deviation of the prior z is drawn from when sampling",
    )
    num_classes: int = Field(
        0,
        ge=0,
        le=100_000,
        description="class labels y (0 = unconditional): a one-hot y joins the encoder's "
        "features and the decoder's latent (a conditional VAE)",
    )

    @field_validator("hidden_channels")
    @classmethod
    def _positive_widths(cls, value: list[int]) -> list[int]:
        bad = [w for w in value if w < 1]
        if bad:
            raise ValueError(f"a list of positive widths (got {value})")
        return value


class BetaVAEConfig(VAEConfig):
    """The VAE with a stronger KL weight (beta-VAE, Higgins et al. 2017)."""

    beta: float = runtime(
        4.0, ge=0.0, le=1000.0, description="weight of the KL term; > 1 is a beta-VAE"
    )
