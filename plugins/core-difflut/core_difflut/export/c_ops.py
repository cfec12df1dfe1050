"""Straight-line bit-sliced C for DiffLUT nodes, GroupSum and argmax, with an exact op count.

One **op** is one boolean operation on one 64-bit word (64 samples): AND, OR, XOR, ANDNOT
(``x & ~y``) or NOT. A select (``s ? x : y``, written ``y ^ ((y ^ x) & s)``) is three ops.
Every op the generated code does is one written here, so ``Block.ops`` is exactly the work
per 64 samples; the compiler may fuse several into one instruction (AVX-512 ``vpternlogq``).

A node is a Shannon tree over its inputs, highest first: equal halves skip the input, a
constant or complemented half turns the select into one AND/OR/ANDNOT/XOR, and identical
sub-tables are computed once. The runtime dispatch between the AVX-512, AVX2 and portable
compilations of the same code is ``DISPATCH_C``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Block", "node_ops", "ISAS", "DISPATCH_C", "ZERO", "ONES"]

ZERO, ONES = "ZERO", "ONES"
#: the compiled paths, portable first; ``DIFFLUT_ISA`` or ``difflut_set_isa`` forces one.
ISAS = ("portable", "avx2", "avx512")

_COMMUTATIVE = {"and", "or", "xor"}
_FORMAT = {
    "and": "{0} & {1}",
    "or": "{0} | {1}",
    "xor": "{0} ^ {1}",
    "andn": "{0} & ~{1}",
    "not": "~{0}",
    "sel": "{2} ^ (({2} ^ {1}) & {0})",
}
_COST = {"sel": 3}


class Block:
    """Statements of one C block (``word_t`` temporaries), hash-consed, with their op count."""

    def __init__(self, prefix: str = "v") -> None:
        self.prefix = prefix
        self.lines: list[str] = []
        self.ops = 0
        self._memo: dict[tuple, str] = {}
        self._tables: dict[tuple[int, bytes], str] = {}

    def _emit(self, kind: str, *args: str) -> str:
        key = (kind, *(sorted(args) if kind in _COMMUTATIVE else args))
        if key not in self._memo:
            name = f"{self.prefix}{len(self._memo)}"
            self.lines.append(f"const W {name} = {_FORMAT[kind].format(*args)};")
            self.ops += _COST.get(kind, 1)
            self._memo[key] = name
        return self._memo[key]

    def not_(self, a: str) -> str:
        if a in (ZERO, ONES):
            return ONES if a == ZERO else ZERO
        return self._emit("not", a)

    def and_(self, a: str, b: str) -> str:
        if ZERO in (a, b):
            return ZERO
        if a in (ONES, b):
            return b
        return a if b == ONES else self._emit("and", a, b)

    def or_(self, a: str, b: str) -> str:
        if ONES in (a, b):
            return ONES
        if a in (ZERO, b):
            return b
        return a if b == ZERO else self._emit("or", a, b)

    def xor(self, a: str, b: str) -> str:
        if a == b:
            return ZERO
        if ZERO in (a, b):
            return b if a == ZERO else a
        if ONES in (a, b):
            return self.not_(b if a == ONES else a)
        return self._emit("xor", a, b)

    def andn(self, a: str, b: str) -> str:
        """``a & ~b``."""
        if a in (ZERO, b) or b == ONES:
            return ZERO
        if b == ZERO:
            return a
        return self.not_(b) if a == ONES else self._emit("andn", a, b)

    def sel(self, s: str, hi: str, lo: str) -> str:
        """``s ? hi : lo``, one op where a branch is constant."""
        if hi == lo:
            return lo
        if lo == ZERO:
            return self.and_(s, hi)
        if hi == ZERO:
            return self.andn(lo, s)
        if hi == ONES:
            return self.or_(s, lo)
        if lo == ONES:
            return self.not_(self.andn(s, hi))
        return self._emit("sel", s, hi, lo)

    def table(self, inputs: list[str], table: np.ndarray) -> str:
        """The function with truth table ``table`` (entry ``sum(x_j << j)``) of ``inputs``."""
        table = np.asarray(table, np.uint8).reshape(-1)
        if not table.any():
            return ZERO
        if table.all():
            return ONES
        j = len(inputs) - 1
        key = (j, table.tobytes())
        if key not in self._tables:
            half = len(table) // 2
            lo, hi = table[:half], table[half:]
            if np.array_equal(lo, hi):
                value = self.table(inputs[:j], lo)
            elif np.array_equal(lo, 1 - hi):
                value = self.xor(inputs[j], self.table(inputs[:j], lo))
            else:
                value = self.sel(inputs[j], self.table(inputs[:j], hi), self.table(inputs[:j], lo))
            self._tables[key] = value
        return self._tables[key]

    def popcount(self, bits: list[str]) -> list[str]:
        """Bit-sliced binary count of ``bits``, least significant first (full/half adders)."""
        columns: list[list[str]] = [list(bits)]
        out = []
        w = 0
        while w < len(columns):
            col = columns[w]
            while len(col) > 1:
                if len(col) >= 3:
                    a, b, c = col.pop(0), col.pop(0), col.pop(0)
                    ab = self.xor(a, b)
                    col.append(self.xor(ab, c))
                    carry = self.or_(self.and_(a, b), self.and_(c, ab))
                else:
                    a, b = col.pop(0), col.pop(0)
                    col.append(self.xor(a, b))
                    carry = self.and_(a, b)
                if w + 1 == len(columns):
                    columns.append([])
                columns[w + 1].append(carry)
            out.append(col[0] if col else ZERO)
            w += 1
        return out or [ZERO]

    def greater(self, a: list[str], b: list[str]) -> str:
        """Bit-sliced ``a > b`` of two unsigned numbers (least significant bit first)."""
        gt = ZERO
        for x, y in zip(a, b, strict=True):
            gt = self.sel(self.xor(x, y), x, gt)
        return gt

    def argmax(self, counts: list[list[str]]) -> list[str]:
        """Bit-sliced index of the first largest count (ties go to the lower class)."""
        width = max(len(c) for c in counts)
        counts = [c + [ZERO] * (width - len(c)) for c in counts]
        index_bits = max(1, (len(counts) - 1).bit_length())
        best, index = counts[0], [ZERO] * index_bits
        for k, count in enumerate(counts[1:], 1):
            gt = self.greater(count, best)
            if k + 1 < len(counts):  # the last class's best count is not needed
                best = [self.sel(gt, x, y) for x, y in zip(count, best, strict=True)]
            index = [self.sel(gt, ONES if k >> j & 1 else ZERO, i) for j, i in enumerate(index)]
        return index


def node_ops(table: np.ndarray, n: int | None = None) -> int:
    """Ops (per 64 samples) of the code one node with truth table ``table`` gets."""
    table = np.asarray(table, np.uint8).reshape(-1)
    n = n if n is not None else int(len(table)).bit_length() - 1
    block = Block()
    block.table([f"x{j}" for j in range(n)], table)
    return block.ops


DISPATCH_C = r"""
/* A compiled part F is the macro F_NODES: statements over W (the path's vector type) that
   read I[i * S] and write O[i * S]; DIFFLUT_PATHS(F) makes F[3], one function per path, each
   running F_NODES on its widest vectors, S of them side by side in one word_t: one pass per
   vector that holds any of the first `words` words (all the passes of a part run while its
   code is in the instruction cache, which is what a wide block buys). */
