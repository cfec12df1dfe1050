"""Losses: values, parts, and clear errors for missing keys."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import core
from core.errors import ConfigError, DataError


def _loss(name: str, **config):
    return core.build("loss", {"type": name, **config})


def test_mse_and_l1_match_torch() -> None:
    out, tgt = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    total, parts = _loss("mse", weight=2.0)({"rgb": out}, {"image": tgt})
    assert torch.allclose(total, 2 * F.mse_loss(out, tgt))
    assert torch.allclose(parts["mse/rgb"], F.mse_loss(out, tgt))
    total, _ = _loss("l1", key="a", target="b")({"a": out}, {"b": tgt})
    assert torch.allclose(total, F.l1_loss(out, tgt))


def test_kld_is_zero_for_the_prior_and_positive_otherwise() -> None:
    zeros = torch.zeros(2, 4, 2, 2)
    total, _ = _loss("kld")({"mu": zeros, "logvar": zeros})
    assert float(total) == 0.0
    mu = torch.ones(2, 4, 2, 2)
    total, _ = _loss("kld", reduction="batchmean")({"mu": mu, "logvar": zeros})
    assert torch.allclose(total, torch.tensor(0.5 * 16))


def test_cross_entropy_accepts_masks_with_a_channel_and_labels() -> None:
    logits = torch.randn(2, 3, 4, 4)
    mask = torch.randint(0, 3, (2, 1, 4, 4))
    total, _ = _loss("cross-entropy")({"segmentation": logits}, {"mask": mask.float()})
    assert torch.allclose(total, F.cross_entropy(logits, mask[:, 0]))
    cls = torch.randn(5, 10)
    y = torch.tensor([1, 2, 3, 4, 9])
    total, _ = _loss("cross-entropy", key="cls", target="label")({"cls": cls}, (torch.zeros(5), y))
    assert torch.allclose(total, F.cross_entropy(cls, y))
    with pytest.raises(DataError, match="class 9.*3 classes"):
        _loss("cross-entropy", key="c", target="label")({"c": torch.randn(5, 3)}, {"label": y})


def test_latent_standardization_is_zero_for_standard_latents() -> None:
    z = torch.randn(64, 4, 8, 8)
    z = (z - z.mean(dim=(0, 2, 3), keepdim=True)) / z.std(dim=(0, 2, 3), keepdim=True)
    total, parts = _loss("latent-standardization")({"latent": z})
    assert float(total) < 1e-10
    total, _ = _loss("latent-standardization", per_channel=False)({"latent": 3 * z + 2})
    assert torch.allclose(total, torch.tensor(4.0 + 4.0), atol=1e-2)


def test_composite_adds_weighted_parts_and_logs_each() -> None:
    out = {"rgb": torch.randn(2, 1, 4, 4), "latent": torch.randn(2, 4, 2, 2)}
    batch = {"image": torch.randn(2, 1, 4, 4)}
    loss = _loss(
        "composite",
        parts=[
            {"type": "mse", "weight": 2.0},
            {"type": "latent-standardization", "weight": 0.5, "name": "std"},
        ],
    )
    total, parts = loss(out, batch)
    assert set(parts) == {"mse/rgb", "std"}
    assert torch.allclose(total, 2 * parts["mse/rgb"] + 0.5 * parts["std"])


def test_missing_keys_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match="key 'rgb' is not a model output.*outputs: latent"):
        _loss("mse")({"latent": torch.zeros(1)}, {"image": torch.zeros(1)})
    with pytest.raises(DataError, match="target 'mask' is not in the batch.*image"):
        _loss("cross-entropy")({"segmentation": torch.zeros(1, 2, 2, 2)}, {"image": torch.zeros(1)})
    with pytest.raises(ConfigError, match="shape"):
        _loss("mse")({"rgb": torch.zeros(1, 3)}, {"image": torch.zeros(1, 4)})


def test_bad_composite_configs() -> None:
    with pytest.raises(ConfigError, match="type"):
        _loss("composite", parts=[{"key": "rgb"}])
    with pytest.raises(ConfigError, match="unique"):
        _loss("composite", parts=[{"type": "mse"}, {"type": "mse"}])
    with pytest.raises(ConfigError, match=r"loss.parts.0.*unknown key 'tagret'"):
        _loss("composite", parts=[{"type": "mse", "tagret": "image"}])
