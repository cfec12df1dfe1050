"""The networks as the ``network`` of core-diffusion's ``ddpm``: every schedule and sampler."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from core import ConfigError
from core.building import build_model
from core.config import Config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"

NETWORKS = {
    "mlp-denoiser": ({"data_dim": 2}, {"type": "mlp-denoiser", "hidden_dim": 16}),
    "cnn-denoiser": (
        {"image_size": 8, "channels": 1},
        {"type": "cnn-denoiser", "base_channels": 4},
    ),
    "cnn-denoiser-large": (
        {"image_size": 8, "channels": 2},
        {"type": "cnn-denoiser-large", "base_channels": 2},
    ),
}


def make_ddpm(network: str, schedule: str = "linear", timesteps: int = 20, **network_extra):
    data, section = NETWORKS[network]
    return build_model(
        {
            "type": "ddpm",
            "timesteps": timesteps,
            "noise_schedule": {"type": schedule},
            "network": {**section, **network_extra},
            **data,
        }
    )


def batch_for(model, n=4, labels=None):
    x = torch.rand(n, *model.data_shape) * 2 - 1
    return [x, torch.zeros(n, dtype=torch.long) if labels is None else labels]


SCHEDULES = ["linear", "cosine", "quadratic", "sigmoid"]


@pytest.mark.parametrize(
    ("network", "schedule"),
    [("cnn-denoiser", s) for s in SCHEDULES]
    + [("mlp-denoiser", s) for s in SCHEDULES]
    + [("cnn-denoiser-large", "cosine")],
)
def test_every_schedule_trains(network, schedule):
    torch.manual_seed(0)
    model = make_ddpm(network, schedule)
    loss = model.compute_loss(batch_for(model))["loss"]
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in model.network.parameters())


SAMPLERS = [("ddpm", None), ("ddpm", 4), ("ddim", 4), ("dpm-solver++", 4)]


@pytest.mark.parametrize(
    ("network", "sampler", "steps"),
    [("cnn-denoiser", *s) for s in SAMPLERS]
    + [("mlp-denoiser", *s) for s in SAMPLERS]
    + [("cnn-denoiser-large", "dpm-solver++", 3)],
)
def test_every_sampler_samples(network, sampler, steps):
    torch.manual_seed(0)
    model = make_ddpm(network, "cosine", timesteps=10)
    out = model.sample(3, sampler=sampler, steps=steps)
    assert out.shape == (3, *model.data_shape)
    assert torch.isfinite(out).all()
    assert model.last_nfe == (steps or 10)


def test_ddpm_fills_channels_and_data_dim():
    model = make_ddpm("cnn-denoiser-large")
    assert (model.network.config.in_channels, model.network.config.out_channels) == (2, 2)
    assert make_ddpm("mlp-denoiser").network.config.data_dim == 2
    assert make_ddpm("mlp-denoiser", timesteps=20).network.config.num_timesteps == 20
    assert make_ddpm("mlp-denoiser", num_timesteps=7).network.config.num_timesteps == 7


def test_large_network_on_28px_data_is_a_clear_config_error():
    data, section = NETWORKS["cnn-denoiser-large"]
    with pytest.raises(ConfigError, match="divisible by 8.*28x28"):
        build_model({"type": "ddpm", "image_size": 28, "channels": 1, "network": section})


def test_class_conditional_training_and_sampling():
    torch.manual_seed(0)
    model = make_ddpm("cnn-denoiser", num_classes=10)
    assert model.num_classes == 10
    labels = torch.tensor([0, 3, 9, 3])
    loss = model.compute_loss(batch_for(model, labels=labels))["loss"]
    loss.backward()
    emb = model.network.label_embedding.weight.grad
    assert emb[[0, 3, 9]].abs().sum(1).gt(0).all() and emb[[1, 2]].abs().sum() == 0
    g = torch.Generator().manual_seed(1)
    threes = model.sample(2, sampler="ddim", steps=3, y=3, generator=g)
    g = torch.Generator().manual_seed(1)
    fives = model.sample(2, sampler="ddim", steps=3, y=torch.tensor([5, 5]), generator=g)
    assert threes.shape == (2, 1, 8, 8) and not torch.allclose(threes, fives)
    with pytest.raises(ConfigError, match=r"labels must be in \[0, 9\]"):
        model.sample(2, sampler="ddim", steps=3, y=10)


def test_labels_are_ignored_by_ddpm_for_unconditional_networks():
    model = make_ddpm("mlp-denoiser")
    loss = model.compute_loss(batch_for(model, labels=torch.tensor([1, 2, 3, 4])))["loss"]
    assert torch.isfinite(loss)


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_example_configs_build(path):
    model = build_model(Config(path))
    sizes = {
        "mlp_moons.yaml": 17_282,
        "cnn_digits.yaml": 858_305,
        "cnn_digits_conditional.yaml": 858_305 + 10 * 128,
        "cnn_mnist5k.yaml": 858_305,
        "cnn_large_cifar_like.yaml": 53_441_795,
    }
    assert model.network.count_parameters() == sizes[path.name]
