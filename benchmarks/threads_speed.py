"""Training speed with one torch thread against two, for the demo and mnist-5k configs.

Trains each config (``--configs``) for ``--steps`` steps with ``train.threads`` 1 and 2, the two
alternating within each of ``--rounds`` rounds (which goes first alternates too), and reads the
seconds per step from the Trainer's own clock at each logged step (windows of 25 steps, the
first two left out as warm-up). Reports the median seconds per step of each thread count and the
median speed-up over rounds, with the load average before and after.
Writes benchmarks/results/threads_speed.json.

    .venv/bin/python benchmarks/threads_speed.py --rounds 3 --steps 200
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

from _common import save_record, seconds_per_step, start_record, train
from _common.markdown import Section

ROOT = Path(__file__).resolve().parents[1]


def median_step(config: str, steps: int, threads: int) -> float:
    """Median seconds per step of one short training run, its first two logged windows left out."""
    window = 25
    overrides = [
        f"train.steps={steps}",
        f"train.threads={threads}",
        f"train.log_every={window}",
        "train.checkpoint_every=null",
        "train.ema=null",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        marks = train(str(ROOT / config), overrides=overrides, run_dir=run_dir, quiet=True).marks
    return statistics.median(seconds_per_step(marks, skip=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="examples/quickstart.yaml,examples/mnist5k.yaml")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if "OMP_NUM_THREADS" in os.environ:
        parser.error("unset OMP_NUM_THREADS: train.threads sets the threads of each run")

    record = start_record("threads_speed", steps=args.steps, rounds=args.rounds)
    rows = []
    for config in args.configs.split(","):
        times: dict[int, list[float]] = {1: [], 2: []}
        for round_index in range(args.rounds):
            order = (1, 2) if round_index % 2 == 0 else (2, 1)
            for threads in order:
                times[threads].append(median_step(config, args.steps, threads))
                print(
                    f"{config} round {round_index} threads {threads}: "
                    f"{times[threads][-1] * 1000:.1f} ms/step",
                    flush=True,
                )
        speedups = [one / two for one, two in zip(times[1], times[2])]
        rows.append(
            {
                "config": config,
                "one_thread_ms_per_step": statistics.median(times[1]) * 1000,
                "two_threads_ms_per_step": statistics.median(times[2]) * 1000,
                "speedup_median": statistics.median(speedups),
                "speedup_min": min(speedups),
                "speedup_max": max(speedups),
            }
        )
    record["rows"] = rows
    out = save_record("threads_speed", record)
    for row in rows:
        print(
            f"{row['config']}: {row['one_thread_ms_per_step']:.1f} ms/step on one thread, "
            f"{row['two_threads_ms_per_step']:.1f} on two: {row['speedup_median']:.2f}x "
            f"({row['speedup_min']:.2f}-{row['speedup_max']:.2f})"
        )
    print(f"wrote {out}")


def render(record: dict[str, Any], name: str = "threads_speed") -> Section:
    """Milliseconds per step on one and two threads, and the speed-up, per config."""
    return Section.generic_of(record, name, __doc__)
