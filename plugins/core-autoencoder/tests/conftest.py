"""Tiny configs shared by the tests."""

from __future__ import annotations

import pytest

ENCODER = {"type": "conv-encoder", "in_channels": 1, "latent_channels": 4, "base_channels": 8}
DECODER = {
    "type": "conv-decoder",
    "latent_channels": 4,
    "base_channels": 8,
    "heads": [
        {"type": "rgb", "name": "rgb", "out_channels": 1},
        {"type": "segmentation", "name": "seg", "num_classes": 2},
        {"type": "classification", "name": "cls", "num_classes": 10},
    ],
}
UNET = {
    "type": "unet",
    "base_channels": 16,
    "channel_mults": [1, 2],
    "num_res_blocks": 1,
    "norm_groups": 8,
}


@pytest.fixture
def ae_config() -> dict:
    return {"type": "autoencoder", "encoder": dict(ENCODER), "decoder": dict(DECODER)}


@pytest.fixture
def ldm_config(ae_config) -> dict:
    return {
        "type": "latent-diffusion",
        "latent_channels": 4,
        "latent_size": 4,
        "timesteps": 50,
        "sample_steps": 4,
        "network": dict(UNET),
        "decoder": {"config": ae_config},
    }


@pytest.fixture
def ddpm_config() -> dict:
    return {"type": "ddpm", "timesteps": 50, "image_size": 8, "channels": 1, "network": dict(UNET)}


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Tiny models run fastest on one thread (core.testing's fixture)."""
