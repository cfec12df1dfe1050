"""Exports are bit-exact with the PyTorch model's evaluation-mode predictions."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from core_difflut import ModelConfig, build_model
from core_difflut.export import export_model
from core_difflut.export.integer_inputs import IntegerInputs
from core_difflut.export.numpy_eval import load as load_numpy
from core_difflut.export.popcount import POPCOUNT_FORMS
from core_difflut.export.spec import network_spec
from core_difflut.export.verilog_sim import simulate_verilog

from core.cli import main as core_main

from .conftest import exports_agree, fit

CASES = [
    ("dwn", "thermometer", 6, ["learnable", "random"]),
    ("probabilistic", "gray", 4, "random"),
    ("difflogic", "sign-magnitude", 2, "random"),
    ("polylut", "onehot", 3, "random"),
    ("linear-lut", "distributive-thermometer", 1, "random"),
    ("warp", "thermometer", 4, "random"),
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
    fit(model, x, (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long())
    return model, x


@pytest.mark.parametrize(("node", "encoder", "n", "layer_type"), CASES)
def test_numpy_and_c_exports_are_bit_exact(tmp_path, node, encoder, n, layer_type) -> None:
    model, x = trained(node, encoder, n, layer_type)
    net = exports_agree(model, x, tmp_path)
    expected = model.predict(x).numpy()
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


def _needs_iverilog() -> None:
    if shutil.which("iverilog") is None or shutil.which("vvp") is None:
        pytest.skip("Icarus Verilog (iverilog, vvp) is not installed: apt-get install iverilog")


def _verilog(model, directory, popcount="compressor", **options):
    from dataclasses import replace

    from core_difflut.export import verilog_options

    options.setdefault("input_bits", 6)
    options.setdefault("input_scale", 63.0)
    verilog = replace(verilog_options(model, **options), popcount=popcount)
    return export_model(model, directory, "verilog", verilog=verilog)


def _expected(model, q):
    return model.predict(torch.from_numpy(IntegerInputs(6, 63.0).features(q))).numpy()


def test_integer_thresholds_give_the_float_comparison() -> None:
    rng = np.random.default_rng(1)
    for fmt in (IntegerInputs(5, 16.0), IntegerInputs(8, 255.0), IntegerInputs(4, 3.7)):
        levels = fmt.levels
        t = np.concatenate([rng.uniform(-0.5, 1.5, 300), levels[::3], [np.float32(-0.0)]])
        t = t.astype(np.float32).reshape(-1, 1)
        k = fmt.thresholds(t)
        q = np.arange(1 << fmt.bits)
        assert np.array_equal(fmt.features(q)[None, :] > t, q[None, :] >= k)


def test_netlist_folds_constant_repeated_and_unused_inputs() -> None:
    from core_difflut.export.netlist import Const, Lut, Wire, build_netlist

    # thermometer thresholds on 2-bit inputs q / 3: below 0 (always 1), 0.5 (q >= 2) and
    # 2.0 (never), so bits 0 and 2 of each feature are constants
    def table(f):
        return [int(f(*(a >> j & 1 for j in range(4)))) for a in range(16)]

    spec = {
        "thresholds": np.array([[-1.0, 0.5, 2.0]] * 2, np.float32),
        "code": (np.arange(4)[:, None] > np.arange(3)).astype(np.uint8),
        "num_classes": 1,
        "layers": [
            {
                "indices": np.array([[1, 0, 4, 1], [1, 0, 4, 2], [3, 5, 2, 0]]),
                "tables": np.array(
                    [
                        table(lambda a, b, c, d: (a ^ d) | (b & c)),  # a == d, b == 1
                        table(lambda a, b, c, d: a & b & c & (1 - d)),  # b == 1, d == 0
                        table(lambda a, b, c, d: d),  # d == 1
                    ],
                    np.uint8,
                ),
            }
        ],
    }
    # thresholds on q / 3, q in 0..3: below 0 (always 1), 0.5 (q >= 2) and 2.0 (never)
    net = build_netlist(spec, IntegerInputs(2, 3.0))
    assert net.inputs == [Const(1), None, Const(0), Const(1), None, Const(0)]
    assert net.layers[0] == [Wire(4), Lut((1, 4), 0b1000), Const(1)]
    assert net.used_inputs == [1, 4]
    assert net.classes == [([0, 1], 1)]  # the constant-1 node counts as an offset


@pytest.mark.slow
@pytest.mark.parametrize(
    ("node", "encoder", "n"),
    [
        ("dwn", "thermometer", 6),
        ("probabilistic", "gray", 4),
        ("difflogic", "sign-magnitude", 2),
        ("warp", "thermometer", 3),
    ],
)
@pytest.mark.parametrize("popcount", POPCOUNT_FORMS)
def test_verilog_integer_inputs_are_bit_exact(
    tmp_path, integer_model, node, encoder, n, popcount
) -> None:
    _needs_iverilog()
    model, q = integer_model(node=node, encoder=encoder, n=n, layer_type=["learnable", "random"])
    expected = _expected(model, q)
    assert len(np.unique(expected)) > 1
    for style in ("generic", "xilinx"):
        for pipeline in (False, True):
            out = tmp_path / f"{style}-{pipeline}"
            _verilog(model, out, lut_style=style, pipeline=pipeline, popcount=popcount)
            got = simulate_verilog(out, q)
            assert np.array_equal(got, expected), (style, pipeline, popcount)


@pytest.mark.slow
@pytest.mark.parametrize("popcount", POPCOUNT_FORMS)
def test_verilog_bits_inputs_are_bit_exact(tmp_path, integer_model, popcount) -> None:
    _needs_iverilog()
    model, q = integer_model(encoder="distributive-thermometer")
    x = torch.from_numpy(IntegerInputs(6, 63.0).features(q))
    _verilog(model, tmp_path, inputs="bits", pipeline=True, popcount=popcount)
    text = (tmp_path / "difflut_net.v").read_text()
    assert "difflut_encoder" not in text and "input  wire [29:0] bits" in text
    got = simulate_verilog(tmp_path, model.encode(x).numpy().astype(np.int64))
    assert np.array_equal(got, model.predict(x).numpy())


def test_pipeline_latency_is_one_cycle_per_layer(tmp_path, integer_model) -> None:
    import json

    model, _ = integer_model(widths=(40, 30, 30))
    _verilog(model, tmp_path / "p", pipeline=True)
    _verilog(model, tmp_path / "c")
    text = (tmp_path / "p" / "difflut_net.v").read_text()
    assert "localparam LATENCY = 3;" in text and "3 rising clock edges" in text
    assert text.count("always @(posedge clk)") == 3
    assert json.loads((tmp_path / "p" / "difflut_net.json").read_text())["latency"] == 3
    assert "localparam LATENCY = 0;" in (tmp_path / "c" / "difflut_net.v").read_text()


def test_verilog_has_no_float_inputs_and_states_the_mapping(tmp_path, integer_model) -> None:
    model, _ = integer_model(bits=5, scale=16.0, dataset="digits")
    from core_difflut.export import verilog_options

    export_model(model, tmp_path, "verilog")  # integer inputs as the dataset scales them
    text = (tmp_path / "difflut_net.v").read_text()
    assert "unsigned 5-bit integers q; the float model sees q / 16" in text
    assert "input  wire [49:0] x" in text and "32'h" not in text
    model.config = model.config.model_copy(update={"dataset": None})
    from core import ConfigError

    with pytest.raises(ConfigError, match="--input-bits and --input-scale"):
        verilog_options(model)
    with pytest.raises(ConfigError, match="at most 6 inputs"):
        wide, _ = integer_model(n=7, widths=(8, 6))
        _verilog(wide, tmp_path / "wide", lut_style="xilinx")


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
