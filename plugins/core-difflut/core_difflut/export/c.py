"""Bit-sliced C export: one self-contained C file, a build script and a ctypes wrapper.

Samples are packed 64 per uint64 and ``DIFFLUT_LANES`` words per block (64 words, 4,096
samples, by default). Every node is straight-line code (``c_ops``: a Shannon tree over its
inputs, each op counted), compiled three times in one file: AVX-512, AVX2 and portable;
``difflut_isa()`` picks the widest the CPU runs at run time, ``$DIFFLUT_ISA`` or
``difflut_set_isa`` forces one. Plain ``-O2`` builds it (no ``-march=native`` needed). The
nodes are compiled in parts of ``CHUNK``; each part runs over every vector of the block that
holds samples before the next part starts, so its code is fetched once per block (a short
last block runs only the vectors it fills).
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
from core_difflut.export.c_ops import DISPATCH_C, ISAS, Block, node_ops

__all__ = ["write_c", "build_c", "compile_c", "CNetwork", "network_ops", "ISAS"]

LIB_NAME = "libdifflut_net.so"
EXE_NAME = "difflut_net"
SOURCE_NAME = "difflut_net.c"


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


def _spread() -> np.ndarray:
    """Byte b -> uint64 whose byte i is bit i of b (eight samples' bit to eight bytes)."""
    bits = (np.arange(256)[:, None] >> np.arange(8)) & 1
    return (bits.astype(np.uint64) << (8 * np.arange(8, dtype=np.uint64))).sum(1, dtype=np.uint64)


_PRELUDE = r"""
#ifndef DIFFLUT_LANES
#define DIFFLUT_LANES 64
#endif
#define BLOCK (64 * DIFFLUT_LANES)
typedef uint64_t word_t __attribute__((vector_size(8 * DIFFLUT_LANES)));
#define DIFFLUT_INLINE static inline __attribute__((always_inline))
"""

_RUNTIME = r"""
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

/* The bit-sliced class index (INDEX_BITS words) -> one int32 per sample. */
static void write_classes(const word_t *cls, int64_t count, int32_t *out) {
    for (int64_t s = 0; s < count; s += 8) {
        const int lane = (int)(s >> 6), shift = (int)(s & 63);
        uint64_t bytes = 0;
        for (int j = 0; j < INDEX_BITS; j++)
            bytes |= spread[(((const uint64_t *)&cls[j])[lane] >> shift) & 255] << j;
        for (int64_t t = 0; t < 8 && s + t < count; t++) out[s + t] = (int32_t)(bytes >> (8 * t) & 255);
    }
}

static word_t buf_a[MAX_WIDTH] __attribute__((aligned(64)));
static word_t buf_b[MAX_WIDTH] __attribute__((aligned(64)));
static word_t cls_planes[INDEX_BITS] __attribute__((aligned(64)));
static word_t in_planes[INPUT_BITS] __attribute__((aligned(64)));

static void run_block(const word_t *planes, int64_t count, int32_t *out) {
    difflut_isa();
    net_run(difflut_isa_index, planes, buf_a, buf_b, cls_planes, (int)((count + 63) / 64));
    write_classes(cls_planes, count, out);
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
/* difflut_net INPUT.bin: int64 n, int64 features, then n*features float32; prints classes.
   $DIFFLUT_ISA=portable|avx2|avx512 forces a path; --isa prints the one in use. */
int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--isa") == 0) { printf("%s\n", difflut_isa()); return 0; }
    if (argc != 2) { fprintf(stderr, "usage: %s inputs.bin | --isa\n", argv[0]); return 2; }
    difflut_isa();
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
# One build runs everywhere: AVX-512, AVX2 and portable paths, chosen at run time
# (DIFFLUT_ISA=portable|avx2|avx512 forces one).
set -e
cd "$(dirname "$0")"
CC=${CC:-gcc}
CFLAGS=${CFLAGS:-"-O2"}
$CC $CFLAGS -fPIC -DDIFFLUT_MAIN -c -o difflut_net.o difflut_net.c
$CC $CFLAGS -shared -o libdifflut_net.so difflut_net.o
$CC $CFLAGS -o difflut_net difflut_net.o
rm -f difflut_net.o
"""


#: nodes per compiled part (one huge function takes GCC minutes; a part's code stays in the
#: instruction cache while it runs over the block: 16 measured best of 8, 16, 32, 64).
CHUNK = 16


def _layers(spec: dict[str, Any]) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(np.asarray(x["indices"]), np.asarray(x["tables"], np.uint8)) for x in spec["layers"]]


