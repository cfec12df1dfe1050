"""The C export's run-time paths (AVX-512, AVX2, portable), its op counts and the bound kernel."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import torch
from core_difflut import ModelConfig, build_model
from core_difflut.export import export_model
from core_difflut.export.c import ISAS, CNetwork, network_ops
from core_difflut.export.c_bound import BoundKernel, build_bound, write_bound
from core_difflut.export.c_ops import Block, node_ops
from core_difflut.export.numpy_eval import DiffLUTNumpy
from core_difflut.export.spec import network_spec

from core import ConfigError

from .conftest import fit

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")


def _table(fn, n: int) -> np.ndarray:
    """Truth table, entry sum(x_j << j)."""
    return np.array([fn(*((a >> j) & 1 for j in range(n))) for a in range(1 << n)], np.uint8)


def test_node_ops_are_counted_by_hand() -> None:
    assert node_ops(_table(lambda a, b: a & b, 2)) == 1
    assert node_ops(_table(lambda a, b: a ^ b, 2)) == 1
    # NAND = select(b, ~a, 1) = ~(b & ~~a): NOT a, ANDNOT, NOT
    assert node_ops(_table(lambda a, b: 1 - (a & b), 2)) == 3
    assert node_ops(_table(lambda a, b, c: b, 3)) == 0  # a wire
    assert node_ops(_table(lambda a, b, c: a if c else b, 3)) == 3  # one select
    # a 4-input table whose halves differ: select(d, a ^ b, a & c): 1 + 1 + 3
    assert node_ops(_table(lambda a, b, c, d: (a ^ b) if d else (a & c), 4)) == 5


def _tiny_spec() -> dict:
    """2 input bits -> 2 nodes -> 2 last nodes -> 2 classes, tables chosen by hand."""
    return {
        "thresholds": np.array([[0.0], [0.0]], np.float32),
        "code": np.array([[0], [1]], np.uint8),
        "thermometer": True,
        "num_classes": 2,
        "tau": 1.0,
        "layers": [
            {
                "indices": np.array([[0, 1], [1, 0]], np.int32),
                "tables": np.array([_table(lambda a, b: a & b, 2), _table(lambda a, b: a | b, 2)]),
            },
            {
                "indices": np.array([[0, 1], [0, 1]], np.int32),
                "tables": np.array([_table(lambda a, b: a ^ b, 2), _table(lambda a, b: a, 2)]),
            },
        ],
    }


def test_network_ops_of_a_tiny_network_by_hand() -> None:
    ops = network_ops(_tiny_spec())
    assert ops["per_node"] == [[1, 1], [1, 0]]  # AND, OR; XOR, a wire
    assert ops["nodes"] == 3
    # GroupSum of one bit per class needs no adder; argmax of two 1-bit counts:
    # greater = select(x ^ y, x, 0) = (x ^ y) & x: 2 ops; best count unused; index = gt
    block = Block()
    assert block.argmax([["x"], ["y"]]) == ["v1"]
    assert block.ops == 2
    assert ops["classify"] == 2 and ops["total"] == 5


def test_popcount_is_exact() -> None:
    rng = np.random.default_rng(0)
    for k in (1, 2, 3, 7, 10):
        block = Block()
        out = block.popcount([f"b{i}" for i in range(k)])
        for _ in range(20):
            bits = rng.integers(0, 2, k)
            env = {f"b{i}": int(bits[i]) for i in range(k)} | {"ZERO": 0, "ONES": 1}
            for line in block.lines:
                name, expr = line.removeprefix("const W ").rstrip(";").split(" = ", 1)
                env[name] = eval(expr.replace("~", "1 ^ "), {}, env) & 1  # noqa: S307
            assert sum(env[b] << i for i, b in enumerate(out)) == bits.sum()


def test_bound_kernel_op_count_on_a_tiny_case(tmp_path) -> None:
    spec = _tiny_spec()
    path, node, nodes = write_bound(spec, tmp_path)
    assert nodes == 4  # 2 + 2 nodes
    assert node == 1  # the node nearest the mean (0.75 ops) is an AND / OR / XOR
    assert "bound_NODES" in path.read_text()


@pytest.fixture(scope="module")
def small_c(tmp_path_factory):
    """A small trained model, its NumPy evaluator and its built C export."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed")
    torch.manual_seed(0)
    config = ModelConfig(
        node_type="dwn",
        layer_type="random",
        layer_widths=[48, 30],
        input_size=12,
        num_classes=3,
        encoder_config={"name": "thermometer", "num_bits": 3},
    )
    model = build_model(config)
    x = torch.randn(700, 12)
    fit(model, x, (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long())
    folder = tmp_path_factory.mktemp("c")
    export_model(model, folder, "c", build=True, overwrite=True)
    return model, x.numpy(), DiffLUTNumpy(network_spec(model)), folder


@pytest.mark.parametrize("isa", ISAS)
def test_every_path_is_bit_exact_with_numpy(small_c, isa) -> None:
    model, x, numpy_net, folder = small_c
    net = CNetwork(folder)
    if isa not in net.available:
        pytest.skip(f"this CPU cannot run the {isa} path (it runs {', '.join(net.available)})")
    net = CNetwork(folder, isa=isa)
    expected = numpy_net.predict(x)
    assert len(np.unique(expected)) > 1
    assert np.array_equal(net.predict(x), expected)
    bits = numpy_net.encode(x)
    assert np.array_equal(net.predict_packed(net.pack(bits))[: len(x)], expected)


def test_the_widest_path_is_the_default_and_a_forced_one_is_honoured(small_c, monkeypatch):
    _, _, _, folder = small_c
    monkeypatch.delenv("DIFFLUT_ISA", raising=False)
    net = CNetwork(folder)
    assert net.isa == net.available[-1]
    assert net.available[0] == "portable"
    exe = str(folder / "difflut_net")
    for isa in net.available:
        assert CNetwork(folder, isa=isa).isa == isa
        monkeypatch.setenv("DIFFLUT_ISA", isa)
        assert CNetwork(folder).isa == isa
        run = subprocess.run([exe, "--isa"], capture_output=True, text=True, check=True)
        assert run.stdout.strip() == isa


def test_an_unknown_path_is_one_clear_error(small_c, monkeypatch) -> None:
    _, _, _, folder = small_c
    with pytest.raises(ConfigError, match="unknown C path 'sse9'; choose one of portable"):
        CNetwork(folder, isa="sse9")
    monkeypatch.setenv("DIFFLUT_ISA", "sse9")
    with pytest.raises(ConfigError, match="unknown C path 'sse9'"):
        CNetwork(folder)
    run = subprocess.run([str(folder / "difflut_net"), "--isa"], capture_output=True, text=True)
    assert run.returncode == 2
    assert run.stderr.strip() == "DIFFLUT_ISA=sse9: unknown path (choose portable, avx2 or avx512)"


def test_a_plain_O2_build_runs(small_c, tmp_path, monkeypatch) -> None:
    model, x, numpy_net, _ = small_c
    monkeypatch.setenv("CFLAGS", "-O2")
    export_model(model, tmp_path / "c", "c", build=True)
    assert "-march" not in (tmp_path / "c" / "build.sh").read_text()
    assert np.array_equal(CNetwork(tmp_path / "c").predict(x), numpy_net.predict(x))


@needs_gcc
def test_the_bound_kernel_builds_and_runs(small_c, tmp_path) -> None:
    model, _, _, _ = small_c
    kernel = build_bound(network_spec(model), tmp_path, "portable")
    assert isinstance(kernel, BoundKernel) and kernel.isa == "portable"
    assert kernel.ops_per_run == kernel.node_ops * 78 * kernel.lanes
    kernel.run(3)


def test_short_and_long_batches_run_only_the_vectors_they_fill(small_c) -> None:
    """A block is 64 * lanes samples; a short batch after a long one reads no stale planes."""
    _, x, numpy_net, folder = small_c
    net = CNetwork(folder)
    assert net.block == 64 * net.lanes == 4096
    long = np.concatenate([x] * (net.block // len(x) + 1))[: net.block + 5]
    assert np.array_equal(net.predict(long), numpy_net.predict(long))
    for n in (3, 64, 65, 600):
        assert np.array_equal(net.predict(x[:n]), numpy_net.predict(x[:n]))
