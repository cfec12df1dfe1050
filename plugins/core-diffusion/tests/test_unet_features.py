"""The U-Nets' feature API: encode, decode, residuals on the skips and middle, encoder copies."""

from __future__ import annotations

import pytest
import torch

import core
from core.errors import ConfigError

NETWORKS = {
    "unet": {
        "type": "unet",
        "in_channels": 1,
        "base_channels": 8,
        "channel_mults": [1, 2],
        "num_res_blocks": 1,
        "attention_resolutions": [4],
        "image_size": 8,
        "norm_groups": 4,
        "num_classes": 3,
    },
    "ddpm-unet": {
        "type": "ddpm-unet",
        "in_channels": 1,
        "base_channels": 4,
        "time_dim": 8,
        "num_classes": 3,
    },
}


def _randomised(name: str) -> torch.nn.Module:
    """The network with every parameter random (zero-initialised layers would hide mistakes)."""
    torch.manual_seed(0)
    model = core.build("model", NETWORKS[name]).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.2)
    return model


def _inputs(size: int = 8) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(2, 1, size, size, generator=g), torch.tensor([3, 40]), torch.tensor([0, 2])


@pytest.fixture(params=list(NETWORKS))
def encoded(request: pytest.FixtureRequest) -> tuple[torch.nn.Module, tuple, object]:
    """Each network randomised, its inputs ``(x, t, y)`` and their features (no grad)."""
    model = _randomised(request.param)
    inputs = _inputs()
    with torch.no_grad():
        return model, inputs, model.encode(*inputs)


def test_encode_then_decode_is_forward(encoded) -> None:
    model, (x, t, y), features = encoded
    with torch.no_grad():
        assert torch.equal(model.decode(features), model(x, t, y))
    assert tuple(s.shape[1] for s in features.skips) == model.skip_channels
    assert features.middle.shape[1] == model.middle_channels


def test_zero_residuals_equal_the_plain_forward(encoded) -> None:
    model, (x, t, y), features = encoded
    with torch.no_grad():
        zeros = [torch.zeros_like(s) for s in features.skips]
        plain = model(x, t, y)
        with_zeros = model(
            x, t, y, down_residuals=zeros, mid_residual=torch.zeros_like(features.middle)
        )
    assert torch.equal(with_zeros, plain)


def test_an_embedding_residual_is_added_to_the_time_embedding(encoded) -> None:
    """``embedding_residual`` (B, time_dim) shifts the embedding every block sees: zero is the
    plain forward, and any other value equals the embedding of a label shifted by it."""
    model, (x, t, y), features = encoded
    assert features.embedding.shape == (2, model.time_dim)
    shift = torch.randn(2, model.time_dim, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        plain = model(x, t, y)
        assert torch.equal(model(x, t, y, embedding_residual=torch.zeros_like(shift)), plain)
        shifted = model.encode(x, t, y, embedding_residual=shift)
        torch.testing.assert_close(shifted.embedding, features.embedding + shift)
        assert not torch.allclose(model(x, t, y, embedding_residual=shift), plain)


def test_residuals_are_added_to_the_skips_and_middle(encoded) -> None:
    model, (x, t, y), features = encoded
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        down = [torch.randn(s.shape, generator=g) for s in features.skips]
        mid = torch.randn(features.middle.shape, generator=g)
        steered = model(x, t, y, down_residuals=down, mid_residual=mid)
        expected = model.decode(
            type(features)(
                skips=tuple(s + r for s, r in zip(features.skips, down)),
                middle=features.middle + mid,
                embedding=features.embedding,
            )
        )
        assert torch.equal(steered, expected)
        assert not torch.allclose(steered, model(x, t, y))
        only_mid = model(x, t, y, mid_residual=mid)
        assert not torch.allclose(only_mid, model(x, t, y))


def test_bad_residuals_and_features_are_clear_errors(encoded) -> None:
    model, (x, t, y), features = encoded
    skips = [torch.zeros_like(s) for s in features.skips]
    with pytest.raises(ConfigError, match="one tensor per skip connection"):
        model(x, t, y, down_residuals=skips[:-1])
    with pytest.raises(ConfigError, match=r"down_residuals\[0\] must have the shape"):
        model(x, t, y, down_residuals=[torch.zeros(2, 1, 1, 1), *skips[1:]])
    with pytest.raises(ConfigError, match="mid_residual must have the shape"):
        model(x, t, y, mid_residual=torch.zeros(2, 1))
    shallow = type(features)(features.skips[:-1], features.middle, features.embedding)
    with pytest.raises(ConfigError, match="skips with channels"):
        model.decode(shallow)


def test_unet_encoder_copy_starts_equal_and_owns_its_weights() -> None:
    model = _randomised("unet")
    x, t, y = _inputs()
    copy = model.encoder_copy()
    reference = model.state_dict()
    assert copy.state_dict().keys() < reference.keys()
    assert all(torch.equal(v, reference[k]) for k, v in copy.state_dict().items())
    with torch.no_grad():
        ours, theirs = model.encode(x, t, y), copy(x, t, y)
        assert all(torch.equal(a, b) for a, b in zip(ours.skips, theirs.skips))
        assert torch.equal(ours.middle, theirs.middle)
        assert torch.equal(ours.embedding, theirs.embedding)
        for p in copy.parameters():
            p.add_(1.0)
    assert all(torch.equal(v, reference[k]) for k, v in model.state_dict().items())


def test_unet_encode_entry_points_for_a_control_signal() -> None:
    model = _randomised("unet")
    x, t, y = _inputs()
    with torch.no_grad():
        plain = model.encode(x, t, y)
        zero = model.encode(
            x,
            t,
            y,
            input_residual=torch.zeros(2, 8, 8, 8),
            embedding_residual=torch.zeros(2, model.time_dim),
        )
        assert torch.equal(zero.middle, plain.middle)
        shifted = model.encode(x, t, y, embedding_residual=torch.ones(2, model.time_dim))
        assert torch.equal(shifted.embedding, plain.embedding + 1)
        moved = model.encode(x, t, y, input_residual=torch.ones(2, 8, 8, 8))
        assert torch.equal(moved.skips[0], plain.skips[0] + 1)
        assert not torch.allclose(moved.middle, plain.middle)
