"""Hook implementations of core-gan (torch-free: targets are lazy strings)."""

from __future__ import annotations

from typing import Any

from core import hookimpl


@hookimpl
def register_models(register: Any) -> None:
    register(
        "dcgan",
        "core_gan.dcgan:DCGAN",
        config="core_gan.configs:DCGANConfig",
        description="DCGAN: transposed-conv generator and strided-conv discriminator (16-256 px)",
        aliases=["DCGAN"],
    )
