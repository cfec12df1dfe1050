"""Throughput of the exported DiffLUT evaluators on one CPU core.

    python benchmarks/difflut_export.py [--samples 262144] [--quick]

Network: 784 features x 3 thermometer bits = 2,352 input bits -> 2,000 -> 1,000 LUTs
(n = 6) -> GroupSum(10). Speed does not depend on the truth tables, so the network is
built untrained (random tables). Encoding is excluded for the C and NumPy rows: they
start from pre-packed input bit planes. The C evaluator is single-threaded (one core);
PyTorch eval mode is timed with 1 thread for comparison. Results go to
benchmarks/results/difflut_export.json.

The bound: ``core_difflut.export.c_bound``'s microkernel (one node's code at every node
position, loads and stores over a working set of the network's activations, the widest path
the CPU runs), timed interleaved with the C evaluator (median of the per-pair ratios). One op
is one AND/OR/XOR/ANDNOT/NOT on one 64-bit word; a select is three; the evaluator's ops are
counted from its generated code (nodes, GroupSum and argmax). Every time is the calling
thread's CPU time (``time.thread_time``: the C code runs in it through ctypes), so a shared,
loaded machine's waits for the core are not counted. ``--quick`` times only the C evaluator
against the bound, on fewer samples, and saves nothing (for iterating on the generator).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from typing import Any

from _common import save_record, start_record
from _common.markdown import Col, Section, integer, label, sig, yes_no


def _best(fn, repeats: int) -> tuple[float, float]:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.thread_time()
        fn()
        times.append(time.thread_time() - t0)
    return min(times), statistics.median(times)


def _cpu() -> dict[str, Any]:
    """CPU model and its widest vector flags, from /proc/cpuinfo (Linux)."""
    model, flags = "unknown", set()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model == "unknown":
                    model = value.strip()
                if key.strip() == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    return {"model": model, "avx512f": "avx512f" in flags, "avx2": "avx2" in flags}


def _bound_rows(net, blocks, bound, ops_per_64: int, repeats: int) -> dict[str, Any]:
    """Evaluator and bound timed in turns; medians and the median of the per-turn ratios."""
    samples = blocks.shape[0] * net.block
    reps = blocks.shape[0]
    net.predict_packed(blocks)
    bound.run(reps)
    evals, bounds, ratios = [], [], []
    for _ in range(repeats):
        t0 = time.thread_time()
        net.predict_packed(blocks)
        t1 = time.thread_time()
        bound.run(reps)
        t2 = time.thread_time()
        evals.append(ops_per_64 * samples / 64 / (t1 - t0))
        bounds.append(bound.ops_per_run * reps / (t2 - t1))
        ratios.append(evals[-1] / bounds[-1])
    return {
        "isa": net.isa,
        "ops_per_64_samples": ops_per_64,
        "evaluator_ops_per_s_median": statistics.median(evals),
        "bound_ops_per_s_median": statistics.median(bounds),
        "bound_ops_per_node": bound.node_ops,
        "fraction_of_bound_median": statistics.median(ratios),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=262144)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="C against the bound only, no record")
    args = parser.parse_args()
    if args.quick:
        args.samples, args.repeats = min(args.samples, 65536), min(args.repeats, 5)
    import numpy as np
    import torch
    from core_difflut import ModelConfig, build_model
    from core_difflut.export import export_model
    from core_difflut.export.c import CNetwork, network_ops
    from core_difflut.export.c_bound import build_bound
    from core_difflut.export.numpy_eval import DiffLUTNumpy, pack_bits
    from core_difflut.export.spec import network_spec

    record = start_record("difflut_export")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    config = ModelConfig(
        node_type="dwn",
        layer_type="random",
        layer_widths=[2000, 1000],
        input_size=784,
        encoder_config={"name": "thermometer", "num_bits": 3},
    )
    model = build_model(config)
    model.fit_encoder(torch.rand(256, 784))
    model.eval()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        t0, c0 = time.perf_counter(), os.times()
        export_model(model, tmp, "c", build=True)
        build_s, c1 = time.perf_counter() - t0, os.times()
        build_cpu_s = c1.children_user + c1.children_system - c0.children_user - c0.children_system
        net = CNetwork(tmp)
        rng = np.random.default_rng(0)
        bits = (rng.random((args.samples, 2352)) > 0.5).astype(np.uint8)
        blocks = net.pack(bits)
        best, median = _best(lambda: net.predict_packed(blocks), args.repeats)
        rows["c_bitsliced"] = {
            "samples_per_s_best": blocks.shape[0] * net.block / best,
            "samples_per_s_median": blocks.shape[0] * net.block / median,
            "samples_per_word": 64,
            "samples_per_block": net.block,
            "build_s": round(build_s, 1),
            "build_cpu_s": round(build_cpu_s, 1),
        }
        spec = network_spec(model)
        ops = network_ops(spec)
        bound = build_bound(spec, os.path.join(tmp, "bound"), net.isa)
        bound_row = _bound_rows(net, blocks, bound, ops["total"], args.repeats)
        bound_row["node_ops_per_64_samples"] = ops["nodes"]
        bound_row["classify_ops_per_64_samples"] = ops["classify"]
        # correctness on this network too
        sample = torch.as_tensor(bits[:2048]).float()
        expected = model.group_sum(model.features(sample)).argmax(1).numpy()
        got = net.predict_packed(net.pack(bits[:2048]))[:2048]
        rows["c_bitsliced"]["bit_exact_on_2048"] = bool(np.array_equal(got, expected))
    print(
        f"C path {bound_row['isa']}: evaluator {bound_row['evaluator_ops_per_s_median']:.3g} ops/s,"
        f" bound {bound_row['bound_ops_per_s_median']:.3g} ops/s,"
        f" fraction {bound_row['fraction_of_bound_median']:.2f}"
        f" (build {build_s:.0f} s, bit-exact {rows['c_bitsliced']['bit_exact_on_2048']})"
    )
    if args.quick:
        return

    numpy_net = DiffLUTNumpy(network_spec(model))
    n_np = 16384
    planes = pack_bits(np.ascontiguousarray(bits[:n_np].T))
    best, median = _best(lambda: numpy_net.scores(numpy_net.run_planes(planes), n_np), 3)
    rows["numpy_bitpacked"] = {
        "samples_per_s_best": n_np / best,
        "samples_per_s_median": n_np / median,
    }

    x = torch.as_tensor(bits[:8192]).float()

    def torch_eval():
        with torch.no_grad():
            model.group_sum(model.features(x)).argmax(1)

    best, median = _best(torch_eval, 3)
    rows["torch_eval_1_thread"] = {
        "samples_per_s_best": len(x) / best,
        "samples_per_s_median": len(x) / median,
    }
    print(f"{'evaluator':22s} {'best samples/s':>16s} {'median samples/s':>18s}")
    for name, row in rows.items():
        print(f"{name:22s} {row['samples_per_s_best']:16,.0f} {row['samples_per_s_median']:18,.0f}")
    record |= {
        "timer": "thread CPU time",
        "process_cpu_s": round(time.process_time(), 1),
        "network": "2352 bits -> 2000 -> 1000 LUT6 -> GroupSum(10)",
        "cpu": _cpu(),
        "bound": bound_row,
        "encoding_excluded": True,
        "results": rows,
    }
    print(f"wrote {save_record('difflut_export', record)}")


_EVALUATORS = {
    "c_bitsliced": "C, bit-sliced",
    "numpy_bitpacked": "NumPy, bit-packed",
    "torch_eval_1_thread": "PyTorch eval mode, 1 thread",
}


def render(record: dict[str, Any], name: str = "difflut_export") -> Section:
    """Samples/s per evaluator."""
    s, r = Section.of(record, name, __doc__), record
    s.add(
        f"Network: {r['network']}. Input encoding "
        + ("excluded from" if r.get("encoding_excluded") else "included in")
        + " the C and NumPy timings."
        + (f" Times are {r['timer']}." if r.get("timer") else "")
    )
    rows = [{"evaluator": _EVALUATORS.get(k, label(k)), **v} for k, v in r["results"].items()]
    s.table(
        [
            Col("evaluator", "evaluator"),
            Col("best (samples/s)", "samples_per_s_best", integer),
            Col("median (samples/s)", "samples_per_s_median", integer),
            Col("samples per word", "samples_per_word", integer),
            Col("samples per block", "samples_per_block", integer),
            Col("build (s)", "build_s", sig),
            Col("build (CPU s)", "build_cpu_s", sig),
            Col("bit-exact on 2,048 samples", "bit_exact_on_2048", yes_no),
        ],
        rows,
    )
    b, cpu = r.get("bound"), r.get("cpu", {})
    if b:
        isa = ", ".join(k for k in ("avx512f", "avx2") if cpu.get(k)) or "no AVX2"
        s.add(
            f"Against the machine's bound ({cpu.get('model', '?')}, {isa}; C path {b['isa']}, "
            "one core): one op is one AND/OR/XOR/ANDNOT/NOT on one 64-bit word (a select is "
            f"three); the evaluator does {b['ops_per_64_samples']:,} ops per 64 samples "
            f"({b['node_ops_per_64_samples']:,} in the nodes, {b['classify_ops_per_64_samples']:,}"
            " in GroupSum and argmax), the microkernel runs one node of "
            f"{b['bound_ops_per_node']} ops at every node position, timed in turns."
        )
        s.table(
            [
                Col("evaluator (ops/s)", "evaluator_ops_per_s_median", sig),
                Col("bound (ops/s)", "bound_ops_per_s_median", sig),
                Col("fraction of the bound", "fraction_of_bound_median", sig),
            ],
            [b],
        )
    return s


if __name__ == "__main__":
    main()
