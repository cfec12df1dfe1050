"""train.compile: the demo U-Net's training step compiled (torch.compile) against eager, on this CPU.

The quickstart model (class-conditional DDPM, ddpm-unet base 16, 16x16 digits, batch 64,
channels-last as the demo trains) takes full training steps (compute_loss, backward, AdamW) in
interleaved rounds: eager, then compiled, each round the same number of steps, so both see the
same machine load. The ratio is eager seconds per step over compiled (above 1: compile wins);
the compiled network's first step (the compilation, inductor's caches off) is timed on its
own. Writes benchmarks/results/compile.json.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/compile.py [--rounds 5] [--steps 20]
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time
from pathlib import Path
from typing import Any

from _common import save_record, start_record
from _common.markdown import Col, Section, sig
from _common.steps import step_fn, time_steps

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved eager/compiled rounds")
    parser.add_argument("--steps", type=int, default=20, help="training steps per round")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    # a cold compilation every run: the first step's time is what a new run pays
    os.environ.setdefault("TORCHINDUCTOR_FORCE_DISABLE_CACHES", "1")

    import torch
    import yaml

    import core
    from core.training.setup import _compile_networks

    record = start_record("compile")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = yaml.safe_load((ROOT / "examples/quickstart.yaml").read_text())
    dataset = core.build("dataset", config["data"])
    loader = torch.utils.data.DataLoader(dataset, batch_size=config["train"]["batch_size"])
    x, y = next(iter(loader))
    batch = (x.contiguous(memory_format=torch.channels_last), y)
    eager = core.build_model({"model": config["model"]})
    eager.to(memory_format=torch.channels_last).train()
    compiled = copy.deepcopy(eager)
    _compile_networks(compiled)
    steps = {"eager": step_fn(eager, batch), "compiled": step_fn(compiled, batch)}

    start = time.perf_counter()
    steps["compiled"]()
    compile_s = time.perf_counter() - start
    for _ in range(2):  # warm both (and any recompilation for the second call)
        steps["eager"]()
        steps["compiled"]()
    times: dict[str, list[float]] = {"eager": [], "compiled": []}
    for r in range(args.rounds):
        for mode in ("eager", "compiled"):
            times[mode].append(time_steps(steps[mode], args.steps))
        print(
            f"  round {r + 1}: eager {times['eager'][-1]:.4f} s/step, "
            f"compiled {times['compiled'][-1]:.4f} s/step",
            flush=True,
        )
    batch_size = len(x)
    rows = []
    for mode in ("eager", "compiled"):
        median = statistics.median(times[mode])
        rows.append(
            {
                "mode": mode,
                "seconds_per_step": median,
                "images_per_s": batch_size / median,
                "rounds": times[mode],
                "first_step_s": compile_s if mode == "compiled" else None,
            }
        )
    ratios = [e / c for e, c in zip(times["eager"], times["compiled"])]
    record |= {
        "threads": args.threads,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "batch": batch_size,
        "rows": rows,
        "speedup": statistics.median(ratios),
        "speedup_rounds": ratios,
        "note": "quickstart DDPM (ddpm-unet base 16, 16 px, batch 64, channels-last); "
        f"{args.rounds} interleaved rounds of {args.steps} steps; median per mode; speedup = "
        "median over rounds of eager s/step / compiled s/step; other jobs shared the 2 cores",
    }
    print(f"compiled/eager speedup {record['speedup']:.3f} (first compiled step {compile_s:.1f} s)")
    print(f"wrote {save_record('compile', record)}")


def render(record: dict[str, Any], name: str = "compile") -> Section:
    """Seconds per step per mode, the speedup and the compilation time."""
    s = Section.of(record, name, __doc__)
    s.table(
        [
            Col("mode", "mode"),
            Col("time (s/step, median)", "seconds_per_step", sig),
            Col("images/s", "images_per_s", sig),
            Col("first step (s, compiling)", "first_step_s", sig),
        ],
        record["rows"],
    )
    ratios = ", ".join(f"{r:.2f}" for r in record.get("speedup_rounds", []))
    s.add(f"Speedup (eager / compiled, median of rounds): {record['speedup']:.2f} ({ratios}).")
    if record.get("note"):
        s.add(f"Notes: {record['note'].rstrip('.')}.")
    return s


if __name__ == "__main__":
    main()
