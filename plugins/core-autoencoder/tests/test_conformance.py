"""Every registered component passes core's conformance kit."""

from __future__ import annotations

import pytest

import core
from core.testing import check_component

from .conftest import DECODER, ENCODER

UNET = {"type": "unet", "base_channels": 16, "channel_mults": [1, 2], "num_res_blocks": 1}

CASES = [
    ("encoder", "conv-encoder", {}),
    ("encoder", "conv-encoder", {"variational": True, "downsampling_steps": 1}),
    ("encoder", "ConvEncoder", {"downsampling_steps": 0}),
    ("decoder", "conv-decoder", {}),
    ("decoder", "conv-decoder", {"heads": DECODER["heads"]}),
    ("head", "rgb", {"out_channels": 1}),
    ("head", "RGBHead", {}),
    ("head", "segmentation", {"num_classes": 3}),
    ("head", "SegmentationHead", {}),
    ("head", "classification", {"pooling": "avgmax", "hidden": 8}),
    ("head", "ClassificationHead", {}),
    ("loss", "mse", {}),
    ("loss", "l1", {"key": "x", "target": "y"}),
    ("loss", "kld", {"reduction": "batchmean"}),
    ("loss", "cross-entropy", {"label_smoothing": 0.1}),
    ("loss", "latent-standardization", {}),
    ("loss", "composite", {"parts": [{"type": "mse"}, {"type": "kld", "weight": 0.1}]}),
    ("layer", "image-adapter", {"downsampling_steps": 2}),
    ("layer", "vector-adapter", {}),
    ("model", "autoencoder", {"encoder": ENCODER, "decoder": DECODER}),
    ("model", "Autoencoder", {"encoder": {**ENCODER, "variational": True}, "decoder": DECODER}),
]


@pytest.mark.parametrize(("kind", "name", "config"), CASES, ids=[f"{k}-{n}" for k, n, _ in CASES])
def test_conformance(kind: str, name: str, config: dict) -> None:
    report = check_component(kind, name, config)
    assert "bad-config" in report.checks
    if kind not in ("loss",):
        assert "save-load" in report.checks


def test_latent_diffusion_conformance(ldm_config: dict) -> None:
    config = {k: v for k, v in ldm_config.items() if k != "type"}
    report = check_component("model", "latent-diffusion", config)
    assert "save-load" in report.checks


@pytest.mark.parametrize("fusion", ["add", "film"])
def test_controlnet_conformance(ddpm_config: dict, fusion: str) -> None:
    report = check_component(
        "model", "controlnet-diffusion", {"base": {"config": ddpm_config}, "fusion": fusion}
    )
    assert "save-load" in report.checks


def test_unet_fixture_is_a_core_diffusion_unet() -> None:
    from core import build

    assert type(build("model", dict(UNET))).__module__ == "core_diffusion.unet"


def test_conv_decoder_as_an_encoder_still_works_with_a_deprecation_warning():
    with pytest.warns(DeprecationWarning, match="encoder 'conv-decoder' is now a decoder"):
        decoder = core.build("encoder", {"type": "conv-decoder"})
    assert type(decoder) is core.get_decoder("conv-decoder")
