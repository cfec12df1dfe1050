"""The three denoising networks: exact sizes, the time embedding, shapes, clear errors."""

from __future__ import annotations

import math

import pytest
import torch
from core_denoisers.cnn import CNNDenoiser, CNNDenoiserLarge
from core_denoisers.embedding import sinusoidal_embedding
from core_denoisers.mlp import MLPDenoiser

from core import ConfigError, build


@pytest.mark.parametrize(
    ("name", "config", "expected"),
    [
        ("mlp-denoiser", {"data_dim": 2, "hidden_dim": 128}, 17_282),
        ("cnn-denoiser", {"in_channels": 3, "base_channels": 64}, 3_321_475),
        ("cnn-denoiser", {"in_channels": 1, "base_channels": 32}, 858_305),
        ("cnn-denoiser-large", {"in_channels": 3, "base_channels": 128}, 53_441_795),
        ("cnn-denoiser-large", {"in_channels": 3}, 53_441_795),  # base 128 is the default
    ],
)
def test_parameter_counts_are_exact(name, config, expected):
    assert build("model", {"type": name, **config}).count_parameters() == expected


def test_class_conditioning_adds_one_embedding_table():
    plain = CNNDenoiser(in_channels=1, base_channels=8)
    cond = CNNDenoiser(in_channels=1, base_channels=8, num_classes=10)
    assert cond.count_parameters() - plain.count_parameters() == 10 * 128
    mlp = MLPDenoiser(hidden_dim=16, num_classes=3)
    assert mlp.count_parameters() - MLPDenoiser(hidden_dim=16).count_parameters() == 3 * 16


def test_sinusoidal_embedding_matches_the_formula():
    t = torch.tensor([0, 1, 17, 999])
    emb = sinusoidal_embedding(t, 128)
    assert emb.shape == (4, 128)
    for i, step in enumerate(t.tolist()):
        for k in (0, 1, 31, 63):
            f = math.exp(-k * math.log(10_000) / 63)
            assert emb[i, k].item() == pytest.approx(math.sin(step * f), abs=1e-5)
            assert emb[i, 64 + k].item() == pytest.approx(math.cos(step * f), abs=1e-5)


def test_every_block_projects_the_128_dim_time_embedding():
    model = CNNDenoiser(in_channels=1, base_channels=4)
    blocks = [*model.downs, model.bottleneck, *model.ups]
    assert len(blocks) == 5
    assert all(b.time_proj.in_features == 128 for b in blocks)
    assert [b.conv1.in_channels for b in blocks] == [4, 8, 16, 32, 16]
    assert [b.conv1.out_channels for b in blocks] == [8, 16, 16, 8, 4]
    large = CNNDenoiserLarge(in_channels=1, base_channels=4)
    blocks = [*large.downs, large.bottleneck, *large.ups]
    assert [b.conv1.in_channels for b in blocks] == [4, 8, 16, 32, 64, 32, 16]
    assert [b.conv1.out_channels for b in blocks] == [8, 16, 32, 32, 16, 8, 4]


@pytest.mark.parametrize(
    ("cls", "side"), [(CNNDenoiser, 28), (CNNDenoiser, 8), (CNNDenoiserLarge, 16)]
)
def test_cnn_output_has_the_input_shape(cls, side):
    model = cls(in_channels=3, base_channels=4)
    x = torch.randn(2, 3, side, side)
    assert model(x, torch.tensor([0, 999])).shape == x.shape


def test_out_channels_and_time_dependence():
    model = CNNDenoiser(in_channels=1, out_channels=2, base_channels=4).eval()
    x = torch.randn(1, 1, 8, 8)
    a, b = model(x, torch.tensor([3])), model(x, torch.tensor([700]))
    assert a.shape == (1, 2, 8, 8)
    assert not torch.allclose(a, b)


def test_scalar_timestep_is_broadcast():
    model = MLPDenoiser(hidden_dim=8).eval()
    x = torch.randn(3, 2)
    assert torch.equal(model(x, 5), model(x, torch.full((3,), 5)))
    assert torch.equal(model(x, torch.tensor(5)), model(x, torch.full((3,), 5)))


def test_large_network_rejects_28x28_clearly():
    model = CNNDenoiserLarge(in_channels=1, base_channels=2)
    with pytest.raises(ConfigError, match=r"divisible by 8.*28x28"):
        model(torch.randn(1, 1, 28, 28), torch.tensor([0]))


def test_small_network_rejects_sides_not_divisible_by_4():
    with pytest.raises(ConfigError, match=r"divisible by 4.*30x28"):
        CNNDenoiser(base_channels=2)(torch.randn(1, 1, 30, 28), torch.tensor([0]))


