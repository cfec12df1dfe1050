"""A node type another plugin registers works in LUT layers and in the feedforward model."""

from __future__ import annotations

import pytest
import torch
from core_difflut.configs import NodeConfig
from core_difflut.nodes import ProbabilisticNode

import core
from core import hookimpl
from core.schema import ComponentConfig, Field
from core.testing import isolated_manager


class SharpConfig(NodeConfig):
    sharpness: float = Field(2.0, gt=0.0, description="multiplies the logits")


class SharpNode(ProbabilisticNode):
    config_class = SharpConfig

    def soft_table(self) -> torch.Tensor:
        return torch.sigmoid(self.config.sharpness * self.theta / self.config.temperature)


class NotANodeConfig(ComponentConfig):
    input_dim: int = Field(2, description="inputs")


class Plugin:
    @hookimpl
    def register_nodes(self, register):
        register(
            "sharp",
            SharpNode,
            config=SharpConfig,
            description="sharper table",
            aliases=["sharp_v1"],
        )
        register("odd", SharpNode, config=NotANodeConfig, description="wrong config")


@pytest.fixture
def manager():
    with isolated_manager(autoload=True) as manager:
        manager.add_plugin(Plugin(), name="sharp-plugin")
        yield manager


def test_registered_node_in_feedforward_and_layers(manager):
    section = {
        "type": "feedforward",
        "node_type": "sharp",
        "node_input_dim": 2,
        "node_params": {"sharpness": 3.0},
        "input_size": 2,
        "layer_widths": [8, 4],
        "num_classes": 2,
        "encoder_config": {"name": "thermometer", "num_bits": 2},
    }
    model = core.build("model", section)
    assert all(type(layer.node) is SharpNode for layer in model.layers)
    assert model.layers[0].node.config.sharpness == 3.0
    x = torch.rand(16, 2)
    model.fit_encoder(x)
    model(x).sum().backward()
    assert model.layers[0].node.theta.grad is not None
    layer = core.build(
        "layer",
        {
            "type": "learnable",
            "input_dim": 6,
            "output_dim": 3,
            "node": {"type": "sharp-plugin:sharp", "input_dim": 2},
        },
    )
    assert type(layer.node) is SharpNode and layer(torch.rand(5, 6)).shape == (5, 3)


def test_unknown_and_unfit_node_types_are_config_errors(manager):
    base = {"type": "feedforward", "input_size": 2, "node_input_dim": 2}
    with pytest.raises(core.ConfigError, match=r"node_type.*unknown node 'sharpp'.*sharp"):
        core.build("model", {**base, "node_type": "sharpp"})
    with pytest.raises(core.ConfigError, match="NodeConfig"):
        core.build("model", {**base, "node_type": "odd"})
    with pytest.raises(core.ConfigError, match="sharpness"):
        core.build("model", {**base, "node_type": "sharp", "node_params": {"sharpness": -1}})


def test_names_resolve_through_cores_registry(manager):
    """One alias table: core's registry; a registered alias is saved as its canonical name."""
    from core_difflut.configs import LayerConfig, ModelConfig

    assert LayerConfig(node={"type": "sharp_v1", "input_dim": 2}).node["type"] == "sharp"
    config = ModelConfig(node_type="sharp-plugin:sharp", node_input_dim=2, input_size=2)
    assert config.node_type == "sharp"
