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
{%- for kind in cookiecutter._examples if kind in kinds %}
{%- import 'examples/' ~ kind ~ '.jinja' as example with context %}
    "{{ example.config_name() }}",
{%- endfor %}
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
{%- for kind in cookiecutter._examples if kind in kinds %}
{%- import 'examples/' ~ kind ~ '.jinja' as example with context %}
{{- example.config() }}
{%- endfor %}