#define DIFFLUT_MIN(a, b) ((a) < (b) ? (a) : (b))
#define DIFFLUT_PATH(F, NAME, TARGET, BYTES) \
    TARGET static void F##_##NAME(const void *in, void *out, int words) { \
        typedef uint64_t W __attribute__((vector_size(DIFFLUT_MIN(BYTES, 8 * DIFFLUT_LANES)))); \
        enum { S = 8 * DIFFLUT_LANES / sizeof(W), K = sizeof(W) / 8 }; \
        const W ZERO = {0}, ONES = ~ZERO; \
        (void)ONES; \
        const int passes = (words + K - 1) / K; \
        for (int p = 0; p < passes; p++) { \
            const W *restrict I = (const W *)in + p; \
            W *restrict O = (W *)out + p; \
            F##_NODES \
        } \
    }
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define DIFFLUT_X86 1
#define DIFFLUT_PATHS(F) \
    DIFFLUT_PATH(F, portable, , 16) \
    DIFFLUT_PATH(F, avx2, __attribute__((target("avx2"))), 32) \
    DIFFLUT_PATH(F, avx512, __attribute__((target("avx512f"))), 64) \
    static void (*const F[3])(const void *, void *, int) = {F##_portable, F##_avx2, F##_avx512};
#else
#define DIFFLUT_PATHS(F) \
    DIFFLUT_PATH(F, portable, , 16) \
    static void (*const F[3])(const void *, void *, int) = {F##_portable, F##_portable, F##_portable};
#endif

static const char *const difflut_isa_names[3] = {"portable", "avx2", "avx512"};
static int difflut_isa_index = -1;

/* 1 when this CPU (and this build) can run path k (0 portable, 1 avx2, 2 avx512). */
int difflut_isa_available(int k) {
    if (k == 0) return 1;
#ifdef DIFFLUT_X86
    __builtin_cpu_init();
    if (k == 1) return __builtin_cpu_supports("avx2") != 0;
    if (k == 2) return __builtin_cpu_supports("avx512f") != 0;
#endif
    return 0;
}

/* Force a path by name: 0, or -1 for an unknown name, -2 for one this CPU cannot run. */
int difflut_set_isa(const char *name) {
    for (int k = 0; k < 3; k++) {
        if (strcmp(name, difflut_isa_names[k]) == 0) {
            if (!difflut_isa_available(k)) return -2;
            difflut_isa_index = k;
            return 0;
        }
    }
    return -1;
}

/* The path in use: $DIFFLUT_ISA if set (a bad value is a one-line error, exit 2), else the
   widest this CPU runs. */
const char *difflut_isa(void) {
    if (difflut_isa_index < 0) {
        const char *forced = getenv("DIFFLUT_ISA");
        if (forced && *forced) {
            const int status = difflut_set_isa(forced);
            if (status != 0) {
                fprintf(stderr, "DIFFLUT_ISA=%s: %s (choose portable, avx2 or avx512)\n", forced,
                        status == -1 ? "unknown path" : "this CPU cannot run it");
                exit(2);
            }
        } else {
            difflut_isa_index = difflut_isa_available(2) ? 2 : difflut_isa_available(1) ? 1 : 0;
        }
    }
    return difflut_isa_names[difflut_isa_index];
}
"""
