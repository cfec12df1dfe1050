"""The example model: conformance, shapes, errors and that it learns."""

from __future__ import annotations

import pytest
import torch
from core import ConfigError, DataError, build
from core.testing import check_component

NAME = "{{ cookiecutter.__name }}"
SMALL = {"image_size": 8, "channels": 1, "latent_dim": 4, "hidden": 32}


def test_conformance() -> None:
    report = check_component("model", NAME, SMALL)
    assert "save-load" in report.checks


def test_bad_config_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="latent_dim"):
        build("model", {"type": NAME, "image_size": 4, "channels": 1, "latent_dim": 16})
    with pytest.raises(ConfigError):
        build("model", {"type": NAME, "hidden": 0})


def test_shapes_and_sample_range() -> None:
    torch.manual_seed(0)
    model = build("model", {"type": NAME, **SMALL})
    out = model(torch.rand(3, 1, 8, 8))
    assert out["recon"].shape == (3, 1, 8, 8)
    assert out["mu"].shape == out["logvar"].shape == (3, 4)
    samples = model.sample(5)
    assert samples.shape == (5, 1, 8, 8)
    assert float(samples.min()) >= 0.0 and float(samples.max()) <= 1.0


def test_wrong_input_shape_names_expected_and_given() -> None:
    model = build("model", {"type": NAME, **SMALL})
    with pytest.raises(ConfigError, match=r"expected images of shape \(batch, 1, 8, 8\)"):
        model(torch.rand(2, 1, 16, 16))


def test_data_outside_unit_range_is_a_data_error() -> None:
    model = build("model", {"type": NAME, **SMALL})
    with pytest.raises(DataError, match="value_range"):
        model.compute_loss(torch.rand(4, 1, 8, 8) * 2 - 1)


def test_runtime_parameters_change_on_a_built_model() -> None:
    model = build("model", {"type": NAME, **SMALL})
    assert model.apply_runtime_overrides(temperature=0.5) == {"temperature": 0.5}
    with pytest.raises(ConfigError, match="structural"):
        model.apply_runtime_overrides(latent_dim=2)


def test_loss_decreases_on_digits() -> None:
    from sklearn.datasets import load_digits

    torch.manual_seed(0)
    images = torch.tensor(load_digits().images[:256], dtype=torch.float32).unsqueeze(1) / 16.0
    model = build("model", {"type": NAME, **SMALL})
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for step in range(60):
        batch = images[(step * 32) % 256 :][:32]
        loss = model.compute_loss([batch, torch.zeros(len(batch))])["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    assert sum(losses[-10:]) / 10 < 0.8 * sum(losses[:10]) / 10
