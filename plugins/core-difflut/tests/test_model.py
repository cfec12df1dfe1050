"""The feedforward model, ModelConfig, build_model and the pretrained API."""

from __future__ import annotations

import pytest
import torch
from core_difflut import (
    ModelConfig,
    SimpleFeedForward,
    build_model,
    get_pretrained_model_info,
    list_pretrained_models,
    load_pretrained,
)

from core import ConfigError, PretrainedError
from core.testing import check_component

SMALL = {
    "node_type": "dwn",
    "layer_widths": [24, 12],
    "input_size": 10,
    "num_classes": 3,
    "encoder_config": {"name": "thermometer", "num_bits": 2},
}


def small(**kw) -> SimpleFeedForward:
    torch.manual_seed(0)
    model = build_model(ModelConfig(**{**SMALL, **kw}))
    return model


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("CORE_HOME", str(tmp_path / "store"))
    return tmp_path / "store"


def test_conformance() -> None:
    check_component("model", "feedforward", SMALL)


def test_config_validation_errors() -> None:
    with pytest.raises(ValueError, match="layer_type lists 1 types for 2 layers"):
        ModelConfig(**{**SMALL, "layer_type": ["random"]})
    with pytest.raises(ValueError, match="difflogic needs node_input_dim: 2"):
        ModelConfig(node_type="difflogic")
    with pytest.raises(ValueError, match="unknown regularizer"):
        ModelConfig(runtime={"regularizers": {"l3": 1.0}})
    with pytest.raises(ConfigError, match="unknown key 'layer_width'"):
        build_model({**SMALL, "layer_width": [3]})


def test_model_refuses_to_run_before_fit_encoder() -> None:
    model = small()
    with pytest.raises(ConfigError, match="fit_encoder"):
        model(torch.rand(2, 10))
    model.fit_encoder(torch.rand(20, 10))
    assert model(torch.rand(2, 10)).shape == (2, 3)
    assert model(torch.rand(2, 2, 5)).shape == (2, 3)  # flattened
    with pytest.raises(ConfigError, match=r"expected input \(batch, 10\)"):
        model(torch.rand(2, 11))


def test_training_reduces_the_loss_and_regularizers_add_up() -> None:
    torch.manual_seed(0)
    x = torch.rand(128, 10)
    y = (x[:, 0] > 0.5).long() + (x[:, 1] > 0.5).long()
    model = small(runtime={"tau": 2.0})
    model.fit_encoder(x)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    first = None
    for _ in range(30):
        out = model.compute_loss((x, y))
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        first = first if first is not None else float(out["loss"].detach())
    assert float(out["loss"].detach()) < first * 0.8
    assert float(model.get_regularization_loss()) == 0.0
    model.apply_runtime_overrides(regularizers={"l1": 0.5, "clarity": 0.1})
    expected = sum(
        0.5 * layer.node.regularization("l1") + 0.1 * layer.node.regularization("clarity")
        for layer in model.layers
    )
    assert float(model.get_regularization_loss().detach()) == pytest.approx(
        float(expected.detach()), rel=1e-5
    )


def test_runtime_overrides_reach_the_nodes() -> None:
    model = small()
    model.apply_runtime_overrides(temperature=0.5, eval_mode="sampling", tau=4.0)
    assert model.config.runtime.temperature == 0.5
    assert all(layer.node.config.eval_mode == "sampling" for layer in model.layers)
    assert model.group_sum.config.tau == 4.0
    model.apply_runtime_overrides({"runtime.flip_probability": 0.1})
    assert model.layers[0].node.config.flip_probability == 0.1
    with pytest.raises(ConfigError, match="structural"):
        model.apply_runtime_overrides(layer_widths=[5, 5])


def test_save_and_load_weights_on_a_fresh_model(tmp_path) -> None:
    model = small(layer_type=["learnable", "random"])
    x = torch.randn(40, 10)
    model.fit_encoder(x)
    model.eval()
    model.save_config(tmp_path / "m.yaml")
    model.save_weights(tmp_path / "m.safetensors")
    fresh = build_model(tmp_path / "m.yaml", load_weights=False)
    assert not fresh.encoder.is_fitted
    fresh.load_weights(tmp_path / "m.safetensors").eval()
    assert fresh.encoder.is_fitted
    assert torch.equal(fresh.encoder.thresholds, model.encoder.thresholds)
    assert torch.equal(fresh(x), model(x))


