"""Upstream DiffLUT parity: name aliases, DWN alpha/beta, dwn-stable's gradient convention,
the wiring temperature schedule and the WARP node."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from core_difflut import kernels, names
from core_difflut.api import build_model
from core_difflut.configs import (
    ENCODER_NAMES,
    NODE_CONFIGS,
    NODE_NAMES,
    LayerConfig,
    WiringTemperature,
)
from core_difflut.encoders import ENCODER_CLASSES, build_encoder
from core_difflut.layers import LearnableLayer
from core_difflut.nodes import NODE_CLASSES, node_class
from core_difflut.training import TrainSettings, train_classifier

import core
from core import ConfigError
from core.building import get_entry

DOC = Path(__file__).resolve().parents[3] / "docs" / "models" / "difflut.md"

# upstream DiffLUT v1.4.4's registered names (REFERENCES.md)
UPSTREAM_NODES = [
    "linear_lut",
    "polylut",
    "neurallut",
    "dwn",
    "dwn_stable",
    "probabilistic",
    "fourier",
    "hybrid",
    "difflogic",
    "warp",
]
UPSTREAM_ENCODERS = ["thermometer", "gaussian_thermometer", "distributive_thermometer", "gray"]


def hamming_without(a: int, k: int, i: int) -> int:
    return bin((a ^ k) & ~(1 << i)).count("1")


# -- names ---------------------------------------------------------------------------------------
def test_one_declaration_feeds_every_list() -> None:
    assert NODE_NAMES == tuple(names.NODES) == tuple(NODE_CLASSES) == tuple(NODE_CONFIGS)
    assert ENCODER_NAMES == tuple(names.ENCODERS) == tuple(ENCODER_CLASSES)
    for name, (cls, cfg, _) in names.NODES.items():
        entry = get_entry("node", name)
        assert entry.load() is NODE_CLASSES[name] and NODE_CLASSES[name].__name__ == cls
        assert entry.load_config() is NODE_CONFIGS[name] and NODE_CONFIGS[name].__name__ == cfg
        assert NODE_CLASSES[name].config_class is NODE_CONFIGS[name], name
        assert set(entry.aliases) == set(names.upstream_aliases("node", name))
    for name, (cls, cfg, _) in names.ENCODERS.items():
        entry = get_entry("encoder", name)
        assert entry.load() is ENCODER_CLASSES[name] and ENCODER_CLASSES[name].__name__ == cls
        assert entry.load_config().__name__ == cfg
        assert ENCODER_CLASSES[name].config_class is entry.load_config(), name


def _registered_aliases() -> dict[str, dict[str, str]]:
    """kind -> {alias: name} of core-difflut's nodes and encoders, read from core's registry."""
    return {
        kind: {
            alias: e.name
            for e in core.get_manager().registry.entries(kind)
            if e.plugin == "difflut"
            for alias in e.aliases
        }
        for kind in ("node", "encoder")
    }


def test_every_upstream_name_resolves_to_ours() -> None:
    assert _registered_aliases()["node"] == {
        "dwn_stable": "dwn-stable",
        "linear_lut": "linear-lut",
    }
    for name in UPSTREAM_NODES:
        ours = names.canonical("node", name)
        assert ours in NODE_NAMES
        assert node_class(name) is NODE_CLASSES[ours]
        assert get_entry("node", name).name == ours
    for name in UPSTREAM_ENCODERS + ["sign_magnitude"]:
        ours = names.canonical("encoder", name)
        assert ours in ENCODER_NAMES and get_entry("encoder", name).name == ours
        assert type(build_encoder(name, num_bits=2)) is ENCODER_CLASSES[ours]
    assert names.canonical("node", "not_a_node") == "not_a_node"


def test_an_exception_outside_the_rule_is_one_table_entry(monkeypatch) -> None:
    monkeypatch.setitem(names.UPSTREAM_EXCEPTIONS, ("node", "lut_dwn"), "dwn")
    assert names.upstream_aliases("node", "dwn") == ("lut_dwn",)
    assert names.upstream_aliases("node", "dwn-stable") == ("dwn_stable",)


def test_upstream_spellings_build_the_same_model_and_save_canonical_names(tmp_path) -> None:
    base = {
        "layer_type": "learnable",
        "layer_widths": [12, 6],
        "input_size": 5,
        "num_classes": 3,
        "node_input_dim": 3,
    }
    upstream = tmp_path / "upstream.yaml"
    upstream.write_text(
        yaml.safe_dump(
            {
                "model": {
                    "type": "feedforward",
                    "node_type": "dwn_stable",
                    "encoder_config": {"name": "gaussian_thermometer", "num_bits": 2},
                    **base,
                }
            }
        )
    )
    ours = {
        "node_type": "dwn-stable",
        "encoder_config": {"name": "gaussian-thermometer", "num_bits": 2},
        **base,
    }
    a, b = build_model(upstream), build_model(ours)
    assert a.config == b.config
    assert a.config.node_type == "dwn-stable"
    assert a.config.encoder_config.name == "gaussian-thermometer"
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    saved = yaml.safe_load(a.save_config(tmp_path / "saved.yaml").read_text())["model"]
    assert saved["node_type"] == "dwn-stable"
    assert saved["encoder_config"]["name"] == "gaussian-thermometer"
    layer = LayerConfig(node={"type": "linear_lut", "input_dim": 2})
    assert layer.node["type"] == "linear-lut"
    built = core.build("layer", {"type": "random", "node": {"type": "dwn_stable"}})
    assert type(built.node) is NODE_CLASSES["dwn-stable"]


def test_doc_alias_table_matches_the_declaration() -> None:
    text = DOC.read_text()
    section = text.split("## Coming from upstream DiffLUT", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (node|encoder) \| `([^`]+)` \| `([^`]+)` \|", section, re.M)
    assert sorted(rows) == sorted(
        (kind, alias, ours)
        for kind, table in _registered_aliases().items()
        for alias, ours in table.items()
    )


# -- dwn alpha / beta ----------------------------------------------------------------------------
def test_dwn_alpha_beta_reach_the_finite_difference_gradient() -> None:
    n, alpha, beta = 3, 0.2, 0.5
    torch.manual_seed(0)
    node = NODE_CLASSES["dwn"]({"num_nodes": 1, "input_dim": n, "alpha": alpha, "beta": beta})
    x = torch.tensor([[[0.2, 0.8, 0.9]]], requires_grad=True)  # address 0b110 = 6
    node.train()(x).sum().backward()
    table = node.table.detach()[0]
    for i in range(n):
        expected = sum(
            alpha * (1 if (k >> i) & 1 else -1) * table[k].item() * beta ** hamming_without(6, k, i)
            for k in range(1 << n)
        )
        assert x.grad[0, 0, i].item() == pytest.approx(expected, rel=1e-5)
    # the default stays 0.5 * 0.75**(n-1) and 1/3; weights are cached per (n, alpha, beta)
    default = NODE_CLASSES["dwn"]({"num_nodes": 1, "input_dim": n})
    assert torch.equal(default._weights(), kernels.efd_weights(n, 0.5 * 0.75**2, 1 / 3))
    assert node._weights() is node._weights()
    assert not torch.equal(node._weights(), default._weights())


@pytest.mark.parametrize(
    ("params", "field"),
    [({"beta": 0.0}, "beta"), ({"beta": 1.5}, "beta"), ({"alpha": -1}, "alpha")],
)
def test_dwn_alpha_beta_ranges(params, field) -> None:
    with pytest.raises(ConfigError, match=field):
        core.build("node", {"type": "dwn", **params})
    with pytest.raises(ConfigError, match=field):
        core.build("model", {"type": "feedforward", "node_type": "dwn", "node_params": params})


# -- dwn-stable gradient conventions -------------------------------------------------------------
def upstream_dwn_stable_grads(raw, bits, grad_out, scale=1.25):
    """Upstream DiffLUT's dwn_stable backward, written out from its CPU/CUDA formula:
    dx_i = scale * sum_k (-1)^(1-k_i) sigmoid(raw)_k / (H_i(a, k) + 1) * g, and
    d table[a] = scale * g (then through the sigmoid)."""
    nodes, k_size = raw.shape
    batch, _, n = bits.shape
    lut = torch.sigmoid(raw)
    gx = torch.zeros(batch, nodes, n, dtype=torch.float64)
    graw = torch.zeros(nodes, k_size, dtype=torch.float64)
    for b in range(batch):
        for j in range(nodes):
            a = sum(int(bits[b, j, i] >= 0.5) << i for i in range(n))
            g = float(grad_out[b, j])
            graw[j, a] += scale * g * float(lut[j, a] * (1 - lut[j, a]))
            for i in range(n):
                gx[b, j, i] = (
                    scale
                    * g
                    * sum(
                        (1 if (k >> i) & 1 else -1)
                        * float(lut[j, k])
                        / (hamming_without(a, k, i) + 1)
                        for k in range(k_size)
                    )
                )
    return gx, graw


def test_dwn_stable_upstream_setting_reproduces_upstream_gradients() -> None:
    torch.manual_seed(1)
    n, nodes, batch = 3, 2, 5
    node = NODE_CLASSES["dwn-stable"](
        {
            "num_nodes": nodes,
            "input_dim": n,
            "gradient_normalization": "none",
            "gradient_scale": 1.25,
        }
    ).train()
    x = torch.rand(batch, nodes, n, requires_grad=True)
    grad_out = torch.randn(batch, nodes)
    node(x).backward(grad_out)
    gx, graw = upstream_dwn_stable_grads(node.raw.detach(), x.detach(), grad_out)
    assert torch.allclose(x.grad.double(), gx, rtol=1e-5, atol=1e-6)
    assert torch.allclose(node.raw.grad.double(), graw, rtol=1e-5, atol=1e-7)


def test_dwn_stable_default_convention_is_unchanged_and_13x_smaller_than_upstream() -> None:
    n = 6
    torch.manual_seed(0)
    ours = NODE_CLASSES["dwn-stable"]({"num_nodes": 1, "input_dim": n}).train()
    theirs = NODE_CLASSES["dwn-stable"](
        {"num_nodes": 1, "input_dim": n, "gradient_normalization": "none", "gradient_scale": 1.25}
    ).train()
    theirs.load_state_dict(ours.state_dict())
    x = torch.rand(4, 1, n)
    grads = []
    for node in (ours, theirs):
        xg = x.clone().requires_grad_(True)
        node(xg).sum().backward()
        grads.append(xg.grad)
    ratio = 1.25 * ((1 << n) - 1) / n  # 13.125
    assert torch.allclose(grads[1], grads[0] * ratio, rtol=1e-4, atol=1e-6)
    assert torch.allclose(theirs.raw.grad, 1.25 * ours.raw.grad)
    # ours: an identity LUT (output = input 0) passes gradient 1 to that input at every address
    with torch.no_grad():
        ours.raw.copy_(torch.where(kernels.corners(n)[:, 0] > 0, 30.0, -30.0).unsqueeze(0))
    bits = (torch.rand(8, 1, n) > 0.5).float().requires_grad_(True)
    ours(bits).sum().backward()
    assert torch.allclose(bits.grad[..., 0], torch.ones(8, 1), atol=1e-6)
    with pytest.raises(ConfigError, match="gradient_normalization"):
        NODE_CLASSES["dwn-stable"]({"gradient_normalization": "upstream"})


# -- wiring temperature --------------------------------------------------------------------------
def test_wiring_temperature_schedules() -> None:
    lin = WiringTemperature(start=2.0, end=0.5, schedule="linear")
    cos = WiringTemperature(start=2.0, end=0.5, schedule="cosine")
    exp = WiringTemperature(start=2.0, end=0.5, schedule="exponential")
    assert [lin.at(s, 5) for s in range(5)] == pytest.approx([2.0, 1.625, 1.25, 0.875, 0.5])
    assert cos.at(0, 5) == 2.0 and cos.at(2, 5) == pytest.approx(1.25)
    assert cos.at(1, 5) == pytest.approx(0.5 + 1.5 * 0.5 * (1 + math.cos(math.pi / 4)))
    assert exp.at(2, 5) == pytest.approx(1.0) and exp.at(4, 5) == pytest.approx(0.5)
    assert WiringTemperature(start=0.3).at(7, 10) == 0.3
    assert lin.at(99, 10) == 0.5  # past the end stays at end
    with pytest.raises(ValueError, match="constant"):
        WiringTemperature(start=2.0, end=0.5)
    with pytest.raises(ConfigError, match="mapping_temperature"):
        core.build(
            "model",
            {"type": "feedforward", "runtime": {"mapping_temperature": {"start": -1}}},
        )


def test_learnable_layer_softmax_uses_the_temperature() -> None:
    torch.manual_seed(0)
    layer = LearnableLayer(
        input_dim=6,
        output_dim=2,
        node={"type": "probabilistic", "input_dim": 2},
        mapping_temperature={"start": 4.0, "end": 0.25, "schedule": "exponential"},
    ).train()
    x = torch.rand(6, 3)
    for step, temp in ((0, 4.0), (2, 0.25)):
        layer.on_train_progress(step, 3)
        assert layer.wiring_temperature == pytest.approx(temp)
        mapping = layer.mapping.detach().clone().requires_grad_(True)
        soft = torch.softmax(mapping / temp, -1) @ x
        upstream = torch.randn(4, 3)
        soft.backward(upstream)
        layer.mapping.grad = None
        layer.gather(x).reshape(4, 3).backward(upstream)
        assert torch.allclose(layer.mapping.grad, mapping.grad, atol=1e-6)


def test_train_classifier_drives_the_schedule() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((40, 4)).astype(np.float32)
    y = (x[:, 0] > 0.5).astype(np.int64)
    seen: list[tuple[int, int]] = []
    config = {
        "node_type": "dwn",
        "node_input_dim": 2,
        "layer_type": "learnable",
        "layer_widths": [8],
        "input_size": 4,
        "num_classes": 2,
        "encoder_config": {"name": "thermometer", "num_bits": 2},
        "runtime": {"mapping_temperature": {"start": 2.0, "end": 0.5, "schedule": "linear"}},
    }
    original = LearnableLayer.on_train_progress

    def spy(self, step, total):
        seen.append((step, total))
        original(self, step, total)

    data = {"x_train": x, "y_train": y, "x_test": x, "y_test": y}
    settings = TrainSettings(epochs=2, batch_size=16, log=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(LearnableLayer, "on_train_progress", spy)
        model, _ = train_classifier(config, data, settings)
    assert seen == [(s, 6) for s in range(6)]  # 2 epochs x 3 batches
    assert model.layers[0].wiring_temperature == pytest.approx(0.5)
    model.apply_runtime_overrides(mapping_temperature={"start": 3.0})
    assert model.layers[0].wiring_temperature == 3.0
    assert model.layers[0].config.mapping_temperature.start == 3.0


# -- WARP ----------------------------------------------------------------------------------------
def test_warp_is_a_sigmoid_of_a_walsh_expansion() -> None:
    torch.manual_seed(0)
    n, temp = 3, 0.7
    node = NODE_CLASSES["warp"]({"num_nodes": 2, "input_dim": n, "temperature": temp}).train()
    x = torch.rand(5, 2, n, dtype=torch.float32)
    c = node.coefficients.detach()
    signed = 2 * x - 1  # (B, N, n)
    logits = torch.zeros(5, 2)
    for s in range(1 << n):
        term = torch.ones(5, 2)
        for i in range(n):
            if (s >> i) & 1:
                term = term * signed[..., i]
        logits += c[:, s] * term
    assert torch.allclose(node(x), torch.sigmoid(logits / temp), atol=1e-6)
    # the hard form is the sign of the expansion on the corners
    corners = kernels.corners(n)
    corner_logits = torch.stack(
        [
            sum(
                c[j, s] * math.prod(2 * corners[a, i] - 1 for i in range(n) if (s >> i) & 1)
                for s in range(1 << n)
            )
            for j in range(2)
            for a in range(1 << n)
        ]
    ).view(2, 1 << n)
    assert torch.equal(node.truth_table(), corner_logits >= 0)
    xg = x.clone().requires_grad_(True)
    node(xg).sum().backward()
    assert node.coefficients.grad.abs().sum() > 0 and xg.grad.abs().sum() > 0


# -- upstream bugs we do not copy ----------------------------------------------------------------
@pytest.mark.parametrize("name", ["dwn", "dwn-stable", "hybrid"])
def test_eval_thresholds_fractional_inputs(name: str) -> None:
    # upstream evaluates floor(sum_j x_j 2^j): address 1 for (0.6, 0.6) and 0 for (0.9, 0.0)
    node = NODE_CLASSES[name]({"num_nodes": 1, "input_dim": 2}).eval()
    table = node.truth_table()[0].float()
    x = torch.tensor([[[0.6, 0.6]], [[0.9, 0.0]], [[0.4, 0.7]]])
    assert node(x)[:, 0].tolist() == [table[3].item(), table[1].item(), table[2].item()]


def test_hybrid_input_gradient_on_binary_inputs() -> None:
    # upstream's Pr(a|x) (a_j - x_j) / (x_j (1 - x_j) + eps) is exactly 0 here
    torch.manual_seed(0)
    n = 3
    node = NODE_CLASSES["hybrid"]({"num_nodes": 1, "input_dim": n}).train()
    table = node.soft_table().detach()[0]
    x = torch.tensor([[[1.0, 0.0, 1.0]]], requires_grad=True)  # address 0b101 = 5
    node(x).sum().backward()
    expected = [table[5 | (1 << i)] - table[5 & ~(1 << i)] for i in range(n)]
    assert torch.allclose(x.grad[0, 0], torch.stack(expected), atol=1e-6)
    assert x.grad.abs().min() > 0
