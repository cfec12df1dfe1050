"""Synthesizable Verilog of a DiffLUT network, in three modules and a top.

``difflut_encoder`` compares each integer feature with integer thresholds (absent with
``inputs="bits"``), ``difflut_network`` holds one LUT per node (a ``case`` statement, or a
Xilinx ``LUT6`` primitive with ``lut_style="xilinx"``) and optionally a register after each
layer, ``difflut_popcount`` counts each class's bits and picks the first largest count.
``difflut_net`` connects them. The logic is the reduced netlist of ``netlist.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.atomic import atomic_write_text
from core.errors import ConfigError
from core_difflut.export.integer_inputs import IntegerInputs
from core_difflut.export.netlist import Const, Lut, Netlist, Wire, build_netlist
from core_difflut.export.popcount import (
    POPCOUNT_FORMS,
    argmax_lines,
    gpc_popcount,
    popcount_lines,
)

__all__ = [
    "VerilogOptions",
    "write_verilog",
    "LUT_STYLES",
    "INPUT_KINDS",
    "LUT6_MODEL",
    "MANIFEST",
    "check_verilog",
    "TOP",
    "PARTS",
]

LUT_STYLES = ("generic", "xilinx")
INPUT_KINDS = ("integer", "bits")
TOP = "difflut_net"
#: the modules ``core difflut synth`` reports separately: (module, part name)
PARTS = (
    ("difflut_encoder", "encoder"),
    ("difflut_network", "network"),
    ("difflut_popcount", "popcount"),
)
MANIFEST = "difflut_net.json"
LUT6_MODEL = """// Behavioural model of the Xilinx LUT6 primitive, for simulation (Icarus Verilog) only:
// vendor tools bring their own LUT6, so leave this file out of an FPGA project.
module LUT6 #(parameter [63:0] INIT = 64'h0) (output O, input I0, I1, I2, I3, I4, I5);
    assign O = INIT[{I5, I4, I3, I2, I1, I0}];
