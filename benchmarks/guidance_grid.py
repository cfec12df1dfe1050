"""Trained runs' final models scored over guidance scales and guidance intervals.

Loads the ``final/`` (EMA) weights of each ``--run`` (repeatable) and, for every scale in
``--guidance`` and interval in ``--intervals``, draws ``--n`` samples with the run's sampler
(labels 0..9 in turn, sampling seed 0) and scores them as ``benchmarks/demo_digits.py`` does:
feature-FID against the test split with its floor, class accuracy with its ceiling, and the
median distance of a sample to its nearest training image. An interval is ``LOW:HIGH`` (guide
only at noise levels sigma in (LOW, HIGH]) or ``all`` (guide at every step). Writes ``--out``
after each point.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/guidance_grid.py \\
        --run runs/exp_m3k/mnist5k_seed0 --guidance 1.5,2,2.5 --intervals all,0.3:5 \\
        --out benchmarks/results/guidance_grid.json
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/guidance_grid.py \\
        --run runs/exp_m3k/mnist5k_seed0 --run runs/exp_m3k/mnist5k_seed1 ... \\
        --guidance 2.25,2.5 --intervals 0.3:5 --out /tmp/seeds.json
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from _common import save_record, start_record
from _common.digits import SCORE_COLUMNS, reference_set, score_line, score_samples, scored
from _common.markdown import Col, Section, sig

ROOT = Path(__file__).resolve().parents[1]


def parse_interval(text: str) -> tuple[float, float]:
    """``all`` -> every step (0, inf); ``LOW:HIGH`` -> (LOW, HIGH)."""
    if text == "all":
        return 0.0, math.inf
    low, sep, high = text.partition(":")
    if not sep:
        raise argparse.ArgumentTypeError(f"an interval is LOW:HIGH or all, got {text!r}")
    return float(low), float(high)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--run", action="append", required=True, help="a run directory with final/, repeatable"
    )
    parser.add_argument("--guidance", default="2", help="comma-separated guidance scales")
    parser.add_argument("--intervals", default="all", help="comma-separated, LOW:HIGH or all")
    parser.add_argument("--n", type=int, default=None, help="samples (default: evaluate.n)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/guidance_grid.json"))
    args = parser.parse_args()
    try:
        intervals = [parse_interval(part) for part in args.intervals.split(",")]
    except (argparse.ArgumentTypeError, ValueError) as exc:
        parser.error(str(exc))
    for run in args.run:  # every run checked before the first is scored
        if not (Path(run) / "final").is_dir():
            parser.error(f"{run}: no final/ weights (a finished run directory expected)")

    import torch

    import core

    torch.set_num_threads(1)
    record = start_record("guidance_grid", points=[])
    out_path = Path(args.out)
    for run in args.run:
        run_dir = Path(run)
        config = core.Config(run_dir / "config.yaml").to_dict()
        sample = config.get("sample") or {}
        ref = reference_set(config["data"], args.n or int(config["evaluate"]["n"]))
        model = core.build_model(str(run_dir / "final")).eval()
        for interval in intervals:
            for guidance in (float(g) for g in args.guidance.split(",")):
                score = score_samples(
                    model, ref, sample["sampler"], sample["steps"], guidance, interval
                )
                if math.isinf(interval[1]):
                    score["guidance_interval"] = "all"
                record["points"].append({"run": str(run_dir), **score})
                print(
                    f"{run_dir} guidance {guidance:g} interval {score['guidance_interval']}: "
                    + score_line(score),
                    flush=True,
                )
                save_record("guidance_grid", record, out_path)


def render(record: dict[str, Any], name: str = "guidance_grid") -> Section:
    """One row per run, guidance scale and interval: the three scores."""
    s = Section.of(record, name, __doc__)
    rows = [
        {
            "run": p["run"],
            "guidance": p["guidance"],
            "interval": p["guidance_interval"],
            "sampler": f"{p['sampler']}-{p['steps']}",
            **scored(p),
        }
        for p in record["points"]
    ]
    columns = [
        Col("run (its final EMA weights)", "run", str),
        Col("guidance", "guidance", sig),
        Col("guided noise levels (sigma)", "interval", str),
        Col("sampler", "sampler"),
    ]
    s.table(columns + SCORE_COLUMNS, rows)
    return s


if __name__ == "__main__":
    main()
