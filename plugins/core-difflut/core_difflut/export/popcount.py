"""Verilog of GroupSum in hardware: a popcount per class and the argmax over classes.

Two popcount forms (``POPCOUNT_FORMS``). ``compressor``, the default, is a compressor tree
of LUT-sized counters: groups of up to six bits of one weight are summed into 3 bits (each
output bit one 6-input function, so one LUT6), until every weight holds at most two bits,
which one small adder adds. On a 400-bit popcount yosys' generic mapping makes this 420 LUTs
and 8 levels where a plain sum gives 709 LUTs and 11 levels. ``adder`` writes each popcount
as that plain ``+`` sum of the bits, for a vendor mapping (yosys' ``synth_xilinx``, Vivado)
to build on carry chains. The argmax compares every pair of classes at once; a later class
wins only with a strictly higher count, so the first maximum wins, as in ``torch.argmax``.
"""

from __future__ import annotations

__all__ = ["popcount_lines", "argmax_lines", "POPCOUNT_FORMS"]

#: the popcount forms, the default first
POPCOUNT_FORMS = ("compressor", "adder")

COUNTER_INPUTS = 6
ONE, ZERO = "1'b1", "1'b0"


def popcount_lines(
    bits: list[str], offset: int, width: int, out: str, prefix: str, form: str = "compressor"
) -> list[str]:
    """Lines that assign ``out`` (``width`` bits) = number of 1s in ``bits`` + ``offset``."""
    if form == "adder":  # Verilog sizes every operand to ``out``'s width: no overflow
        terms = [*bits, f"{width}'d{offset}"] if offset or not bits else list(bits)
        rows = [" + ".join(terms[i : i + 16]) for i in range(0, len(terms), 16)]
        return [f"    assign {out} = " + "\n        + ".join(rows) + ";\n"]
    lines: list[str] = []
    columns: dict[int, list[str]] = {0: list(bits)}
    counter = 0
    while any(len(column) > 2 for column in columns.values()):
        reduced: dict[int, list[str]] = {}
        for weight in sorted(columns):
            column, start = columns[weight], 0
            while len(column) - start > 2:
                group = column[start : start + COUNTER_INPUTS]
                start += len(group)
                size = len(group).bit_length()
                name = f"{prefix}{counter}"
                counter += 1
                lines.append(f"    wire [{size - 1}:0] {name} = {' + '.join(group)};\n")
                for b in range(size):
                    reduced.setdefault(weight + b, []).append(f"{name}[{b}]")
            reduced.setdefault(weight, []).extend(column[start:])
        columns = reduced
    top = max(columns) + 1 if columns else 1
    terms = []
    for row in range(2):
        if not any(len(columns.get(w, [])) > row for w in range(top)):
            continue
        parts = [columns[w][row] if len(columns.get(w, [])) > row else "1'b0" for w in range(top)]
        lines.append(
            f"    wire [{top - 1}:0] {prefix}row{row} = {{{', '.join(reversed(parts))}}};\n"
        )
        terms.append(f"{prefix}row{row}")
    if offset or not terms:
        terms.append(f"{width}'d{offset}")
    lines.append(f"    assign {out} = {' + '.join(terms)};\n")
    return lines


def argmax_lines(counts: list[str], index_width: int, out: str) -> list[str]:
    """Lines that assign ``out`` = index of the first largest of ``counts``.

    One comparator per pair of classes, all in parallel: class i wins when its count is
    larger than every earlier class's and not smaller than any later class's.
    """
    k = len(counts)
    lines = [
        f"    wire gt{a}_{b} = {counts[b]} > {counts[a]};\n"
        for a in range(k)
        for b in range(a + 1, k)
    ]
    for i in range(k):
        terms = [f"gt{j}_{i}" for j in range(i)] + [f"~gt{i}_{j}" for j in range(i + 1, k)]
        lines.append(f"    wire win{i} = {' & '.join(terms) or ONE};\n")
    for b in range(index_width):
        members = [f"win{i}" for i in range(k) if i >> b & 1]
        lines.append(f"    assign {out}[{b}] = {' | '.join(members) or ZERO};\n")
    return lines
