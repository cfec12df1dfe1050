"""Simulate the exported Verilog with Icarus Verilog: testbench, input file, runner.

The testbench applies one sample per clock cycle and records ``class_out`` LATENCY cycles
later, so a pipelined network is checked while it streams.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from core.atomic import atomic_write_text
from core.errors import ConfigError
from core.tools import find_tool, run_tool, stage_input, tool_workdir
from core_difflut.export.verilog import MANIFEST, TOP, check_verilog

__all__ = ["write_testbench", "write_inputs_hex", "simulate_verilog", "read_manifest"]

TESTBENCH = "difflut_tb.v"


def read_manifest(directory: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise ConfigError(f"{path} not found: export with --format verilog first")
    return json.loads(path.read_text())


def write_testbench(directory: Path, manifest: dict[str, Any]) -> Path:
    """``difflut_tb.v``: reads ``inputs.hex``, writes ``predictions.txt``."""
    width = manifest["features"] * manifest["input_bits"]
    port = "x" if manifest["inputs"] == "integer" else "bits"
    index_width = max(1, (manifest["num_classes"] - 1).bit_length())
    clk = ".clk(clk), " if manifest["pipeline"] else ""
    text = f"""// Testbench: inputs.hex holds one sample per line (feature 0 in the lowest bits); the
// predicted class of each sample goes to predictions.txt. One sample per clock cycle.
`timescale 1ns/1ps
module difflut_tb;
    parameter SAMPLES = 1;
    localparam LATENCY = {manifest["latency"]};
    reg  [{width - 1}:0] mem [0:SAMPLES-1];
    reg  [{width - 1}:0] x;
    reg  clk;
    wire [{index_width - 1}:0] class_out;
    wire [{manifest["count_bits"] * manifest["num_classes"] - 1}:0] counts;
    integer i, fd;
    {TOP} dut ({clk}.{port}(x), .class_out(class_out), .counts(counts));
    initial begin
        $readmemh("inputs.hex", mem);
        fd = $fopen("predictions.txt", "w");
        clk = 0;
        x = 0;
        for (i = 0; i < SAMPLES + LATENCY; i = i + 1) begin
            if (i < SAMPLES) x = mem[i];
            #1;
            if (i >= LATENCY) $fdisplay(fd, "%0d", class_out);
            clk = 1;
            #1;
            clk = 0;
        end
        $fclose(fd);
        $finish;
    end
endmodule
"""
    path = directory / TESTBENCH
    atomic_write_text(path, text)
    return path


def write_inputs_hex(values: np.ndarray, field_bits: int, path: str | os.PathLike[str]) -> None:
    """One line per sample: fields of ``field_bits`` bits, the first in the lowest bits."""
    values = np.asarray(values, np.int64).reshape(len(values), -1)
    shifts = np.arange(field_bits, dtype=np.int64)
    bits = ((values[:, :, None] >> shifts) & 1).astype(np.uint8).reshape(len(values), -1)
    digits = -(-bits.shape[1] // 4)
    lines = []
    for row in bits:
        word = int.from_bytes(np.packbits(row, bitorder="little").tobytes(), "little")
        lines.append(f"{word:0{digits}x}")
    atomic_write_text(path, "\n".join(lines) + "\n")


def _is_file_name(name: Any) -> bool:
    return isinstance(name, str) and name not in ("", ".", "..") and Path(name).name == name


def simulate_verilog(
    directory: str | os.PathLike[str], values: np.ndarray, timeout: float = 600
) -> np.ndarray:
    """Compile with iverilog and run with vvp; returns the predicted classes.

    ``values``: integer features (B, F) for integer inputs, encoded bits (B, F*bits) for
    ``--inputs bits``. Both run in a work folder of their own (core.tools) on copies of the
    sources; nothing is written into ``directory``.
    """
    hint = "Verilog simulation needs Icarus Verilog (apt-get install iverilog)"
    iverilog, vvp = find_tool("iverilog", hint), find_tool("vvp", hint)
    directory = Path(directory)
    manifest = read_manifest(directory)
    values = np.asarray(values).reshape(len(values), -1)
    if values.shape[1] != manifest["features"]:
        raise ConfigError(
            f"expected {manifest['features']} values per sample, got {values.shape[1]}"
        )
    top = 1 << manifest["input_bits"]
    if values.size and (values.min() < 0 or values.max() >= top):
        raise ConfigError(f"input values must lie in 0..{top - 1}")
    names = manifest.get("sources")
    if not isinstance(names, list) or not all(map(_is_file_name, names)):
        raise ConfigError(f"{directory / MANIFEST}: 'sources' must list file names beside it")
    names = [*names, TESTBENCH]
    with tool_workdir() as work:
        sources = [stage_input(directory / name, work, name) for name in names]
        check_verilog(directory / names[0], work / names[0])  # the copy matches the manifest
        write_inputs_hex(values, manifest["input_bits"], work / "inputs.hex")
        define = f"-Pdifflut_tb.SAMPLES={len(values)}"
        compile_cmd = [iverilog, "-g2005", define, "-o", "difflut_sim.vvp", *sources]
        run_tool(compile_cmd, cwd=work, timeout=timeout, name="iverilog")
        run_tool([vvp, "-n", "difflut_sim.vvp"], cwd=work, timeout=timeout, name="vvp")
        text = (work / "predictions.txt").read_text().split()
    return np.array([int(v) for v in text], dtype=np.int64)
