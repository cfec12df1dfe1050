"""The evaluation-mode network as minimal logic, the form the Verilog writer emits.

Constant inputs are folded into the tables, a LUT reading one signal twice reads it once,
inputs a table does not depend on are dropped, and nodes nothing reads are removed. A node
becomes a ``Lut`` (one LUT for up to 6 inputs), a ``Wire`` (it copies an input) or a
``Const``. With integer inputs the encoder bits are intervals of the integer feature, so
constant and repeated encoder bits are found before the first layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core_difflut.export.integer_inputs import IntegerInputs

__all__ = ["Lut", "Wire", "Const", "Netlist", "build_netlist", "bit_intervals"]


@dataclass(frozen=True)
class Lut:
    """Output bit ``a`` of ``table`` for address ``a = sum_j signal(inputs[j]) 2**j``."""

    inputs: tuple[int, ...]
    table: int


@dataclass(frozen=True)
class Wire:
    source: int


@dataclass(frozen=True)
class Const:
    value: int


Node = Lut | Wire | Const
Interval = tuple[int, int]  # lo <= q < hi


@dataclass
class Netlist:
    """Signals of layer ``i`` index the outputs of layer ``i - 1`` (layer 0: encoded bits)."""

    num_inputs: int
    #: per encoded bit: None (a real input), Wire(an equal bit) or Const
    inputs: list[Node | None]
    #: integer inputs: per encoded bit, the feature and the intervals of q where it is 1
    intervals: list[tuple[int, tuple[Interval, ...]]] | None
    layers: list[list[Node | None]]  # None: nothing reads the node
    #: per class: last-layer nodes that vary, and how many are constant 1
    classes: list[tuple[list[int], int]] = field(default_factory=list)
    count_bits: int = 1

    @property
    def used_inputs(self) -> list[int]:
        """Encoded bits the first layer reads, in order."""
        used = {i for node in self.layers[0] if isinstance(node, Lut) for i in node.inputs}
        used |= {node.source for node in self.layers[0] if isinstance(node, Wire)}
        return sorted(used)


def bit_intervals(k: np.ndarray, code: np.ndarray, bit: int, top: int) -> tuple[Interval, ...]:
    """Where bit ``bit`` of the code is 1, as intervals of q in 0..top-1.

    ``k`` are one feature's sorted integer thresholds: the level of q is ``#{K <= q}``.
    """
    starts = sorted({0, *(int(v) for v in k if 0 < v < top)})
    out: list[Interval] = []
    for i, lo in enumerate(starts):
        hi = starts[i + 1] if i + 1 < len(starts) else top
        if code[int(np.sum(k <= lo)), bit]:
            if out and out[-1][1] == lo:
                out[-1] = (out[-1][0], hi)
            else:
                out.append((lo, hi))
    return tuple(out)


def _encoder_inputs(spec: dict[str, Any], fmt: IntegerInputs) -> tuple[list, list]:
    k = fmt.thresholds(spec["thresholds"])
    code = np.asarray(spec["code"], np.uint8)
    nbits, top = code.shape[1], 1 << fmt.bits
    intervals, inputs, seen = [], [], {}
    for i in range(k.shape[0] * nbits):
        f, b = divmod(i, nbits)
        runs = bit_intervals(k[f], code, b, top)
        intervals.append((f, runs))
        if not runs:
            inputs.append(Const(0))
        elif runs == ((0, top),):
            inputs.append(Const(1))
        elif (f, runs) in seen:
            inputs.append(Wire(seen[(f, runs)]))
        else:
            seen[(f, runs)] = i
            inputs.append(None)
    return inputs, intervals


def _reduce(refs: list[Any], table: np.ndarray) -> Node:
    """Fold constants, repeated and unused inputs out of one truth table."""
    n = len(refs)
    t = table.reshape((2,) * n).transpose(tuple(reversed(range(n))))  # t[a0, a1, ...]
    inputs = list(refs)
    for j in reversed(range(n)):  # constants
        if isinstance(inputs[j], Const):
            t = t.take(inputs[j].value, axis=j)
            del inputs[j]
    for j in reversed(range(len(inputs))):  # repeats: keep the first occurrence
        first = inputs.index(inputs[j])
        if first < j:
            t = np.moveaxis(np.diagonal(t, axis1=first, axis2=j), -1, first)
            del inputs[j]
    for j in reversed(range(len(inputs))):  # inputs the table ignores
        low, high = t.take(0, axis=j), t.take(1, axis=j)
        if np.array_equal(low, high):
            t = low
            del inputs[j]
    flat = t.transpose(tuple(reversed(range(len(inputs))))).reshape(-1) if inputs else t
    if not inputs:
        return Const(int(np.asarray(flat).reshape(-1)[0]))
    if len(inputs) == 1 and list(flat) == [0, 1]:
        return Wire(inputs[0])
    value = sum(int(v) << a for a, v in enumerate(flat))
    return Lut(tuple(inputs), value)


def _resolve(nodes: list[Node | None], index: int, follow_wires: bool) -> Any:
    node = nodes[index]
    if isinstance(node, Const):
        return node
    if follow_wires and isinstance(node, Wire):
        return node.source
    return index


def build_netlist(spec: dict[str, Any], integer: IntegerInputs | None) -> Netlist:
    """Reduce ``network_spec(model)`` to logic; ``integer`` None: inputs are encoded bits."""
    code = np.asarray(spec["code"])
    num_inputs = int(np.asarray(spec["thresholds"]).shape[0]) * code.shape[1]
    if integer is None:
        inputs: list[Node | None] = [None] * num_inputs
        intervals = None
    else:
        inputs, intervals = _encoder_inputs(spec, integer)
    layers: list[list[Node | None]] = []
    previous = inputs
    for depth, layer in enumerate(spec["layers"]):
        idx = np.asarray(layer["indices"])
        tables = np.asarray(layer["tables"], np.uint8)
        nodes: list[Node | None] = []
        for j in range(idx.shape[0]):
            refs = [_resolve(previous, int(i), depth == 0) for i in idx[j]]
            nodes.append(_reduce(refs, tables[j]))
        layers.append(nodes)
        previous = nodes
    _remove_unread(layers)
    net = Netlist(num_inputs, inputs, intervals, layers)
    _group_classes(net, int(spec["num_classes"]))
    return net


def _remove_unread(layers: list[list[Node | None]]) -> None:
    for i in range(len(layers) - 1, 0, -1):
        read: set[int] = set()
        for node in layers[i]:
            if isinstance(node, Lut):
                read.update(node.inputs)
            elif isinstance(node, Wire):
                read.add(node.source)
        layers[i - 1] = [n if j in read else None for j, n in enumerate(layers[i - 1])]


def _group_classes(net: Netlist, num_classes: int) -> None:
    """GroupSum: class c counts last-layer nodes c*group .. (c+1)*group - 1."""
    last = net.layers[-1]
    group = -(-len(last) // num_classes)
    for c in range(num_classes):
        members = range(c * group, min((c + 1) * group, len(last)))
        varying = [j for j in members if not isinstance(last[j], Const)]
        ones = sum(1 for j in members if last[j] == Const(1))
        net.classes.append((varying, ones))
    net.count_bits = max(1, group.bit_length())
