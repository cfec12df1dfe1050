"""``fsdp_blocks()`` of core-diffusion's U-Nets and of the DDPM around them."""

from __future__ import annotations

from core_diffusion.unet import ResBlock, SelfAttention

import core
from core.testing.checks import check_fsdp_blocks

TINY_UNET = {"type": "unet", "base_channels": 8, "channel_mults": [1, 2], "num_res_blocks": 1}


def test_unet_blocks_are_its_residual_and_attention_blocks():
    unet = core.build("model", {**TINY_UNET, "image_size": 32, "attention_resolutions": [16]})
    blocks = check_fsdp_blocks(unet)
    wanted = [m for m in unet.modules() if isinstance(m, (ResBlock, SelfAttention))]
    assert {id(b) for b in blocks} == {id(m) for m in wanted}
    assert any(isinstance(b, SelfAttention) for b in blocks) and unet.conv_in not in blocks


def test_ddpm_unet_blocks_are_its_down_bottleneck_and_up_blocks():
    net = core.build("model", {"type": "ddpm-unet", "base_channels": 4})
    assert check_fsdp_blocks(net) == [
        net.d1,
        net.d2,
        net.d3,
        net.bottleneck,
        net.up1,
        net.up2,
        net.up3,
    ]


def test_ddpm_gives_its_networks_blocks():
    ddpm = core.build(
        "model", {"type": "ddpm", "image_size": 8, "channels": 1, "network": TINY_UNET}
    )
    assert check_fsdp_blocks(ddpm) == ddpm.network.fsdp_blocks()
