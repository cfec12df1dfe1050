{%- set kinds = cookiecutter.kinds.split(',') | map('trim') | list -%}
"""Configs of {{ cookiecutter.dist_name }}'s components (pydantic, torch-free).

Every field has a default, bounds and a one-line description: ``core info NAME`` and
``core schema NAME`` show them. Fields made with ``runtime(...)`` are safe to change on
loaded weights; every other field is structural (it defines the weights).
"""

from __future__ import annotations

from typing import Literal

from core.schema import ComponentConfig, Field, runtime
from pydantic import model_validator

__all__ = [
    "{{ cookiecutter.__class_name }}Config",
{%- if 'lr-schedule' in kinds %}
    "ExponentialDecayConfig",
{%- endif %}
{%- if 'loss' in kinds %}
    "ELBOLossConfig",
{%- endif %}
{%- if 'head' in kinds %}
    "ImageHeadConfig",
{%- endif %}
]


class {{ cookiecutter.__class_name }}Config(ComponentConfig):
    """A tiny MLP VAE on small square images with pixels in [0, 1]."""

    image_size: int = Field(8, ge=4, le=64, description="height and width of the images")
    channels: int = Field(1, ge=1, le=4, description="image channels")
    latent_dim: int = Field(8, ge=1, le=512, description="size of the latent code")
    hidden: int = Field(128, ge=8, le=4096, description="width of the hidden layers")
    activation: Literal["silu", "relu", "gelu"] = Field(
        "silu", description="activation of the hidden layers"
    )
    beta: float = runtime(1.0, ge=0.0, description="weight of the KL term in the training loss")
    temperature: float = runtime(1.0, gt=0.0, description="std of the latent noise when sampling")

    @model_validator(mode="after")
    def _check_latent(self) -> {{ cookiecutter.__class_name }}Config:
        pixels = self.channels * self.image_size**2
        if self.latent_dim >= pixels:
            raise ValueError(
                f"latent_dim ({self.latent_dim}) must be smaller than the number of pixel "
                f"values channels * image_size**2 ({pixels})"
            )
        return self
{%- if 'lr-schedule' in kinds %}


class ExponentialDecayConfig(ComponentConfig):
    """The LR decays exponentially from its peak to ``min_ratio`` of it, smoothly or in steps."""

    min_ratio: float = Field(
        0.01, gt=0.0, le=1.0, description="final LR / peak LR, reached at the last step"
    )
    drops: int = Field(
        0,
        ge=0,
        le=1000,
        description="0: decay smoothly; N: hold the LR in N + 1 equal stages (step decay)",
    )
{%- endif %}
{%- if 'loss' in kinds %}


class ELBOLossConfig(ComponentConfig):
    """Negative evidence lower bound of a Gaussian-latent VAE, per image."""

    reconstruction: Literal["bce", "mse"] = Field(
        "bce", description="bce on logits for [0, 1] data, or mse"
    )
    beta: float = Field(1.0, ge=0.0, description="weight of the KL term")
{%- endif %}
{%- if 'head' in kinds %}


class ImageHeadConfig(ComponentConfig):
    """A 1x1 convolution from decoder features to image channels."""

    in_channels: int = Field(32, ge=1, description="channels of the incoming features")
    out_channels: int = Field(1, ge=1, le=4, description="channels of the image")
    activation: Literal["sigmoid", "tanh", "none"] = Field(
        "sigmoid", description="output activation: sigmoid for [0, 1], tanh for [-1, 1]"
    )
{%- endif %}
