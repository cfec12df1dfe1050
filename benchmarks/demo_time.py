"""How long ``make demo`` trains: the demo's config against the previous quickstart, interleaved.

The 2-minute goal is for an idle machine, and a shared machine runs several times slower
(the load of other jobs stretches every step). So this times ``core train`` of the demo
config (``examples/quickstart.yaml``) and of the previous quickstart (its config as of commit
b9712f3, unconditional, default memory layout), alternating A B A B ... under the same load,
and scales the previous quickstart's idle measurement (README, 2026-12-02: 124 s for its
1,800 steps on one thread of an idle 2-core machine) by the measured ratio:

    idle estimate = 124 s x (demo seconds / previous seconds)

Both run whole, as ``make demo`` runs them (one thread, every step, the final grid and
checkpoints). Writes benchmarks/results/demo_time.json with every round and the load average
before and after each.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/demo_time.py --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PREVIOUS_COMMIT = "b9712f3"
PREVIOUS_IDLE_SECONDS = 124.0  # README, measured by make demo on 2026-12-02, one idle thread


def train_seconds(config: Path, run_dir: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [
            str(ROOT / ".venv/bin/core"),
            "train",
            str(config),
            "--overwrite",
            "--quiet",
            "--run-name",
            run_dir.name,
            "--runs-dir",
            str(run_dir.parent),
        ],
        check=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/demo_time.json"))
    args = parser.parse_args()
    previous = subprocess.run(
        ["git", "show", f"{PREVIOUS_COMMIT}:examples/quickstart.yaml"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rounds = []
    with tempfile.TemporaryDirectory() as tmp:
        old_config = Path(tmp) / "previous_quickstart.yaml"
        old_config.write_text(previous)
        cases = [("demo", ROOT / "examples/quickstart.yaml"), ("previous", old_config)]
        for r in range(args.rounds):
            row = {}
            for name, config in cases if r % 2 == 0 else cases[::-1]:
                load = os.getloadavg()
                seconds = train_seconds(config, Path(tmp) / "runs" / name)
                row[name] = {
                    "seconds": seconds,
                    "loadavg_before": load,
                    "loadavg_after": os.getloadavg(),
                }
                print(
                    f"round {r} {name}: {seconds:.1f} s (load {load[0]:.2f} -> {os.getloadavg()[0]:.2f})",
                    flush=True,
                )
            row["ratio"] = row["demo"]["seconds"] / row["previous"]["seconds"]
            rounds.append(row)
    ratio = statistics.median(r["ratio"] for r in rounds)
    estimate = PREVIOUS_IDLE_SECONDS * ratio
    print(
        f"demo / previous quickstart: {ratio:.3f} (per round: "
        + ", ".join(f"{r['ratio']:.3f}" for r in rounds)
        + ")"
    )
    print(
        f"idle estimate of the demo's training: {estimate:.0f} s "
        f"({PREVIOUS_IDLE_SECONDS:.0f} s x {ratio:.3f})"
    )
    result = {
        "benchmark": "demo_time",
        "command": " ".join(["python", "benchmarks/demo_time.py", *sys.argv[1:]]),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "previous_config": f"{PREVIOUS_COMMIT}:examples/quickstart.yaml",
        "previous_idle_seconds": PREVIOUS_IDLE_SECONDS,
        "rounds": rounds,
        "ratio_median": ratio,
        "idle_estimate_seconds": estimate,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
