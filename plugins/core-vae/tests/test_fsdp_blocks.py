"""``fsdp_blocks()`` of the VAE: its convolutional encoder and decoder."""

from __future__ import annotations

import core
from core.testing.checks import check_fsdp_blocks


def test_blocks_are_encoder_and_decoder():
    vae = core.build("model", {"type": "vae", "image_size": 16, "channels": 1, "latent_dim": 8})
    assert check_fsdp_blocks(vae) == [vae.encoder, vae.decoder]
