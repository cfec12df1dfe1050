"""The toy run the reliability tests, their subprocess helpers and the benchmark train.

A DDPM on 2-D points over a small MLP; helpers import it by name (``from _toy import toy_run``),
tests through ``load_helper("_toy")``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["toy_run"]


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
