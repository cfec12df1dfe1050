"""Bit-sliced C export: one self-contained C file, a build script and a ctypes wrapper.

Samples are packed 64 per uint64 and ``DIFFLUT_LANES`` words per GCC vector (512 samples per
block by default); ``-march=native`` compiles a vector operation to the CPU's widest SIMD, two
256-bit AVX2 operations on a CPU without AVX-512. A node first forms the 16 functions of its
two lowest inputs, picks one per table quarter, then multiplexes on its other inputs.
"""

from __future__ import annotations

import ctypes
import os
import shlex
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from core.atomic import atomic_path, atomic_write_text, current_umask
from core.errors import ConfigError
from core.tools import find_tool, run_tool, stage_input, tool_workdir

__all__ = ["write_c", "build_c", "CNetwork", "leaf_codes"]

LIB_NAME = "libdifflut_net.so"
EXE_NAME = "difflut_net"
SOURCE_NAME = "difflut_net.c"


def _pad_to_two(indices: np.ndarray, tables: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nodes with one input become two-input nodes reading that input twice."""
    if indices.shape[1] >= 2:
        return indices, tables
    idx = np.concatenate([indices, indices], 1)
    addr = np.arange(4)
    return idx, tables[:, addr & 1]


def leaf_codes(tables: np.ndarray) -> np.ndarray:
    """(N, 2**n) truth tables -> (N, 2**(n-2)) 4-bit codes of the two-lowest-input functions."""
    nodes, k = tables.shape
    quarters = tables.reshape(nodes, k // 4, 4).astype(np.uint8)
    return (quarters * (1 << np.arange(4, dtype=np.uint8))).sum(-1).astype(np.uint8)


def _array(ctype: str, name: str, values: np.ndarray, per_line: int = 24) -> str:
    flat = values.reshape(-1)
    if ctype == "float":
        items = [f"{float(v).hex()}f" for v in flat.astype(np.float32)]
    else:
        items = [str(int(v)) for v in flat]
    if not items:
        items = ["0"]
    lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
    body = ",\n    ".join(lines)
    return f"static const {ctype} {name}[{len(items)}] = {{\n    {body}\n}};\n"


_RUNTIME = r"""
#ifndef DIFFLUT_LANES
#define DIFFLUT_LANES 8
#endif
#define BLOCK (64 * DIFFLUT_LANES)
typedef uint64_t word_t __attribute__((vector_size(8 * DIFFLUT_LANES)));

static inline __attribute__((always_inline)) void eval_layer(
    const word_t *restrict in, word_t *restrict out, const uint32_t *restrict idx,
    const uint8_t *restrict leaf, const int nodes, const int n) {
    const int groups = 1 << (n - 2);
    for (int i = 0; i < nodes; i++) {
        const uint32_t *ix = idx + (size_t)i * n;
        const word_t a = in[ix[0]], b = in[ix[1]];
        word_t f[16];
        const word_t zero = a ^ a, ones = ~zero;
        f[0] = zero;        f[1] = ~(a | b);    f[2] = a & ~b;     f[3] = ~b;
        f[4] = ~a & b;      f[5] = ~a;          f[6] = a ^ b;      f[7] = ~(a & b);
        f[8] = a & b;       f[9] = ~(a ^ b);    f[10] = a;         f[11] = a | ~b;
        f[12] = b;          f[13] = ~a | b;     f[14] = a | b;     f[15] = ones;
        word_t v[1 << (DIFFLUT_MAX_INPUTS - 2)];
        const uint8_t *lf = leaf + (size_t)i * groups;
        for (int g = 0; g < groups; g++) v[g] = f[lf[g]];
        for (int j = 2; j < n; j++) {
            const word_t p = in[ix[j]];
            const int half = groups >> (j - 1);
            for (int k = 0; k < half; k++) v[k] = v[2 * k] ^ ((v[2 * k] ^ v[2 * k + 1]) & p);
        }
        out[i] = v[0];
    }
}

static void encode_block(const float *x, int64_t count, word_t *planes) {
    memset(planes, 0, sizeof(word_t) * INPUT_BITS);
    for (int64_t s = 0; s < count; s++) {
        const float *row = x + s * NUM_FEATURES;
        const int lane = (int)(s >> 6);
        const uint64_t bit = (uint64_t)1 << (s & 63);
        for (int f = 0; f < NUM_FEATURES; f++) {
            const float *t = thresholds + (size_t)f * NUM_LEVELS;
            int level = 0;
            for (int l = 0; l < NUM_LEVELS; l++) level += row[f] > t[l];
            const uint8_t *c = code + (size_t)level * NUM_BITS;
            for (int b = 0; b < NUM_BITS; b++)
                if (c[b]) ((uint64_t *)&planes[f * NUM_BITS + b])[lane] |= bit;
        }
    }
}

static void classify_block(const word_t *last, int64_t count, int32_t *out) {
    word_t cnt[NUM_CLASSES][COUNT_BITS];
    memset(cnt, 0, sizeof(cnt));
    for (int c = 0; c < NUM_CLASSES; c++) {
        for (int i = c * GROUP_SIZE; i < (c + 1) * GROUP_SIZE && i < LAST_WIDTH; i++) {
            word_t carry = last[i];
            for (int b = 0; b < COUNT_BITS; b++) {
                const word_t t = cnt[c][b] & carry;
                cnt[c][b] ^= carry;
                carry = t;
            }
        }
    }
    for (int64_t s = 0; s < count; s++) {
        const int lane = (int)(s >> 6), shift = (int)(s & 63);
        int best = 0, best_count = -1;
        for (int c = 0; c < NUM_CLASSES; c++) {
            int value = 0;
            for (int b = 0; b < COUNT_BITS; b++)
                value |= (int)((((const uint64_t *)&cnt[c][b])[lane] >> shift) & 1) << b;
            if (value > best_count) { best_count = value; best = c; }
        }
        out[s] = best;
    }
}

static word_t buf_a[MAX_WIDTH] __attribute__((aligned(64)));
static word_t buf_b[MAX_WIDTH] __attribute__((aligned(64)));
static word_t in_planes[INPUT_BITS] __attribute__((aligned(64)));

static void run_block(const word_t *planes, int64_t count, int32_t *out) {
    const word_t *cur = planes;
    word_t *bufs[2] = {buf_a, buf_b};
RUN_LAYERS
    classify_block(cur, count, out);
}

int difflut_lanes(void) { return DIFFLUT_LANES; }
int difflut_num_features(void) { return NUM_FEATURES; }
int difflut_input_bits(void) { return INPUT_BITS; }
int difflut_num_classes(void) { return NUM_CLASSES; }

/* Features (n, NUM_FEATURES) float32 -> classes. */
void difflut_predict(const float *x, int64_t n, int32_t *out) {
    for (int64_t start = 0; start < n; start += BLOCK) {
        const int64_t count = n - start < BLOCK ? n - start : BLOCK;
        encode_block(x + start * NUM_FEATURES, count, in_planes);
        run_block(in_planes, count, out + start);
    }
}

/* Pre-encoded bit planes, blocks of (INPUT_BITS, DIFFLUT_LANES) uint64 -> classes. */
void difflut_predict_packed(const uint64_t *planes, int64_t blocks, int32_t *out) {
    for (int64_t k = 0; k < blocks; k++) {
        /* copy into the aligned buffer: the caller's memory may not be vector-aligned */
        memcpy(in_planes, planes + (size_t)k * INPUT_BITS * DIFFLUT_LANES, sizeof(in_planes));
        run_block(in_planes, BLOCK, out + k * BLOCK);
    }
}

#ifdef DIFFLUT_MAIN
/* difflut_net INPUT.bin: int64 n, int64 features, then n*features float32; prints classes. */
int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s inputs.bin\n", argv[0]); return 2; }
    FILE *fp = fopen(argv[1], "rb");
    if (!fp) { perror(argv[1]); return 2; }
    int64_t header[2];
    if (fread(header, sizeof(int64_t), 2, fp) != 2 || header[1] != NUM_FEATURES) {
        fprintf(stderr, "%s: expected a header with %d features\n", argv[1], NUM_FEATURES);
        return 2;
    }
    float *x = malloc(sizeof(float) * header[0] * NUM_FEATURES);
    int32_t *out = malloc(sizeof(int32_t) * (header[0] + 1));
    if (fread(x, sizeof(float), header[0] * NUM_FEATURES, fp) != (size_t)(header[0] * NUM_FEATURES)) {
        fprintf(stderr, "%s: truncated\n", argv[1]);
        return 2;
    }
    fclose(fp);
    difflut_predict(x, header[0], out);
    for (int64_t i = 0; i < header[0]; i++) printf("%d\n", out[i]);
    free(x); free(out);
    return 0;
}
#endif
"""

_BUILD = """#!/bin/sh
# Build the shared library and the command-line evaluator of this DiffLUT network.
set -e
cd "$(dirname "$0")"
CC=${CC:-gcc}
CFLAGS=${CFLAGS:-"-O3 -march=native"}
$CC $CFLAGS -shared -fPIC -o libdifflut_net.so difflut_net.c
$CC $CFLAGS -DDIFFLUT_MAIN -o difflut_net difflut_net.c
"""


def write_c(spec: dict[str, Any], directory: str | os.PathLike[str]) -> list[Path]:
    """Write ``difflut_net.c`` and ``build.sh`` into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    thresholds = np.asarray(spec["thresholds"], np.float32)
    code = np.asarray(spec["code"], np.uint8)
    features, levels = thresholds.shape
    bits = code.shape[1]
    layers = [_pad_to_two(layer["indices"], layer["tables"]) for layer in spec["layers"]]
    max_inputs = max(idx.shape[1] for idx, _ in layers)
    if max_inputs > 12:
        raise ConfigError(f"C export supports up to 12 inputs per node, got {max_inputs}")
    k = int(spec["num_classes"])
    last = layers[-1][0].shape[0]
    group = -(-last // k)
    parts = [
        "/* DiffLUT network, generated by core-difflut. Bit-sliced evaluator. */\n",
        "#include <stdint.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n\n",
        f"#define NUM_FEATURES {features}\n#define NUM_LEVELS {max(levels, 0)}\n",
        f"#define NUM_BITS {bits}\n#define INPUT_BITS {features * bits}\n",
        f"#define NUM_CLASSES {k}\n#define LAST_WIDTH {last}\n#define GROUP_SIZE {group}\n",
        f"#define COUNT_BITS {max(1, int(group).bit_length())}\n",
        f"#define MAX_WIDTH {max(idx.shape[0] for idx, _ in layers)}\n",
        f"#define DIFFLUT_MAX_INPUTS {max(max_inputs, 2)}\n\n",
        _array("float", "thresholds", thresholds if levels else np.zeros(1, np.float32)),
        _array("uint8_t", "code", code),
    ]
    calls = []
    for i, (idx, tables) in enumerate(layers):
        parts.append(_array("uint32_t", f"layer{i}_idx", idx.astype(np.uint32)))
        parts.append(_array("uint8_t", f"layer{i}_leaf", leaf_codes(tables)))
        calls.append(
            f"    eval_layer(cur, bufs[{i % 2}], layer{i}_idx, layer{i}_leaf, "
            f"{idx.shape[0]}, {idx.shape[1]});\n    cur = bufs[{i % 2}];"
        )
    parts.append(_RUNTIME.replace("RUN_LAYERS", "\n".join(calls)))
    source = directory / SOURCE_NAME
    atomic_write_text(source, "".join(parts))
    build = directory / "build.sh"
    with atomic_path(build) as tmp:
        tmp.write_text(_BUILD)
        os.chmod(tmp, 0o777 & ~current_umask())  # executable, as the umask allows
    return [source, build]


def _compiler() -> list[str]:
    """``$CC $CFLAGS`` as ``build.sh`` reads them (default ``gcc -O3 -march=native``)."""
    try:
        cc = shlex.split(os.environ.get("CC") or "gcc")
        flags = shlex.split(os.environ.get("CFLAGS") or "-O3 -march=native")
    except ValueError as exc:
        raise ConfigError(f"C export: cannot read $CC or $CFLAGS: {exc}") from None
    if not cc:
        raise ConfigError("C export: $CC names no compiler")
    return [find_tool(cc[0], "install gcc or set CC"), *cc[1:], *flags]


def build_c(directory: str | os.PathLike[str], timeout: float = 600) -> Path:
    """Compile as ``build.sh`` does (core.tools, no shell); returns the shared library path.

    The compiler works on a copy in its own work folder; the library and the executable are
    then put into ``directory`` atomically.
    """
    directory = Path(directory)
    compiler = _compiler()
    with tool_workdir() as work:
        source = stage_input(directory / SOURCE_NAME, work, SOURCE_NAME)
        for extra, output in ((["-shared", "-fPIC"], LIB_NAME), (["-DDIFFLUT_MAIN"], EXE_NAME)):
            cmd = [*compiler, *extra, "-o", output, source]
            run_tool(cmd, cwd=work, timeout=timeout)
        for output in (LIB_NAME, EXE_NAME):
            with atomic_path(directory / output) as tmp:
                shutil.copyfile(work / output, tmp)
                os.chmod(tmp, 0o777 & ~current_umask())
    return directory / LIB_NAME


class CNetwork:
    """ctypes wrapper of a built ``libdifflut_net.so``."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        path = Path(directory) / LIB_NAME
        if not path.is_file():
            build_c(directory)
        self.lib = ctypes.CDLL(str(path))
        self.lib.difflut_predict.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p]
        self.lib.difflut_predict_packed.argtypes = [
            ctypes.c_void_p,
            ctypes.c_int64,
            ctypes.c_void_p,
        ]
        self.lanes = self.lib.difflut_lanes()
        self.block = 64 * self.lanes
        self.num_features = self.lib.difflut_num_features()
        self.input_bits = self.lib.difflut_input_bits()

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Features (B, F) -> classes (B,)."""
        x = np.ascontiguousarray(np.asarray(x, np.float32).reshape(len(x), -1))
        if x.shape[1] != self.num_features:
            raise ConfigError(f"expected {self.num_features} features, got {x.shape[1]}")
        out = np.zeros(len(x), np.int32)
        self.lib.difflut_predict(x.ctypes.data, len(x), out.ctypes.data)
        return out

    def pack(self, bits: np.ndarray) -> np.ndarray:
        """Encoded bits (B, INPUT_BITS) -> blocks (nblocks, INPUT_BITS, lanes) uint64."""
        from core_difflut.export.numpy_eval import pack_bits

        samples = len(bits)
        blocks = -(-samples // self.block)
        padded = np.zeros((blocks * self.block, bits.shape[1]), np.uint8)
        padded[:samples] = bits
        planes = pack_bits(np.ascontiguousarray(padded.T))  # (INPUT_BITS, blocks * lanes)
        return np.ascontiguousarray(
            planes.reshape(bits.shape[1], blocks, self.lanes).transpose(1, 0, 2)
        )

    def predict_packed(self, blocks: np.ndarray) -> np.ndarray:
        """Packed blocks from ``pack`` -> classes (nblocks * 64 * lanes,)."""
        blocks = np.ascontiguousarray(blocks, dtype=np.uint64)
        out = np.zeros(blocks.shape[0] * self.block, np.int32)
        self.lib.difflut_predict_packed(blocks.ctypes.data, blocks.shape[0], out.ctypes.data)
        return out
