"""Config of the DCGAN (torch-free)."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator

from core.schema import ComponentConfig, Field, runtime

__all__ = ["AUGMENTATION_NAMES", "DCGANConfig", "IMAGE_SIZES", "LOSSES"]

#: image sizes the DCGAN supports (powers of two).
IMAGE_SIZES = (16, 32, 64, 128, 256)

#: the adversarial losses ``loss`` names.
LOSSES = Literal["non-saturating", "hinge"]

#: DiffAugment's transforms, in the order they apply (core_gan.augment.AUGMENTATIONS).
AUGMENTATION_NAMES = Literal["color", "translation", "cutout"]


class DCGANConfig(ComponentConfig):
    """DCGAN (Radford et al. 2016): generator and discriminator of a square image size."""

    latent_dim: int = Field(100, ge=1, le=4096, description="size of the latent vector z")
    image_size: int = Field(
        64, ge=16, le=256, description="image side in pixels: a power of two from 16 to 256"
    )
    channels: int = Field(3, ge=1, le=16, description="image channels (1 grey, 3 RGB)")
    ngf: int = Field(64, ge=1, le=1024, description="generator width at the last hidden layer")
    ndf: int = Field(64, ge=1, le=1024, description="discriminator width at the first layer")
    lr_generator: float = runtime(
        2e-4, gt=0.0, le=1.0, description="Adam learning rate of the generator"
    )
    lr_discriminator: float = runtime(
        2e-4, gt=0.0, le=1.0, description="Adam learning rate of the discriminator"
    )
    betas: tuple[float, float] = runtime(
        (0.5, 0.999), description="Adam betas of both optimizers (DCGAN: 0.5, 0.999)"
    )
    num_classes: int = Field(
        0,
        ge=0,
        le=100_000,
        description="class labels y (0 = unconditional): a label embedding concatenated to z in "
        "the generator, a projection term in the discriminator",
    )
    loss: LOSSES = runtime(
        "non-saturating",
        description="adversarial loss: non-saturating (DCGAN's) or hinge",
    )
    augment: list[AUGMENTATION_NAMES] = runtime(
        [],
        description="DiffAugment transforms applied to real and generated images before the "
        "discriminator (color, translation, cutout); empty: none",
    )
    sample_temperature: float = runtime(
        1.0,
        gt=0.0,
        le=10.0,
        description="standard deviation of the latents z drawn when sampling (below 1: the "
        "truncation trick, fewer odd samples at some cost in variety)",
    )
    mode_seeking: float = runtime(
        0.0,
        ge=0.0,
        le=100.0,
        description="weight of the mode-seeking term (Mao et al. 2019): the generator is "
        "penalised when two latents of one class give close images (0: off)",
    )
    r1_gamma: float = runtime(
        0.0,
        ge=0.0,
        le=1e4,
        description="weight of the R1 penalty gamma/2 * |grad D(real)|^2 (0: off)",
    )

    @field_validator("image_size")
    @classmethod
    def _power_of_two(cls, value: int) -> int:
        if value not in IMAGE_SIZES:
            allowed = ", ".join(map(str, IMAGE_SIZES))
            raise ValueError(f"a power of two among {allowed} (got {value})")
        return value

    @field_validator("betas")
    @classmethod
    def _betas_in_range(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not all(0.0 <= b < 1.0 for b in value):
            raise ValueError(f"two Adam betas in [0, 1) (got {list(value)})")
        return value
