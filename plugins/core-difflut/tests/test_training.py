"""train_classifier: seeds, determinism and the held-out score."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from core_difflut.configs import ModelConfig
from core_difflut.training import PRESETS, TrainSettings, evaluate, train_classifier


def _data(n: int = 96, seed: int = 0) -> dict[str, np.ndarray]:
    g = np.random.default_rng(seed)
    x = g.random((2 * n, 8), dtype=np.float32)
    y = (x[:, 0] > x[:, 1]).astype(np.int64)
    return {"x_train": x[:n], "y_train": y[:n], "x_test": x[n:], "y_test": y[n:]}


def _config() -> ModelConfig:
    return ModelConfig(
        node_type="dwn",
        layer_type="learnable",
        layer_widths=[20],
        mapping_candidates=4,
        input_size=8,
        num_classes=2,
        encoder_config={"name": "thermometer", "num_bits": 3},
    )


def _train(seed: int):
    settings = TrainSettings(epochs=2, batch_size=32, seed=seed, threads=1, log=False)
    return train_classifier(_config(), _data(), settings)


def test_seed_zero_builds_the_configured_model_and_a_seed_offsets_it():
    model0, stats0 = _train(0)
    again, stats_again = _train(0)
    model1, _ = _train(1)
    assert model0.config.seed == 42 and model1.config.seed == 43
    state0, state_again = model0.state_dict(), again.state_dict()
    assert all(torch.equal(state0[k], state_again[k]) for k in state0)
    assert stats0["test_accuracy"] == stats_again["test_accuracy"]
    assert not torch.equal(model0.layers[0].pool, model1.layers[0].pool)


def test_a_dict_config_gets_the_same_offset():
    settings = TrainSettings(epochs=1, batch_size=32, seed=2, threads=1, log=False)
    model, stats = train_classifier(_config().model_dump(), _data(), settings)
    assert model.config.seed == 44
    assert 0.0 <= stats["test_accuracy"] <= 1.0


def test_validation_accuracy_is_reported_per_epoch_and_at_the_end():
    data = _data()
    data |= {"x_val": data["x_test"][:40], "y_val": data["y_test"][:40]}
    settings = TrainSettings(epochs=2, batch_size=32, threads=1, log=False)
    model, stats = train_classifier(_config(), data, settings)
    assert stats["validation_accuracy"] == evaluate(model, data["x_val"], data["y_val"])
    assert [("val_accuracy" in row) for row in settings.history] == [True, True]
    assert settings.history[-1]["val_accuracy"] == stats["validation_accuracy"]
    assert "validation_accuracy" not in _train(0)[1]


@pytest.mark.parametrize("name", ["digits-dwn", "mnist5k-dwn"])
def test_shipped_config_files_describe_their_preset(name):
    """configs/<preset>.yaml is the preset scripts/train.py trains: every model key agrees."""
    import yaml

    path = Path(__file__).resolve().parents[1] / "configs" / f"{name}.yaml"
    model = yaml.safe_load(path.read_text())["model"]
    for key, value in PRESETS[name]["config"].items():
        if key == "runtime":
            assert model["runtime"]["tau"] == value["tau"]
            continue
        got = model[key]
        assert value in (got, [got]), f"{path.name}: {key} is {got!r}, the preset says {value!r}"