@pytest.mark.parametrize(
    ("x", "t", "match"),
    [
        (
            torch.randn(2, 3, 8, 8),
            torch.tensor([1, 2]),
            r"shape \(batch, 1, height, width\).*\(2, 3, 8, 8\)",
        ),
        (torch.randn(2, 8, 8), torch.tensor([1, 2]), r"\(2, 8, 8\)"),
        (torch.randn(2, 1, 8, 8), torch.tensor([1, 2, 3]), r"t must have shape \(2,\).*\(3,\)"),
        (torch.randn(2, 1, 8, 8), "3", r"t must be a tensor"),
    ],
)
def test_cnn_bad_inputs_are_config_errors(x, t, match):
    with pytest.raises(ConfigError, match=match):
        CNNDenoiser(base_channels=2)(x, t)


def test_mlp_bad_shape_is_config_error():
    with pytest.raises(ConfigError, match=r"x must have shape \(batch, 2\), got \(4, 3\)"):
        MLPDenoiser(hidden_dim=4)(torch.randn(4, 3), torch.zeros(4, dtype=torch.long))


def test_unsupported_conditioning_keyword():
    with pytest.raises(ConfigError, match="unsupported conditioning keyword.*context"):
        CNNDenoiser(base_channels=2)(torch.randn(1, 1, 8, 8), torch.tensor([0]), context=1)


def test_labels_on_unconditional_network_are_rejected():
    with pytest.raises(ConfigError, match="unconditional"):
        MLPDenoiser(hidden_dim=4)(torch.randn(2, 2), torch.tensor([0, 1]), y=torch.tensor([1, 2]))


@pytest.mark.parametrize(
    ("y", "match"),
    [
        (torch.tensor([1, 10]), r"labels must be in \[0, 9\]"),
        (torch.tensor([1.0, 2.0]), "integer class labels"),
        (torch.tensor([1, 2, 3]), r"y must have shape \(2,\)"),
    ],
)
def test_conditional_network_label_errors(y, match):
    model = CNNDenoiser(base_channels=2, num_classes=10)
    with pytest.raises(ConfigError, match=match):
        model(torch.randn(2, 1, 8, 8), torch.tensor([0, 1]), y=y)


def test_labels_change_the_prediction():
    torch.manual_seed(0)
    model = CNNDenoiser(base_channels=4, num_classes=10).eval()
    x, t = torch.randn(2, 1, 8, 8), torch.tensor([10, 10])
    same = model(x, t, y=torch.tensor([3, 3]))
    other = model(x, t, y=torch.tensor([3, 4]))
    assert torch.equal(same[0], other[0])
    assert not torch.allclose(same[1], other[1])
    # without labels the label embedding is skipped
    assert not torch.allclose(model(x, t), same)


def test_odd_time_dim_is_a_config_error():
    with pytest.raises(ConfigError, match="time_dim must be even"):
        build("model", {"type": "cnn-denoiser", "time_dim": 127})


def test_gradients_reach_every_parameter():
    model = CNNDenoiser(in_channels=1, base_channels=4, num_classes=3)
    out = model(torch.randn(4, 1, 8, 8), torch.tensor([0, 1, 2, 3]), y=torch.tensor([0, 1, 2, 0]))
    out.square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    # the label embedding rows of used classes get gradients, so every parameter has some
    assert missing == []


def test_sliced_wasserstein():
    from core_denoisers.metrics import sliced_wasserstein

    g = torch.Generator().manual_seed(0)
    a = torch.randn(1000, 2, generator=g)
    b = torch.randn(1000, 2, generator=g)
    assert sliced_wasserstein(a, a) == 0.0
    near = sliced_wasserstein(a, b)
    far = sliced_wasserstein(a, b + torch.tensor([3.0, 0.0]))
    assert near < 0.1 < 1.0 < far
    assert sliced_wasserstein(a, a[:300]) < 0.15  # unequal sizes go through quantiles
    with pytest.raises(ValueError, match="same D"):
        sliced_wasserstein(a, torch.randn(5, 3))


def test_bf16_autocast_and_list_labels():
    model = CNNDenoiser(in_channels=1, base_channels=4, num_classes=3)
    x = torch.randn(2, 1, 8, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x, torch.tensor([0, 5]), y=[0, 2])
    assert out.shape == x.shape and torch.isfinite(out.float()).all()
    mlp = MLPDenoiser(hidden_dim=8, num_classes=3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert mlp(torch.randn(2, 2), torch.tensor([1, 2]), y=1).shape == (2, 2)


def test_mlp_embedding_residual_joins_the_first_hidden_layer():
    """A second conditioning signal (a flow model's interval) of width ``time_dim``."""
    torch.manual_seed(0)
    net = MLPDenoiser(data_dim=2, hidden_dim=16).eval()
    x, t = torch.randn(3, 2), torch.tensor([1, 50, 999])
    shift = torch.randn(3, net.time_dim)
    with torch.no_grad():
        assert torch.equal(net(x, t, embedding_residual=torch.zeros(3, 16)), net(x, t))
        expected = net.fc3(
            torch.relu(net.fc2(torch.relu(net.fc1(torch.cat([x, t[:, None] / 1000], 1)) + shift)))
        )
        torch.testing.assert_close(net(x, t, embedding_residual=shift), expected)
