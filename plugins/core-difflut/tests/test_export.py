"""Exports are bit-exact with the PyTorch model's evaluation-mode predictions."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from core_difflut import ModelConfig, build_model
from core_difflut.export import export_model
from core_difflut.export.c import CNetwork
from core_difflut.export.numpy_eval import load as load_numpy
from core_difflut.export.spec import network_spec
from core_difflut.export.verilog import simulate_verilog

from core.cli import main as core_main

CASES = [
    ("dwn", "thermometer", 6, ["learnable", "random"]),
    ("probabilistic", "gray", 4, "random"),
    ("difflogic", "sign-magnitude", 2, "random"),
    ("polylut", "onehot", 3, "random"),
    ("linear-lut", "distributive-thermometer", 1, "random"),
]


def trained(node: str, encoder: str, n: int, layer_type, features: int = 12):
    torch.manual_seed(0)
    config = ModelConfig(
        node_type=node,
        node_input_dim=n,
        layer_type=layer_type,
        layer_widths=[48, 30],
        input_size=features,
        num_classes=3,
        encoder_config={"name": encoder, "num_bits": 3},
    )
    model = build_model(config)
    x = torch.randn(400, features)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    model.fit_encoder(x)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    model.train()
    for _ in range(8):
        loss = model.compute_loss((x, y))["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval(), x


@pytest.mark.parametrize(("node", "encoder", "n", "layer_type"), CASES)
def test_numpy_and_c_exports_are_bit_exact(tmp_path, node, encoder, n, layer_type) -> None:
    model, x = trained(node, encoder, n, layer_type)
    expected = model.predict(x).numpy()
    assert len(np.unique(expected)) > 1  # a network that predicts more than one class
    export_model(model, tmp_path / "np", "numpy")
    assert np.array_equal(
        load_numpy(str(tmp_path / "np" / "model.npz")).predict(x.numpy()), expected
    )
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed: C export not compiled")
    export_model(model, tmp_path / "c", "c", build=True)
    net = CNetwork(tmp_path / "c")
    assert np.array_equal(net.predict(x.numpy()), expected)
    bits = model.encode(x).numpy().astype(np.uint8)
    assert np.array_equal(net.predict_packed(net.pack(bits))[: len(x)], expected)


def test_truth_tables_and_scores_match_torch(tmp_path) -> None:
    model, x = trained("dwn", "thermometer", 6, "random")
    spec = network_spec(model)
    assert spec["layers"][0]["tables"].shape == (48, 64)
    net = load_numpy_from_spec(spec)
    planes = net.run_planes(_pack(model.encode(x).numpy()))
    scores = net.scores(planes, len(x))
    assert np.allclose(scores / spec["tau"], model(x).numpy())


def load_numpy_from_spec(spec):
    from core_difflut.export.numpy_eval import DiffLUTNumpy

    return DiffLUTNumpy(spec)


def _pack(bits):
    from core_difflut.export.numpy_eval import pack_bits

    return pack_bits(np.ascontiguousarray(bits.T.astype(np.uint8)))


def test_export_refuses_non_deterministic_models(tmp_path) -> None:
    from core import ConfigError

    model, _ = trained("dwn", "thermometer", 6, "random")
    model.apply_runtime_overrides(eval_mode="sampling")
    with pytest.raises(ConfigError, match="deterministic"):
        export_model(model, tmp_path, "c")
    model.apply_runtime_overrides(eval_mode="deterministic")
    with pytest.raises(ConfigError, match="unknown export format"):
        export_model(model, tmp_path, "vhdl")


@pytest.mark.slow
def test_verilog_simulation_is_bit_exact(tmp_path) -> None:
    if shutil.which("iverilog") is None or shutil.which("vvp") is None:
        pytest.skip("Icarus Verilog (iverilog, vvp) is not installed: apt-get install iverilog")
    for node, encoder, n, layer_type in CASES[:3]:
        model, x = trained(node, encoder, n, layer_type, features=6)
        x = x[:120]
        export_model(model, tmp_path / node, "verilog")
        got = simulate_verilog(tmp_path / node, x.numpy())
        assert np.array_equal(got, model.predict(x).numpy()), node


def test_cli_export(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("CORE_HOME", str(tmp_path / "store"))
    model, x = trained("dwn", "thermometer", 6, "random")
    model.save_to_pretrained("cli-net")
    code = core_main(
        ["difflut", "export", "cli-net", "--format", "numpy", "-o", str(tmp_path / "o")]
    )
    assert code == 0
    assert "model.npz" in capsys.readouterr().out
    net = load_numpy(str(tmp_path / "o" / "model.npz"))
    assert np.array_equal(net.predict(x.numpy()), model.predict(x).numpy())
    assert (
        core_main(["difflut", "export", "no-such-net", "--format", "c", "-o", str(tmp_path)]) == 2
    )