def test_yaml_round_trip(tmp_path) -> None:
    config = ModelConfig(**SMALL, dataset="toy", runtime={"temperature": 0.3})
    path = config.to_yaml(tmp_path / "c.yaml")
    assert ModelConfig.from_yaml(path) == config
    flat = tmp_path / "flat.yaml"
    flat.write_text("model_type: feedforward\nnode_type: polylut\ninput_size: 5\n")
    assert ModelConfig.from_yaml(flat).node_type == "polylut"
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  type: feedforward\n  node_type: nope\n")
    with pytest.raises(ConfigError, match="node_type"):
        ModelConfig.from_yaml(bad)


def test_pretrained_versions_and_overrides(store) -> None:
    model = small()
    x = torch.rand(30, 10)
    model.fit_encoder(x)
    model.eval()
    first = model.save_to_pretrained("tiny")
    second = ModelConfig(**SMALL).save_to_pretrained("tiny", model=model)
    assert (first.version, second.version) == (1, 2)
    with pytest.raises(PretrainedError, match="already exists"):
        model.save_to_pretrained("tiny", version=1)
    with pytest.raises(ConfigError, match="needs the trained model"):
        ModelConfig().save_to_pretrained("x")

    loaded = build_model("tiny")
    assert loaded.config.pretrained and loaded.config.pretrained_name == "tiny"
    assert torch.equal(loaded.eval()(x), model(x))
    assert build_model("feedforward/tiny/v1").config.pretrained_name == "tiny"
    warm = load_pretrained("tiny", temperature=0.25)
    assert warm.config.runtime.temperature == 0.25 and not warm.training
    kept = build_model("tiny", overrides={"runtime.eval_mode": "expectation"})
    assert kept.config.runtime.eval_mode == "expectation"
    with pytest.raises(ConfigError, match="layer_widths"):
        build_model("tiny", overrides={"layer_widths": [4, 4]})
    with pytest.raises(ConfigError, match="node_type"):
        build_model("tiny", overrides=["node_type=probabilistic"])

    listing = list_pretrained_models()
    assert {"tiny/v1", "tiny/v2"} <= set(listing["feedforward"])
    info = get_pretrained_model_info("tiny")
    assert info["version"] == 2 and info["config"]["node_type"] == "dwn"
    assert info["meta"]["parameters"] == model.count_parameters()


@pytest.mark.parametrize("node", ["probabilistic", "linear-lut", "polylut", "neurallut", "fourier"])
def test_every_node_type_builds_a_model(node: str) -> None:
    model = small(node_type=node, node_input_dim=3)
    model.fit_encoder(torch.rand(10, 10))
    out = model.compute_loss((torch.rand(4, 10), torch.tensor([0, 1, 2, 0])))
    out["loss"].backward()
    assert torch.isfinite(out["loss"])


def test_fit_encoder_from_a_dataloader_and_prepare_training() -> None:
    from torch.utils.data import DataLoader, TensorDataset

    x = torch.rand(40, 10)
    loader = DataLoader(TensorDataset(x, torch.zeros(40, dtype=torch.long)), batch_size=16)
    model = small()
    model.prepare_training(loader)
    assert model.encoder.is_fitted
    direct = small().fit_encoder(x)
    assert torch.equal(model.encoder.thresholds, direct.encoder.thresholds)


def test_bundled_digits_split() -> None:
    import numpy as np
    from core_difflut.data import load_dataset, stratified_split

    data = load_dataset("digits")
    assert data["x_train"].shape == (1438, 64) and data["x_test"].shape == (359, 64)
    assert data["x_train"].min() >= 0.0 and data["x_train"].max() <= 1.0
    train, test = stratified_split(np.repeat(np.arange(10), 50), 10, seed=0)
    assert len(test) == 100 and len(set(train) & set(test)) == 0


def test_fsdp_blocks_are_the_lut_layers() -> None:
    from core.testing.checks import check_fsdp_blocks

    model = small()
    assert check_fsdp_blocks(model) == list(model.layers)


def test_fsdp_blocks_none_with_a_regulariser_on() -> None:
    """Regularisers read the layers' weights outside their forward: one unit then."""
    assert small(runtime={"regularizers": {"l1": 0.1}}).fsdp_blocks() == []