endmodule
"""


@dataclass(frozen=True)
class VerilogOptions:
    """``inputs``: "integer" (needs ``integer``) or "bits"; ``pipeline``: a register per layer;
    ``popcount``: one of ``POPCOUNT_FORMS`` (see ``popcount.py``)."""

    inputs: str = "integer"
    integer: IntegerInputs | None = None
    lut_style: str = "generic"
    pipeline: bool = False
    popcount: str = POPCOUNT_FORMS[0]

    def __post_init__(self) -> None:
        if self.inputs not in INPUT_KINDS:
            raise ConfigError(f"inputs must be one of {', '.join(INPUT_KINDS)}")
        if self.lut_style not in LUT_STYLES:
            raise ConfigError(f"lut style must be one of {', '.join(LUT_STYLES)}")
        if self.popcount not in POPCOUNT_FORMS:
            raise ConfigError(
                f"unknown popcount form {self.popcount!r}: choose {' or '.join(POPCOUNT_FORMS)}"
            )
        if self.inputs == "integer" and self.integer is None:
            raise ConfigError("integer inputs need their width and scale (IntegerInputs)")


def _generic_lut(name: str, signals: list[str], table: int) -> list[str]:
    m = len(signals)
    if m == 1:  # a one-input LUT that is not a wire is an inverter
        return [f"    wire {name} = ~{signals[0]};\n"]
    ones = [a for a in range(1 << m) if table >> a & 1]
    zeros = [a for a in range(1 << m) if not table >> a & 1]
    labels, value = (ones, 1) if len(ones) <= len(zeros) else (zeros, 0)
    cases = ", ".join(f"{m}'d{a}" for a in labels)
    select = ", ".join(reversed(signals))
    return [
        f"    reg {name};\n",
        f"    always @* case ({{{select}}}) {cases}: {name} = 1'b{value}; "
        f"default: {name} = 1'b{1 - value}; endcase\n",
    ]


def _xilinx_lut(name: str, signals: list[str], table: int) -> list[str]:
    m = len(signals)
    if m > 6:
        raise ConfigError(
            f"--lut-style xilinx needs nodes of at most 6 inputs, got {m}: use generic"
        )
    init = sum((table >> (a % (1 << m)) & 1) << a for a in range(64))  # unused inputs: don't care
    zero = "1'b0"
    pins = [f".I{p}({signals[p] if p < m else zero})" for p in range(6)]
    return [
        f"    wire {name};\n",
        f"    LUT6 #(.INIT(64'h{init:016x})) u_{name} (.O({name}), {', '.join(pins)});\n",
    ]


def _ports(direction: str, names: list[str]) -> list[str]:
    """One scalar port per signal: a simulator then wakes only the logic that reads it."""
    return [f"    {direction} wire {name},\n" for name in names]


def _module(name: str, ports: list[str], body: list[str]) -> str:
    if not ports:
        return f"module {name};\n{''.join(body)}endmodule\n\n"
    ports[-1] = ports[-1].replace(",\n", "\n")
    return f"module {name} (\n{''.join(ports)});\n{''.join(body)}endmodule\n\n"


def _instance(module: str, name: str, connections: list[str]) -> str:
    """``module name (.a(a), ...);`` with eight connections per line."""
    rows = [", ".join(connections[i : i + 8]) for i in range(0, len(connections), 8)]
    return f"    {module} {name} (\n        " + ",\n        ".join(rows) + "\n    );\n"


def _network_module(net: Netlist, options: VerilogOptions, outputs: list[int]) -> str:
    used = net.used_inputs
    names = {i: f"e{p}" for p, i in enumerate(used)}
    emit_lut = _xilinx_lut if options.lut_style == "xilinx" else _generic_lut
    body: list[str] = []
    for depth, layer in enumerate(net.layers):
        body.append(f"    // layer {depth}\n")
        outs: dict[int, str] = {}
        for j, node in enumerate(layer):
            if node is None or isinstance(node, Const):
                continue
            value = f"d{depth}_{j}" if options.pipeline else f"l{depth}_{j}"
            if isinstance(node, Wire):
                body.append(f"    wire {value} = {names[node.source]};\n")
            else:
                body.extend(emit_lut(value, [names[i] for i in node.inputs], node.table))
            outs[j] = value
        if options.pipeline and outs:
            body.append("".join(f"    reg l{depth}_{j};\n" for j in outs))
            body.append("    always @(posedge clk) begin\n")
            body.extend(f"        l{depth}_{j} <= {v};\n" for j, v in outs.items())
            body.append("    end\n")
        names = {j: f"l{depth}_{j}" for j in outs}
    body.extend(f"    assign y{p} = {names[j]};\n" for p, j in enumerate(outputs))
    ports = _ports("input ", ["clk"] if options.pipeline else [])
    ports += _ports("input ", [f"e{p}" for p in range(len(used))])
    ports += _ports("output", [f"y{p}" for p in range(len(outputs))])
    note = " and a register after each layer" if options.pipeline else ""
    return f"// The LUT layers: one LUT per node{note}.\n" + _module("difflut_network", ports, body)


def _at_least(bits: list[str], k: int) -> str:
    """``value >= k`` (0 < k < 2**len(bits)) as an AND/OR chain over the bits, LSB first.

    yosys maps this in a fraction of the time its comparator mapping takes, to the same LUTs.
    """
    expr = ""
    for b, bit in enumerate(bits):
        if k >> b & 1:
            expr = f"({bit} & {expr})" if expr else bit
        elif expr:
            expr = f"({bit} | {expr})"
    return expr


def _encoder_module(net: Netlist, fmt: IntegerInputs, features: int) -> str:
    n = fmt.bits
    used = net.used_inputs
    body: list[str] = []
    compares: set[tuple[int, int]] = set()

    def at_least(f: int, k: int) -> str:
        if (f, k) not in compares:
            compares.add((f, k))
            chain = _at_least([f"x[{n * f + b}]" for b in range(n)], k)
            body.append(f"    wire q{f}_ge{k} = {chain};  // x[{n * f} +: {n}] >= {k}\n")
        return f"q{f}_ge{k}"

    assert net.intervals is not None
    for pos, i in enumerate(used):
        f, runs = net.intervals[i]
        terms = []
        for lo, hi in runs:
            low = [at_least(f, lo)] if lo > 0 else []
            high = [f"~{at_least(f, hi)}"] if hi < 1 << n else []
            terms.append(" & ".join(low + high))
        body.append(f"    assign e{pos} = {' | '.join(terms)};  // encoded bit {i}\n")
    ports = [f"    input  wire [{features * n - 1}:0] x,\n"]
    ports += _ports("output", [f"e{p}" for p in range(len(used))])
    return (
        f"// The encoder: feature f is x[{n}*f +: {n}] ({fmt.describe()});\n"
        "// each encoded bit is 1 on intervals of q: comparisons with integer constants.\n"
        + _module("difflut_encoder", ports, body)
    )


def _popcount_module(net: Netlist, outputs: list[int], options: VerilogOptions) -> str:
    form = options.popcount
    emit = _xilinx_lut if options.lut_style == "xilinx" else _generic_lut
    k, width = len(net.classes), net.count_bits
    index_width = max(1, (k - 1).bit_length())
    position = {j: p for p, j in enumerate(outputs)}
    body: list[str] = []
    count_bits: list[list[str]] = []
    for c, (members, ones) in enumerate(net.classes):
        body.append(f"    wire [{width - 1}:0] count{c};\n")
        bits = [f"y{position[j]}" for j in members]
        if form == "gpc":
            lines, result = gpc_popcount(bits, ones, width, f"c{c}_", emit)
            body.extend(lines)
            body.append(f"    assign count{c} = {{{', '.join(reversed(result))}}};\n")
            count_bits.append(result)
        else:
            body.extend(popcount_lines(bits, ones, width, f"count{c}", f"c{c}_", form))
    body.append(f"    assign counts = {{{', '.join(f'count{c}' for c in reversed(range(k)))}}};\n")
    counts = [f"count{c}" for c in range(k)]
    body.extend(argmax_lines(counts, index_width, "class_out", form, emit, count_bits))
    ports = _ports("input ", [f"y{p}" for p in range(len(outputs))])
    ports += [
        f"    output wire [{index_width - 1}:0] class_out,\n",
        f"    output wire [{width * k - 1}:0] counts\n",
    ]
    return (
        f"// GroupSum: a popcount per class ({form} form), then the first class with the "
        "largest count.\n" + _module("difflut_popcount", ports, body)
    )


def _pins(names: list[str]) -> list[str]:
    return [f".{n}({n})" for n in names]


def _top_module(net: Netlist, options: VerilogOptions, features: int) -> str:
    k, width = len(net.classes), net.count_bits
    index_width = max(1, (k - 1).bit_length())
    used = net.used_inputs
    outputs = sum(len(members) for members, _ in net.classes)
    latency = len(net.layers) if options.pipeline else 0
    encoded = [f"e{p}" for p in range(len(used))]
    results = [f"y{p}" for p in range(outputs)]
    body = [f"    localparam LATENCY = {latency};  // clock cycles from x to class_out\n"]
    body += [f"    wire {', '.join(encoded[i : i + 16])};\n" for i in range(0, len(used), 16)]
    body += [f"    wire {', '.join(results[i : i + 16])};\n" for i in range(0, outputs, 16)]
    clk = ["clk"] if options.pipeline else []
    if options.inputs == "integer":
        assert options.integer is not None
        port = f"    input  wire [{features * options.integer.bits - 1}:0] x,\n"
        body.append(_instance("difflut_encoder", "encoder", _pins(["x", *encoded])))
    else:
        port = f"    input  wire [{net.num_inputs - 1}:0] bits,\n"
        body += [f"    assign e{p} = bits[{i}];\n" for p, i in enumerate(used)]
    body.append(_instance("difflut_network", "network", _pins(clk + encoded + results)))
    body.append(_instance("difflut_popcount", "popcount", _pins([*results, "class_out", "counts"])))
    ports = _ports("input ", clk) + [
        port,
        f"    output wire [{index_width - 1}:0] class_out,\n",
        f"    output wire [{width * k - 1}:0] counts\n",
    ]
    return _module(TOP, ports, body)


def _header(net: Netlist, options: VerilogOptions, features: int, spec: dict[str, Any]) -> str:
    nodes = [sum(isinstance(n, Lut) for n in layer) for layer in net.layers]
    if options.inputs == "integer":
        assert options.integer is not None
        n = options.integer.bits
        inputs = (
            f"x[{n}*f +: {n}] is feature f, {options.integer.describe()}\n"
            f"//   (float32 division: bit-exact with the float model evaluated on q / scale)."
        )
    else:
        inputs = (
            f"bits[{net.num_inputs - 1}:0] is the encoded input: bit f*{spec['code'].shape[1]}+b "
            "is bit b of feature f."
        )
    timing = (
        f"a register after each of the {len(net.layers)} layers: class_out and counts show the "
        f"result for x {len(net.layers)} rising clock edges\n//   after x is applied (LATENCY), "
        "a new x every cycle."
        if options.pipeline
        else "combinational (LATENCY 0)."
    )
    return (
        "// DiffLUT network generated by core-difflut: synthesizable Verilog-2005.\n"
        f"// Inputs: {inputs}\n"
        f"// Timing: {timing}\n"
        f"// Outputs: class_out, the first class with the largest count; counts, "
        f"{net.count_bits} bits per class.\n"
        f"// LUTs per layer ({options.lut_style} style): {', '.join(map(str, nodes))}.\n"
    )


def write_verilog(
    spec: dict[str, Any], directory: str | os.PathLike[str], options: VerilogOptions
) -> list[Path]:
    """Write ``difflut_net.v``, its testbench, a manifest and (xilinx) a LUT6 model."""
    from core_difflut.export.verilog_sim import write_testbench

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    net = build_netlist(spec, options.integer if options.inputs == "integer" else None)
    features = int(spec["thresholds"].shape[0])
    outputs = [j for members, _ in net.classes for j in members]
    parts = [_header(net, options, features, spec), "`timescale 1ns/1ps\n\n"]
    if options.inputs == "integer":
        assert options.integer is not None
        parts.append(_encoder_module(net, options.integer, features))
    parts.append(_network_module(net, options, outputs))
    parts.append(_popcount_module(net, outputs, options))
    parts.append(_top_module(net, options, features))
    source = directory / f"{TOP}.v"
    text = "".join(parts)
    atomic_write_text(source, text)
    sources = [source.name]
    files = [source]
    if options.lut_style == "xilinx":
        model = directory / "difflut_lut6_sim.v"
        atomic_write_text(model, LUT6_MODEL)
        sources.append(model.name)
        files.append(model)
    manifest = {
        "top": TOP,
        "sources": sources,
        "inputs": options.inputs,
        "input_bits": options.integer.bits if options.inputs == "integer" else 1,
        "input_scale": options.integer.scale if options.inputs == "integer" else None,
        "features": features if options.inputs == "integer" else net.num_inputs,
        "latency": len(net.layers) if options.pipeline else 0,
        "pipeline": options.pipeline,
        "lut_style": options.lut_style,
        "popcount": options.popcount,
        "num_classes": len(net.classes),
        "count_bits": net.count_bits,
        "verilog_sha256": _sha256(text.encode("utf-8")),
    }
    atomic_write_text(directory / MANIFEST, json.dumps(manifest, indent=1) + "\n")
    files.append(directory / MANIFEST)
    files.append(write_testbench(directory, manifest))
    return files


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_verilog(
    source: str | os.PathLike[str], copy: str | os.PathLike[str] | None = None
) -> None:
    """Refuse a ``difflut_net.v`` that the manifest beside it does not describe (a torn or
    mixed export, or an edited file): one line naming both files.

    ``copy``: the bytes to check, where a tool reads a copy of ``source``. A ``.v`` with no
    manifest beside it, or named otherwise than the manifest's design, is not checked.
    """
    source = Path(source)
    path = source.parent / MANIFEST
    if not path.is_file():
        return
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        design = manifest["sources"][0]
        expected = manifest.get("verilog_sha256")
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{path}: not a DiffLUT export manifest ({exc})") from None
    if design != source.name:
        return
    if not isinstance(expected, str):
        raise ConfigError(
            f"{source}: {path} records no verilog_sha256 (an older export): export it again"
        )
    try:
        data = Path(copy if copy is not None else source).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {source}: {exc.strerror or exc}") from None
    if _sha256(data) != expected:
        raise ConfigError(
            f"{source} does not match {path} (its sha256 differs from verilog_sha256: a torn, "
            "mixed or edited export): export it again"
        )
