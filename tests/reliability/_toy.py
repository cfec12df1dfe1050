"""The toy runs the reliability tests, their subprocess helpers and the benchmark train.

A DDPM on 2-D points over a small MLP (``toy_run``) and one on 8x8 digits over a tiny U-Net
(``digits_run``); helpers import them by name (``from _toy import toy_run``), tests through
``load_helper("_toy")`` (tests/training by path).
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["toy_run", "digits_run", "child_env"]


def toy_run(
    *,
    timesteps: int = 10,
    hidden: int = 8,
    size: int = 64,
    noise_schedule: str = "cosine",
    samples: int = 4,
    **train: Any,
) -> dict[str, Any]:
    """A run config: DDPM with ``timesteps`` steps on ``size`` toy points; ``train`` is its train section."""
    return {
        "model": {
            "type": "ddpm",
            "timesteps": timesteps,
            "data_dim": 2,
            "noise_schedule": {"type": noise_schedule},
            "network": {"type": "mlp-denoiser", "hidden_dim": hidden, "num_timesteps": timesteps},
        },
        "data": {"type": "toy2d", "size": size},
        "train": train,
        "sample": {"n": samples},
    }


def digits_run(*, classes: int = 10) -> dict[str, Any]:
    """A run config: DDPM (20 steps) over a 4-channel U-Net on 8x8 digits, one step of 8; with
    ``classes``, class-conditional with a null class (label dropout 0.1)."""
    network: dict[str, Any] = {"type": "ddpm-unet", "base_channels": 4}
    model: dict[str, Any] = {"type": "ddpm", "timesteps": 20, "image_size": 8, "channels": 1}
    if classes:
        network["num_classes"] = classes
        model["label_dropout"] = 0.1
    model.update(network=network, sample_steps=2)
    return {
        "model": model,
        "data": {"type": "digits", "image_size": 8, "value_range": [-1, 1]},
        "train": {"steps": 1, "batch_size": 8},
        "sample": {"n": 4},
    }


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child process that trains a toy run: one thread, core's own plugins
    only (the others' imports cost seconds), and ``extra``."""
    return {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "CORE_DISABLE_PLUGINS": "gan,vae,difflut,autoencoder",
        **extra,
    }
