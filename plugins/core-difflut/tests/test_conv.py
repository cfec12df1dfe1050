"""Convolutional LUT layers and the conv-feedforward model: references, save/load, exports."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from core_difflut import build_model
from core_difflut.conv import ConvLUTLayer, unroll_conv_layer
from core_difflut.conv_configs import ConvModelConfig
from core_difflut.export import export_model

from core import ConfigError
from core.testing import check_component

from .conftest import exports_agree, fit

LAYER = {"in_channels": 2, "height": 5, "width": 6, "out_channels": 4, "kernel_size": 3}
SMALL = {
    "node_type": "dwn",
    "image_shape": [1, 6, 6],
    "conv_layers": [{"out_channels": 6, "kernel_size": 3, "padding": 1}],
    "layer_widths": [30],
    "num_classes": 3,
    "encoder_config": {"name": "thermometer", "num_bits": 2},
}


def reference(layer: ConvLUTLayer, x: torch.Tensor) -> torch.Tensor:
    """Hard outputs straight from F.unfold and the truth tables, (B, O, H', W')."""
    c = layer.config
    patches = F.unfold(x, c.kernel_size, padding=c.padding, stride=c.stride)  # (B, Ckk, P)
    bits = patches[:, layer.indices, :] >= 0.5  # (B, O, n, P)
    addr = (bits.long() << torch.arange(layer.n).view(1, 1, -1, 1)).sum(2)  # (B, O, P)
    table = layer.node.truth_table().float()  # (O, K)
    out = torch.stack([table[o][addr[:, o]] for o in range(c.out_channels)], 1)
    return out.view(x.shape[0], c.out_channels, c.out_height, c.out_width)


def test_conformance() -> None:
    check_component("layer", "convolutional", {**LAYER, "node": {"type": "dwn", "input_dim": 4}})
    check_component("model", "conv-feedforward", SMALL)


@pytest.mark.parametrize(
    ("node", "n", "stride", "padding"),
    [("dwn", 6, 1, 0), ("probabilistic", 4, 2, 1), ("difflogic", 2, 1, 2), ("linear-lut", 3, 3, 0)],
)
def test_eval_is_the_truth_table_reference(node: str, n: int, stride: int, padding: int) -> None:
    torch.manual_seed(0)
    layer = ConvLUTLayer(
        **{**LAYER, "stride": stride, "padding": padding}, node={"type": node, "input_dim": n}
    ).eval()
    x = (torch.rand(3, 2, 5, 6) > 0.5).float()
    out = layer(x)
    assert out.shape == (3, 4, layer.config.out_height, layer.config.out_width)
    assert torch.equal(out, reference(layer, x))
    assert 0 < out.mean() < 1  # not a constant network


def test_training_path_reads_the_same_receptive_fields() -> None:
    torch.manual_seed(0)
    layer = ConvLUTLayer(**LAYER, padding=1, node={"type": "probabilistic", "input_dim": 5})
    x = torch.rand(2, 2, 5, 6, requires_grad=True)
    out = layer.train()(x)
    patches = F.unfold(x, 3, padding=1)  # (B, Ckk, P)
    node_in = patches[:, layer.indices, :].permute(1, 2, 3, 0)  # (O, n, P, B)
    expected = layer.node.relaxed(node_in.reshape(4, 5, -1)).view(4, -1, 2).permute(2, 0, 1)
    assert torch.allclose(out.reshape(2, 4, -1), expected, atol=1e-6)
    out.sum().backward()
    assert x.grad.abs().sum() > 0 and layer.node.theta.grad.abs().sum() > 0


def test_receptive_field_connectivity_is_seeded_and_covers_the_field() -> None:
    a = ConvLUTLayer(**LAYER, seed=3, node={"type": "dwn", "input_dim": 6})
    b = ConvLUTLayer(**LAYER, seed=3, node={"type": "dwn", "input_dim": 6})
    c = ConvLUTLayer(**LAYER, seed=4, node={"type": "dwn", "input_dim": 6})
    assert torch.equal(a.indices, b.indices) and not torch.equal(a.indices, c.indices)
    assert a.indices.shape == (4, 6)
    assert set(a.indices.flatten().tolist()) == set(range(18))  # 24 slots over 2*3*3 inputs


def test_unrolled_layer_equals_the_conv_layer_with_padding() -> None:
    torch.manual_seed(1)
    layer = ConvLUTLayer(**LAYER, padding=2, stride=2, node={"type": "dwn", "input_dim": 5})
    layer.eval()
    x = (torch.rand(9, 2, 5, 6) > 0.5).float()
    flat = unroll_conv_layer(layer)
    bits = x.reshape(9, -1).numpy().astype(np.int64)[:, flat["indices"]]  # (B, O*P, n)
    addr = (bits << np.arange(5)).sum(-1)
    got = np.take_along_axis(flat["tables"][None], addr[..., None], 2)[..., 0]
    assert np.array_equal(got, layer(x).reshape(9, -1).numpy())


def test_layer_errors() -> None:
    layer = ConvLUTLayer(**LAYER, node={"type": "dwn", "input_dim": 3})
    with pytest.raises(ConfigError, match=r"expected input \(batch, 2, 5, 6\)"):
        layer(torch.rand(1, 2, 6, 5))
    with pytest.raises(ConfigError, match="does not fit"):
        check_component("layer", "convolutional", {**LAYER, "kernel_size": 7})
    with pytest.raises(ValueError, match="padding 3 must be smaller than kernel_size 3"):
        ConvModelConfig(conv_layers=[{"kernel_size": 3, "padding": 3}])
    with pytest.raises(ValueError, match=r"conv_layers\[1\]: kernel_size 5 does not fit the 2x2"):
        ConvModelConfig(conv_layers=[{"kernel_size": 3, "stride": 3}, {"kernel_size": 5}])
    with pytest.raises(ValueError, match="input_size 10 != channels"):
        ConvModelConfig(input_size=10)


def trained(node: str = "dwn", **kw):
    torch.manual_seed(0)
    model = build_model(ConvModelConfig(**{**SMALL, "node_type": node, **kw}))
    x = torch.rand(300, 36)
    y = (x[:, :18].mean(1) > 0.5).long() + (x[:, 18:].mean(1) > 0.5).long()
    losses = fit(model, x, y, steps=12, lr=0.05)
    return model, x, losses


def test_model_trains_saves_and_loads(tmp_path) -> None:
    model, x, losses = trained(layer_type="learnable")
    assert losses[-1] < losses[0]
    assert model.config.input_size == 36 and len(model.node_layers) == 2
    model.save_pretrained(tmp_path / "m", name="m")
    loaded = build_model(tmp_path / "m")
    assert type(loaded) is type(model) and torch.equal(loaded.eval()(x), model(x))
    yaml_loaded = build_model(tmp_path / "m" / "m.yaml", load_weights=False)
    assert yaml_loaded.config == model.config
    assert build_model({"type": "conv-feedforward", **SMALL}).config.conv_layers[0].padding == 1
    model.apply_runtime_overrides(temperature=0.5, eval_mode="expectation", regularizers={"l1": 1})
    assert model.conv_layers[0].node.config.eval_mode == "expectation"
    assert float(model.get_regularization_loss()) > 0


@pytest.mark.parametrize(("node", "n"), [("dwn", 6), ("probabilistic", 4)])
def test_numpy_and_c_exports_are_bit_exact(tmp_path, node: str, n: int) -> None:
    model, x, _ = trained(node, node_input_dim=n)
    spec = model.export_spec()
    assert spec["layers"][0]["indices"].shape == (6 * 36, n)  # 6 channels x 36 positions
    exports_agree(model, x, tmp_path)


@pytest.mark.slow
def test_verilog_export_is_bit_exact(tmp_path) -> None:
    if shutil.which("iverilog") is None or shutil.which("vvp") is None:
        pytest.skip("Icarus Verilog (iverilog, vvp) is not installed: apt-get install iverilog")
    from core_difflut.export import verilog_options
    from core_difflut.export.integer_inputs import IntegerInputs
    from core_difflut.export.verilog_sim import simulate_verilog

    model, _, _ = trained(dataset="digits", conv_layers=[{"out_channels": 3, "kernel_size": 3}])
    q = np.random.default_rng(0).integers(0, 17, size=(64, 36))
    x = torch.from_numpy(IntegerInputs(bits=5, scale=16.0).features(q))
    export_model(model, tmp_path, "verilog", verilog=verilog_options(model))
    assert np.array_equal(simulate_verilog(tmp_path, q), model.predict(x).numpy())


def test_conv_config_reads_its_own_yaml_and_refuses_the_other_family(tmp_path):
    from core_difflut.configs import ModelConfig
    from core_difflut.conv_configs import ConvModelConfig

    from core.errors import ConfigError

    config = ConvModelConfig(
        node_type="dwn",
        image_shape=[1, 8, 8],
        encoder_config={"name": "thermometer", "num_bits": 2},
        conv_layers=[{"out_channels": 4, "kernel_size": 3, "padding": 1}],
        layer_widths=[50],
    )
    path = config.to_yaml(tmp_path / "conv.yaml")
    assert ConvModelConfig.from_yaml(path) == config
    with pytest.raises(ConfigError, match="not a DiffLUT feedforward model"):
        ModelConfig.from_yaml(path)
    flat = ModelConfig(layer_widths=[10], input_size=4).to_yaml(tmp_path / "flat.yaml")
    with pytest.raises(ConfigError, match="not a DiffLUT conv-feedforward model"):
        ConvModelConfig.from_yaml(flat)
