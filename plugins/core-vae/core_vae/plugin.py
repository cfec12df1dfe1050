"""Hook implementations of core-vae (torch-free: targets are lazy strings)."""

from __future__ import annotations

from typing import Any

from core import hookimpl


@hookimpl
def register_models(register: Any) -> None:
    register(
        "vae",
        "core_vae.vae:VAE",
        config="core_vae.configs:VAEConfig",
        description="convolutional VAE with a Bernoulli/Gaussian decoder; beta > 1 is a beta-VAE",
        aliases=["VAE"],
    )
    register(
        "beta-vae",
        "core_vae.vae:BetaVAE",
        config="core_vae.configs:BetaVAEConfig",
        description="the convolutional VAE with beta = 4 by default (Higgins et al. 2017)",
        aliases=["BetaVAE"],
    )
