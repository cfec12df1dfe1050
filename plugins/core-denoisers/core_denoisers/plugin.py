"""Hook implementations of core-denoisers (torch-free)."""

from __future__ import annotations

from typing import Any

from core import hookimpl


@hookimpl
def register_models(register: Any) -> None:
    register(
        "mlp-denoiser",
        "core_denoisers.mlp:MLPDenoiser",
        config="core_denoisers.configs:MLPDenoiserConfig",
        description="MLP denoiser on cat(x, t) for vector data (17,282 params at 2-D, 128 wide)",
        aliases=["MLPDenoiser"],
    )
    register(
        "cnn-denoiser",
        "core_denoisers.cnn:CNNDenoiser",
        config="core_denoisers.configs:CNNDenoiserConfig",
        description="two-level U-shaped CNN denoiser with per-block time projections",
        aliases=["CNNDenoiser"],
    )
    register(
        "cnn-denoiser-large",
        "core_denoisers.cnn:CNNDenoiserLarge",
        config="core_denoisers.configs:CNNDenoiserLargeConfig",
        description="three-level CNN denoiser, base 128 (image sides divisible by 8)",
        aliases=["CNNDenoiserLarge"],
    )


@hookimpl
def register_commands(cli: Any) -> None:
    from core_denoisers.commands import denoisers

    cli.add_command(denoisers)
