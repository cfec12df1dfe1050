"""Verilog of GroupSum in hardware: a popcount per class and the argmax over classes.

Three forms (``POPCOUNT_FORMS``). ``gpc``, the default, writes every LUT itself: each
popcount is a tree of generalised parallel counters (6:3 counters and (1,5):3 counters, each
output bit one function of at most 6 inputs, so one LUT6) in Dadda-like stages until no
weight holds more than five bits, then a chain of counters, each over the lowest unfinished
weight and as many bits above it as pay (the carries included), that ends in the binary
count: about one LUT per bit, since a LUT6 counter removes at most one bit per LUT. The
argmax is a tournament of comparisons (each a chain of LUTs over two bits of both counts
and the previous result) with the winner's count chosen by a multiplexer per bit.
The LUTs are emitted in the network's LUT style (a ``case`` statement or a Xilinx ``LUT6``),
so a synthesis tool maps them as written (digits-dwn: 97 LUTs per 100-bit popcount, 99 for
the argmax of ten classes, 22 LUT levels). ``compressor`` is the previous default: counters
of up to six bits written as ``+`` sums for the tool to map (yosys' generic mapping of
digits-dwn's 1,000 last-layer bits: 1,070 LUTs of popcount, 339 of argmax). ``adder``
writes each popcount as a plain ``+`` sum of the bits, for a vendor mapping (yosys'
``synth_xilinx``, Vivado) to build on carry chains. In every form a later class wins only
with a strictly higher count, so the first maximum wins, as in ``torch.argmax``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

__all__ = ["popcount_lines", "gpc_popcount", "argmax_lines", "POPCOUNT_FORMS", "LutWriter"]

#: the popcount forms, the default first
POPCOUNT_FORMS = ("gpc", "compressor", "adder")

COUNTER_INPUTS = 6
ONE, ZERO = "1'b1", "1'b0"
#: ``emit(name, signals, table)``: the Verilog lines of one LUT (``table`` bit ``a`` is the
#: output for address ``a = sum_j signal_j 2**j``), in the network's LUT style
Emit = Callable[[str, list[str], int], list[str]]


class LutWriter:
    """LUTs of at most 6 inputs, constants folded: each ``lut`` is one line group of Verilog."""

    def __init__(self, prefix: str, emit: Emit) -> None:
        self.prefix, self.emit = prefix, emit
        self.lines: list[str] = []
        self.count = 0

    def lut(self, signals: Sequence[str], fn: Callable[[list[int]], int]) -> str:
        """A signal (``ONE``/``ZERO``, an input itself, or a new LUT) = ``fn(signal values)``."""
        real = list(dict.fromkeys(s for s in signals if s not in (ONE, ZERO)))

        def value(address: int) -> int:
            bits = {s: address >> j & 1 for j, s in enumerate(real)} | {ONE: 1, ZERO: 0}
            return fn([bits[s] for s in signals]) & 1

        table = [value(a) for a in range(1 << len(real))]
        used = [
            j
            for j in range(len(real))
            if any(table[a] != table[a ^ 1 << j] for a in range(len(table)))
        ]
        if not used:
            return ONE if table[0] else ZERO
        packed = sum(
            table[sum((a >> p & 1) << j for p, j in enumerate(used))] << a
            for a in range(1 << len(used))
        )
        inputs = [real[j] for j in used]
        if len(inputs) == 1 and packed == 0b10:
            return inputs[0]
        assert len(inputs) <= COUNTER_INPUTS, inputs
        name = f"{self.prefix}{self.count}"
        self.count += 1
        self.lines.extend(self.emit(name, inputs, packed))
        return name


#: the counter stages stop when no weight holds more bits than this; the chain adds the rest
STAGE_HEIGHT = 5


def _counter(
    writer: LutWriter,
    inputs: list[tuple[str, int]],
    const: int,
    base: int,
    columns: list[list[str]],
) -> None:
    """One counter: the bits of ``sum(2**r * s for s, r in inputs) + const``, each one LUT,
    appended to ``columns[base + b]`` (bits at or above ``len(columns)`` are always 0)."""
    signals = [s for s, _ in inputs]
    top = sum(1 << r for _, r in inputs) + const
    for b in range(min(top.bit_length(), len(columns) - base)):

        def bit(values: list[int], b: int = b) -> int:
            return (sum(v << r for v, (_, r) in zip(values, inputs)) + const) >> b & 1

        out = writer.lut(signals, bit)
        if out != ZERO:
            columns[base + b].append(out)


def _gpc_bits(bits: list[str], offset: int, width: int, writer: LutWriter) -> list[str]:
    """The ``width`` bits (LSB first) of popcount(bits) + offset as a counter tree."""
    columns: list[list[str]] = [[] for _ in range(width)]
    columns[0] = list(bits)
    const = [offset >> w & 1 for w in range(width)]
    while max(map(len, columns)) > STAGE_HEIGHT:  # Dadda-like stages of 6:3 and (1,5):3
        staged: list[list[str]] = [[] for _ in range(width)]
        progress = False
        for w, column in enumerate(columns):
            nxt = columns[w + 1] if w + 1 < width else []
            while len(column) >= 6 or (len(column) == 5 and nxt):
                group = [(s, 0) for s in column[:6]]
                del column[: len(group)]
                if len(group) == 5:
                    group.append((nxt.pop(0), 1))
                _counter(writer, group, const[w], w, staged)
                const[w], progress = 0, True
            staged[w].extend(column)
        columns = staged
        if not progress:
            break
    out = []
    for i in range(width):  # a chain: the lowest unfinished weight and bits above it
        while len(columns[i]) + const[i] > 1:
            group, best, chosen = [], None, []
            for w in range(i, width):
                for s in columns[w]:
                    if len(group) == COUNTER_INPUTS:
                        break
                    group.append((s, w - i))
                    if len(group) < min(len(columns[i]), COUNTER_INPUTS):
                        continue  # the group takes all of weight i it can
                    spanned = range(i, w + 1)
                    carry = sum(const[v] << (v - i) for v in spanned)
                    top = sum(1 << r for _, r in group) + carry
                    gain = len(group) - min(top.bit_length(), width - i)
                    if best is None or gain > best:
                        best, chosen = gain, list(group)
            top_weight = i + max(r for _, r in chosen)
            carry = sum(const[v] << (v - i) for v in range(i, top_weight + 1))
            for s, r in chosen:
                columns[i + r].remove(s)
            for v in range(i, top_weight + 1):
                const[v] = 0
            _counter(writer, chosen, carry, i, columns)
        out.append(columns[i][0] if columns[i] else (ONE if const[i] else ZERO))
    return out


def gpc_popcount(
    bits: list[str], offset: int, width: int, prefix: str, emit: Emit
) -> tuple[list[str], list[str]]:
    """The ``gpc`` form's LUT lines and the ``width`` bits (LSB first; a bit may be ``ONE``
    or ``ZERO``) of popcount(``bits``) + ``offset``."""
    writer = LutWriter(prefix, emit)
    result = _gpc_bits(bits, offset, width, writer)
    return writer.lines, result


def popcount_lines(
    bits: list[str], offset: int, width: int, out: str, prefix: str, form: str = "compressor"
) -> list[str]:
    """Lines that assign ``out`` (``width`` bits) = number of 1s in ``bits`` + ``offset`` in
    the ``compressor`` or ``adder`` form (the ``gpc`` form: ``gpc_popcount``)."""
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


def _greater(writer: LutWriter, b: list[str], a: list[str]) -> str:
    """``b > a`` (LSB first, equal widths) as a chain of LUTs: the lowest three bits of both,
    then two bits of both and the previous result per LUT."""
    result, low = ZERO, 0
    while low < len(a):
        step = 3 if low == 0 else 2
        signals = [result, *a[low : low + step], *b[low : low + step]]
        m = len(signals[1:]) // 2

        def greater(v: list[int], m: int = m) -> int:
            x = sum(bit << j for j, bit in enumerate(v[1 : 1 + m]))
            y = sum(bit << j for j, bit in enumerate(v[1 + m :]))
            return int(y > x or (y == x and v[0]))

        result = writer.lut(signals, greater)
        low += step
    return result


def _pick(v: list[int]) -> int:
    """A multiplexer: ``v[2] if v[0] else v[1]``."""
    return v[2] if v[0] else v[1]


def _tournament(
    writer: LutWriter, players: list[tuple[list[str], list[str]]], final: bool = True
) -> tuple[list[str], list[str]]:
    """(count bits, index bits) of the first largest count among ``players``, all earlier
    players having lower class indices: halves play each other, the later half wins only
    with a strictly larger count (``final``: the winner's count is not needed)."""
    if len(players) == 1:
        return players[0]
    half = (len(players) + 1) // 2
    a, ia = _tournament(writer, players[:half], False)
    b, ib = _tournament(writer, players[half:], False)
    later = _greater(writer, b, a)
    index = [writer.lut([later, x, y], _pick) for x, y in zip(ia, ib)]
    count = [] if final else [writer.lut([later, x, y], _pick) for x, y in zip(a, b)]
    return count, index


def argmax_lines(
    counts: list[str],
    index_width: int,
    out: str,
    form: str = POPCOUNT_FORMS[0],
    emit: Emit | None = None,
    count_bits: list[list[str]] | None = None,
) -> list[str]:
    """Lines that assign ``out`` = index of the first largest of ``counts``.

    ``gpc`` (``emit`` writes its LUTs; ``count_bits``: each count's bits, LSB first): a
    tournament. Otherwise one comparator per pair of classes, all in parallel: class i wins
    when its count is larger than every earlier class's and not smaller than any later's.
    """
    if form == "gpc":
        assert emit is not None and count_bits is not None
        writer = LutWriter("am", emit)
        players = [
            (bits, [ONE if c >> b & 1 else ZERO for b in range(index_width)])
            for c, bits in enumerate(count_bits)
        ]
        _, index = _tournament(writer, players)
        return [*writer.lines, *(f"    assign {out}[{b}] = {s};\n" for b, s in enumerate(index))]
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
