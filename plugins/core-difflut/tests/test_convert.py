"""Upstream DiffLUT checkpoints (one module per node) convert to bit-identical models."""

from __future__ import annotations

import pytest
import torch
from core_difflut import build_model
from core_difflut.convert import convert_checkpoint

from core import ConfigError, WeightsError
from core.cli import main as core_main

F, BITS, N_IN, CLASSES = 5, 3, 3, 3
WIDTHS = (12, 9)  # layer 0 random, layer 1 learnable
K = 1 << N_IN


def corners() -> torch.Tensor:
    return torch.tensor([[(a >> j) & 1 for j in range(N_IN)] for a in range(K)]).float()


def node_state(node_type: str, g: torch.Generator) -> dict[str, torch.Tensor]:
    """One upstream node's state_dict entries (names and shapes as upstream v1.4 saves them)."""
    if node_type == "dwn":
        return {"luts": torch.rand(1, K, generator=g), "alpha": torch.tensor(0.28),
                "beta": torch.tensor(1 / 3)}  # fmt: skip
    if node_type == "dwn_stable":
        return {"raw_luts": torch.randn(1, K, generator=g),
                "gradient_scale": torch.tensor(1.25)}  # fmt: skip
    if node_type == "hybrid":
        return {"raw_luts": torch.randn(1, K, generator=g), "binary_combinations": corners()}
    if node_type == "probabilistic":
        return {"raw_weights": torch.randn(K, 1, generator=g), "temperature": torch.tensor(0.5),
                "binary_combinations": corners()}  # fmt: skip
    w = torch.randn(N_IN, 1, generator=g)
    return {"weights": w, "bias": -0.5 * w.sum(0) + 0.1 * torch.randn(1, generator=g)}


def upstream_state(node_type: str) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    state = {
        "encoder.thresholds": torch.rand(F, BITS, generator=g).sort(1).values,
        "layers.0._mapping_indices": torch.randint(F * BITS, (WIDTHS[0], N_IN), generator=g).to(
            torch.int16
        ),
        "layers.1.mapping.W": torch.randn(WIDTHS[1] * N_IN, WIDTHS[0], generator=g),
        "output_layer.tau": torch.tensor(2.0),
    }
    for i, width in enumerate(WIDTHS):
        for j in range(width):
            for key, value in node_state(node_type, g).items():
                state[f"layers.{i}.nodes.{j}.{key}"] = value
    for key in ("raw_luts", "raw_weights"):  # just below 0: sigmoid rounds to 0.5 (reads 1)
        if f"layers.0.nodes.0.{key}" in state:
            state[f"layers.0.nodes.0.{key}"].view(-1)[0] = -1e-9
    return state