def _group(spec: dict[str, Any]) -> int:
    """Last-layer nodes per class (GroupSum's groups, the last one short when it does not divide)."""
    return -(-_layers(spec)[-1][0].shape[0] // int(spec["num_classes"]))


def _node_code(indices: np.ndarray, table: np.ndarray, out: int) -> tuple[str, int]:
    """One node's C block and its op count."""
    block = Block()
    value = block.table([f"I[{int(i)} * S]" for i in indices], table)
    return "{ " + " ".join([*block.lines, f"O[{out} * S] = {value};"]) + " }", block.ops


def _classify_code(spec: dict[str, Any]) -> tuple[str, int]:
    """GroupSum's bit-sliced counts and their argmax, written to ``cls``; code and op count."""
    last, k, group = _layers(spec)[-1][0].shape[0], int(spec["num_classes"]), _group(spec)
    block = Block("c")
    counts = [
        block.popcount([f"I[{i} * S]" for i in range(c * group, min(last, (c + 1) * group))])
        for c in range(k)
    ]
    index = block.argmax(counts)
    lines = [*block.lines, *(f"O[{j} * S] = {v};" for j, v in enumerate(index))]
    return " \\\n    ".join(lines), block.ops


def network_ops(spec: dict[str, Any]) -> dict[str, Any]:
    """Ops per 64 samples of the generated code: per node of each layer, and GroupSum+argmax."""
    per_node = [[node_ops(t, idx.shape[1]) for t in tables] for idx, tables in _layers(spec)]
    nodes = sum(sum(x) for x in per_node)
    classify = _classify_code(spec)[1]
    return {"per_node": per_node, "nodes": nodes, "classify": classify, "total": nodes + classify}


def write_c(spec: dict[str, Any], directory: str | os.PathLike[str]) -> list[Path]:
    """Write ``difflut_net.c`` and ``build.sh`` into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    thresholds = np.asarray(spec["thresholds"], np.float32)
    code = np.asarray(spec["code"], np.uint8)
    features, levels = thresholds.shape
    layers = _layers(spec)
    max_inputs = max(idx.shape[1] for idx, _ in layers)
    if max_inputs > 12:
        raise ConfigError(f"C export supports up to 12 inputs per node, got {max_inputs}")
    k = int(spec["num_classes"])
    if k > 256:
        raise ConfigError(f"C export supports up to 256 classes, got {k}")
    parts = [
        "/* DiffLUT network, generated by core-difflut. Bit-sliced evaluator. */\n",
        "#include <stdint.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n",
        _PRELUDE,
        f"#define NUM_FEATURES {features}\n#define NUM_LEVELS {max(levels, 0)}\n",
        f"#define NUM_BITS {code.shape[1]}\n#define INPUT_BITS {features * code.shape[1]}\n",
        f"#define NUM_CLASSES {k}\n#define INDEX_BITS {max(1, (k - 1).bit_length())}\n",
        f"#define MAX_WIDTH {max(idx.shape[0] for idx, _ in layers)}\n\n",
        _array("float", "thresholds", thresholds if levels else np.zeros(1, np.float32)),
        _array("uint8_t", "code", code),
        _array("uint64_t", "spread", _spread(), per_line=4),
    ]
    parts.append(DISPATCH_C)
    calls = []
    for i, (idx, tables) in enumerate(layers):
        src = "in" if i == 0 else "ab"[(i - 1) % 2]
        for start in range(0, len(idx), CHUNK):
            nodes = " \\\n    ".join(
                _node_code(idx[j], tables[j], j)[0]
                for j in range(start, min(start + CHUNK, len(idx)))
            )
            name = f"layer{i}_{start // CHUNK}"
            parts.append(f"\n#define {name}_NODES \\\n    {nodes}\nDIFFLUT_PATHS({name})\n")
            calls.append(f"    {name}[isa]({src}, {'ab'[i % 2]}, words);")
    last = "ab"[(len(layers) - 1) % 2]
    parts.append(
        f"\n#define classify_NODES \\\n    {_classify_code(spec)[0]}\nDIFFLUT_PATHS(classify)\n"
        "\n/* The network on the first `words` words of a block: input planes -> INDEX_BITS"
        " class-index planes. */\n"
        "static void net_run(int isa, const word_t *in, word_t *a, word_t *b, word_t *cls,"
        " int words) {\n" + "\n".join(calls) + f"\n    classify[isa]({last}, cls, words);\n}}\n"
    )
    parts.append(_RUNTIME)
    source = directory / SOURCE_NAME
    atomic_write_text(source, "".join(parts))
    build = directory / "build.sh"
    with atomic_path(build) as tmp:
        tmp.write_text(_BUILD)
        os.chmod(tmp, 0o777 & ~current_umask())  # executable, as the umask allows
    return [source, build]


def _compiler() -> list[str]:
    """``$CC $CFLAGS`` as ``build.sh`` reads them (default ``gcc -O2``)."""
    try:
        cc = shlex.split(os.environ.get("CC") or "gcc")
        flags = shlex.split(os.environ.get("CFLAGS") or "-O2")
    except ValueError as exc:
        raise ConfigError(f"C export: cannot read $CC or $CFLAGS: {exc}") from None
    if not cc:
        raise ConfigError("C export: $CC names no compiler")
    return [find_tool(cc[0], "install gcc or set CC"), *cc[1:], *flags]


def compile_c(
    directory: Path, source_name: str, outputs: dict[str, list[str]], timeout: float
) -> None:
    """Compile ``directory/source_name`` once (``-fPIC``) and link each output with its flags.

    ``$CC $CFLAGS`` as ``build.sh`` reads them, through core.tools (no shell); the compiler
    works on a copy in its own work folder, each output is put into ``directory`` atomically.
    """
    compiler = _compiler()
    with tool_workdir() as work:
        source = stage_input(directory / source_name, work, source_name)
        run_tool(
            [*compiler, "-fPIC", "-DDIFFLUT_MAIN", "-c", "-o", "unit.o", source],
            cwd=work,
            timeout=timeout,
        )
        for output, extra in outputs.items():
            run_tool([*compiler, *extra, "-o", output, "unit.o"], cwd=work, timeout=timeout)
        for output in outputs:
            with atomic_path(directory / output) as tmp:
                shutil.copyfile(work / output, tmp)
                os.chmod(tmp, 0o777 & ~current_umask())


def build_c(directory: str | os.PathLike[str], timeout: float = 600) -> Path:
    """Compile as ``build.sh`` does; returns the shared library path."""
    directory = Path(directory)
    compile_c(directory, SOURCE_NAME, {LIB_NAME: ["-shared"], EXE_NAME: []}, timeout)
    return directory / LIB_NAME


class CNetwork:
    """ctypes wrapper of a built ``libdifflut_net.so``.

    ``isa``: the path to run (one of ``ISAS``); default ``$DIFFLUT_ISA``, else the widest
    this CPU runs. A name not in ``ISAS``, or one this CPU cannot run, is a ``ConfigError``.
    """

    def __init__(self, directory: str | os.PathLike[str], isa: str | None = None) -> None:
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
        self.lib.difflut_set_isa.argtypes = [ctypes.c_char_p]
        self.lib.difflut_isa.restype = ctypes.c_char_p
        self.lanes = self.lib.difflut_lanes()
        self.block = 64 * self.lanes
        self.num_features = self.lib.difflut_num_features()
        self.input_bits = self.lib.difflut_input_bits()
        self.available = tuple(k for i, k in enumerate(ISAS) if self.lib.difflut_isa_available(i))
        isa = isa or os.environ.get("DIFFLUT_ISA") or self.available[-1]
        if isa not in ISAS:
            raise ConfigError(f"unknown C path {isa!r}; choose one of {', '.join(ISAS)}")
        if isa not in self.available:
            raise ConfigError(f"C path {isa!r}: this CPU runs only {', '.join(self.available)}")
        self.isa = isa

    def _use_isa(self) -> None:
        """Select this wrapper's path (a library loaded twice is one library: one setting)."""
        if self.lib.difflut_set_isa(self.isa.encode()) != 0:  # checked in __init__
            raise ConfigError(f"C path {self.isa!r} refused by {LIB_NAME}")

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Features (B, F) -> classes (B,)."""
        x = np.ascontiguousarray(np.asarray(x, np.float32).reshape(len(x), -1))
        if x.shape[1] != self.num_features:
            raise ConfigError(f"expected {self.num_features} features, got {x.shape[1]}")
        out = np.zeros(len(x), np.int32)
        self._use_isa()
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
        self._use_isa()
        self.lib.difflut_predict_packed(blocks.ctypes.data, blocks.shape[0], out.ctypes.data)
        return out
