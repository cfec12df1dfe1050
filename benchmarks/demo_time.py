"""How long ``make demo`` trains: the demo's config against the previous quickstart, interleaved.

The 2-minute goal is for an idle machine, and a shared machine runs several times slower
(the load of other jobs stretches every step). So this trains the demo config
(``examples/quickstart.yaml``) and the previous quickstart (its config as of commit b9712f3,
unconditional, default memory layout), alternating A B A B ... under the same load, and
scales the previous quickstart's idle measurement (README, 2026-12-02: 124 s for its 1,800
steps on one thread of an idle 2-core machine, as ``make demo`` printed it) by the measured
ratio:

    idle estimate = 124 s x (demo seconds / previous seconds)

Both run whole on one torch thread (every step, the final grid and checkpoints), timed by the
Trainer's own clock (``fit()``'s summary seconds, what ``core train`` prints). Writes
benchmarks/results/demo_time.json with every round and the load average before and after each.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/demo_time.py --rounds 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from _common import save_record, start_record, train
from _common.markdown import Col, Section, sig

ROOT = Path(__file__).resolve().parents[1]
PREVIOUS_COMMIT = "b9712f3"
PREVIOUS_IDLE_SECONDS = 124.0  # README, measured by make demo on 2026-12-02, one idle thread
CLOCK = "the Trainer's clock (fit()'s summary seconds), one torch thread"
#: how records written before the one clock timed the training
OLD_CLOCK = "wall time of the whole `core train` command (start-up included), OMP_NUM_THREADS=1"


def train_seconds(config: Path, run_dir: Path) -> float:
    """The Trainer's seconds for one whole run of ``config`` on one torch thread."""
    overrides = ["train.threads=1"]
    return train(
        str(config), overrides=overrides, run_dir=run_dir, overwrite=True, quiet=True
    ).seconds


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
    record = start_record("demo_time", training_clock=CLOCK)
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
                    "load_average_before": load,
                    "load_average_after": os.getloadavg(),
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
    record.update(
        {
            "previous_config": f"{PREVIOUS_COMMIT}:examples/quickstart.yaml",
            "previous_idle_seconds": PREVIOUS_IDLE_SECONDS,
            "rounds": rounds,
            "ratio_median": ratio,
            "idle_estimate_seconds": estimate,
        }
    )
    print(f"wrote {save_record('demo_time', record, args.out)}")


def render(record: dict[str, Any], name: str = "demo_time") -> Section:
    """Every round, both configs, and the idle estimate."""
    s = Section.of(record, name, __doc__)
    rows = []
    for i, row in enumerate(record["rounds"]):
        for config in ("demo", "previous"):
            load = row[config].get("load_average_before") or row[config]["loadavg_before"]
            rows.append(
                {
                    "round": i,
                    "config": config,
                    "seconds": row[config]["seconds"],
                    "load": load[0],
                    "ratio": row["ratio"] if config == "demo" else None,
                }
            )
    s.table(
        [
            Col("round", "round"),
            Col("config", "config"),
            Col("training (s)", "seconds", sig),
            Col("1-min load average before", "load", sig),
            Col("demo / previous", "ratio", sig),
        ],
        rows,
    )
    s.add(
        f"Training seconds: {record.get('training_clock', OLD_CLOCK)}. Idle estimate of the "
        f"demo's training: {sig(record['previous_idle_seconds'])} s (the previous quickstart on "
        f"an idle machine) x {sig(record['ratio_median'])} (median ratio) = "
        f"{sig(record['idle_estimate_seconds'])} s."
    )
    return s


if __name__ == "__main__":
    main()
