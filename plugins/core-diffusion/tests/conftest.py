"""Tiny models run fastest on one thread (and do not fight other processes for cores)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Tiny models run fastest on one thread (core.testing's fixture)."""


def _digits_ddpm_config(network, train=None, **model):
    """A ``core train`` config: a 50-step ddpm around ``network`` on 8x8 digits (sampler ddim)."""
    return {
        "model": {
            "type": "ddpm",
            "timesteps": 50,
            "image_size": 8,
            "channels": 1,
            "network": network,
            "sampler": "ddim",
            "sample_steps": 3,
            **model,
        },
        "data": {"type": "digits", "image_size": 8, "value_range": [-1, 1]},
        "train": {"steps": 2, "batch_size": 16, "log_every": 1, **(train or {})},
        "sample": {"n": 10},
    }


@pytest.fixture
def digits_ddpm_config():
    """``(network, train=None, **model) -> config``: a tiny ddpm run on 8x8 digits."""
    return _digits_ddpm_config
