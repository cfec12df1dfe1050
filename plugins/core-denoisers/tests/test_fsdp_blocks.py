"""``fsdp_blocks()`` of the CNN denoisers: down, bottleneck and up blocks."""

from __future__ import annotations

import pytest

import core
from core.testing.checks import check_fsdp_blocks


@pytest.mark.parametrize("name", ["cnn-denoiser", "cnn-denoiser-large"])
def test_blocks_are_down_bottleneck_and_up(name):
    net = core.build("model", {"type": name, "in_channels": 1, "base_channels": 4})
    assert check_fsdp_blocks(net) == [*net.downs, net.bottleneck, *net.ups]


def test_mlp_denoiser_is_one_unit():
    assert core.build("model", {"type": "mlp-denoiser", "data_dim": 2}).fsdp_blocks() == []