def node_outputs(node_type: str, s: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Upstream's forward_eval of one node on binary inputs x (B, n) -> (B,)."""
    addr = (x * 2 ** torch.arange(N_IN)).sum(-1).long()
    if node_type == "dwn":
        return (s["luts"][0, addr] >= 0.5).float()
    if node_type in ("dwn_stable", "hybrid"):
        return (torch.sigmoid(s["raw_luts"])[0, addr] >= 0.5).float()
    if node_type == "probabilistic":
        return (torch.sigmoid(s["raw_weights"] / s["temperature"])[addr, 0] >= 0.5).float()
    return (torch.sigmoid(x @ s["weights"] + s["bias"])[:, 0] >= 0.5).float()


def upstream_forward(node_type: str, state: dict[str, torch.Tensor], x: torch.Tensor):
    """Upstream's eval network straight from the checkpoint: encoder, layers, GroupSum."""
    bits = (x.unsqueeze(-1) > state["encoder.thresholds"]).float().reshape(len(x), -1)
    for i, width in enumerate(WIDTHS):
        if f"layers.{i}._mapping_indices" in state:
            mapped = bits[:, state[f"layers.{i}._mapping_indices"].long()]
        else:
            chosen = state[f"layers.{i}.mapping.W"].argmax(-1)
            mapped = bits[:, chosen].view(len(x), width, N_IN)
        nodes = []
        for j in range(width):
            prefix = f"layers.{i}.nodes.{j}."
            s = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
            nodes.append(node_outputs(node_type, s, mapped[:, j]))
        bits = torch.stack(nodes, 1)
    bits = torch.nn.functional.pad(bits, (0, (-bits.shape[1]) % CLASSES))
    return bits.view(len(x), CLASSES, -1).sum(-1) / state["output_layer.tau"]


@pytest.mark.parametrize(
    "node_type", ["dwn", "dwn_stable", "probabilistic", "hybrid", "linear_lut"]
)
def test_converted_model_equals_upstream_eval(tmp_path, node_type: str) -> None:
    state = upstream_state(node_type)
    torch.save(state, tmp_path / "upstream.pth")
    out = convert_checkpoint(tmp_path / "upstream.pth", tmp_path / "net", num_classes=CLASSES)
    model = build_model(out).eval()
    assert model.config.node_type == node_type.replace("_", "-")
    assert model.config.layer_type == ["random", "learnable"]
    x = torch.rand(400, F)
    expected = upstream_forward(node_type, state, x)
    assert torch.equal(model(x), expected)
    assert len(expected.unique(dim=0)) > 1  # a network that is not constant
    # every truth table, including the entry at -1e-9 that sigmoid rounds up to 0.5
    table = torch.stack(
        [node_outputs(node_type, {k[len(f"layers.0.nodes.{j}.") :]: v for k, v in state.items()
                                  if k.startswith(f"layers.0.nodes.{j}.")}, corners())
         for j in range(WIDTHS[0])]
    )  # fmt: skip
    assert torch.equal(model.layers[0].node.truth_table().float(), table)


def test_options_config_yaml_and_wrapped_checkpoints(tmp_path) -> None:
    state = upstream_state("probabilistic")
    del state["output_layer.tau"]
    torch.save({"model_state_dict": state, "epoch": 3}, tmp_path / "ckpt.pt")
    (tmp_path / "cfg.yaml").write_text(
        "model_type: feedforward\nnode_type: probabilistic\nnum_classes: 3\n"
        "encoder_config: {name: distributive_thermometer, num_bits: 3}\n"
        "runtime: {output_tau: 2.0, temperature: 0.5}\n"
    )
    out = convert_checkpoint(tmp_path / "ckpt.pt", tmp_path / "net", config=tmp_path / "cfg.yaml")
    model = build_model(out).eval()
    assert model.config.encoder_config.name == "distributive-thermometer"
    assert model.config.runtime.temperature == 0.5 and model.config.runtime.tau == 2.0
    x = torch.rand(100, F)
    state["output_layer.tau"] = torch.tensor(2.0)
    assert torch.equal(model(x), upstream_forward("probabilistic", state, x))


@pytest.mark.parametrize(
    ("edit", "error", "match"),
    [
        (lambda s: s.pop("layers.1.nodes.4.luts"), WeightsError, r"layers\.1\.nodes\.4\.luts is missing"),
        (lambda s: s.pop("layers.1.mapping.W"), WeightsError, r"layers\.1 needs _mapping_indices"),
        (lambda s: s.pop("encoder.thresholds"), WeightsError, r"encoder\.thresholds is missing"),
        (lambda s: s.update({"head.weight": torch.ones(1)}), WeightsError, "unexpected key 'head.weight'"),
        (lambda s: s.update({"layers.0.nodes.0.amplitudes": torch.ones(8)}), WeightsError,
         "matches no supported upstream node type"),
        (lambda s: s.update({"layers.2.first_layer_chunks.0.x": torch.ones(1)}), WeightsError,
         "convolutional model"),
        (lambda s: s.update({"layers.0._mapping_indices": torch.zeros(12, 3).long() + 99}),
         WeightsError, "reads input 99 of a 15-wide input"),
    ],
)  # fmt: skip
def test_bad_checkpoints_name_the_problem_and_write_nothing(tmp_path, edit, error, match) -> None:
    state = upstream_state("dwn")
    edit(state)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(error, match=match):
        convert_checkpoint(tmp_path / "bad.pth", tmp_path / "out" / "net", num_classes=CLASSES)
    assert not (tmp_path / "out" / "net").exists()
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_refusals(tmp_path) -> None:
    torch.save({"net": torch.nn.Linear(2, 2)}, tmp_path / "pickled.pth")  # pickled module
    with pytest.raises(WeightsError, match="refused: a checkpoint may hold only tensors"):
        convert_checkpoint(tmp_path / "pickled.pth", tmp_path / "a", num_classes=3)
    torch.save(upstream_state("dwn"), tmp_path / "up.pth")
    with pytest.raises(WeightsError, match="node type 'probabilistic' was given"):
        convert_checkpoint(
            tmp_path / "up.pth", tmp_path / "a", num_classes=3, node_type="probabilistic"
        )
    with pytest.raises(ConfigError, match="give num_classes"):
        convert_checkpoint(tmp_path / "up.pth", tmp_path / "a")
    with pytest.raises(ConfigError, match="only thermometer encoders"):
        convert_checkpoint(tmp_path / "up.pth", tmp_path / "a", num_classes=3, encoder="gray")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("x")
    with pytest.raises(ConfigError, match="not empty"):
        convert_checkpoint(tmp_path / "up.pth", tmp_path / "full", num_classes=3)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_cli_convert(tmp_path, capsys) -> None:
    state = upstream_state("dwn_stable")
    torch.save(state, tmp_path / "up.pth")
    out = tmp_path / "net"
    args = ["difflut", "convert", str(tmp_path / "up.pth"), "-o", str(out), "--num-classes", "3"]
    assert core_main(args) == 0
    assert str(out) in capsys.readouterr().out
    x = torch.rand(50, F)
    assert torch.equal(build_model(out).eval()(x), upstream_forward("dwn_stable", state, x))
    assert core_main(args) == 2  # not empty
    other = ["-o", str(tmp_path / "x"), "--num-classes", "3", "--node-type", "probabilistic"]
    assert core_main([*args[:3], *other]) == 2
    assert not (tmp_path / "x").exists()
