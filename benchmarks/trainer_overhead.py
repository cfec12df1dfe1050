"""Trainer overhead: the same model, data and optimizer trained by ``core.training.Trainer``
and by a plain hand-written PyTorch loop, for two cases (a small digit classifier and the
quickstart DDPM of ``make demo``).

Each round runs both loops of a case back to back, alternating which goes first, so a change
in the machine's load hits both alike; a round's overhead is the Trainer's median time per
step over the plain loop's in that round. Both use AdamW with the same settings (lr, betas,
eps and weight decay, set explicitly: torch's AdamW defaults to weight decay 0.01, the
Trainer's config to 0), a constant LR and no clipping, EMA or checkpoints.

    .venv/bin/python benchmarks/trainer_overhead.py [--steps 200] [--rounds 5] [--threads N]
        [--cases classifier,ddpm]

Prints the median overhead over rounds and its spread (min, max) per case, and writes
benchmarks/results/trainer_overhead.json. Target: overhead <= 5% on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from core.components import build
from core.training.trainer import Trainer

RESULTS = Path(__file__).parent / "results" / "trainer_overhead.json"
WINDOW = 10  # steps per timing window (the Trainer logs every WINDOW steps)


#: AdamW settings shared by both loops (the Trainer's defaults, written out).
ADAMW = {"betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0}

#: case -> (model section, data section)
CASES = {
    "classifier": (
        {"type": "digit-classifier", "width": 8, "image_size": 16, "feature_dim": 64},
        {"type": "digits", "image_size": 16},
    ),
    "ddpm": (None, None),  # examples/quickstart.yaml's model and data sections
}


def plain_loop(model_cfg, data_cfg, steps, batch_size, lr, seed) -> list[float]:
    torch.manual_seed(seed)
    model = build("model", model_cfg)
    dataset = build("dataset", data_cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, **ADAMW)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=True, drop_last=True
    )
    times, step, start = [], 0, time.perf_counter()
    model.train()
    while step < steps:
        for batch in loader:
            loss = model.compute_loss(batch)["loss"]
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            if step % WINDOW == 0:
                loss.item()  # the Trainer reads the loss when it logs
                now = time.perf_counter()
                times.append((now - start) / WINDOW)
                start = now
            if step == steps:
                break
    return times[1:]  # the first window warms up


def trainer_loop(model_cfg, data_cfg, steps, batch_size, lr, seed) -> list[float]:
    config = {
        "model": model_cfg,
        "data": data_cfg,
        "train": {
            "steps": steps,
            "batch_size": batch_size,
            "lr": lr,
            "betas": list(ADAMW["betas"]),
            "eps": ADAMW["eps"],
            "weight_decay": ADAMW["weight_decay"],
            "lr_schedule": "constant",
            "log_every": WINDOW,
            "seed": seed,
        },
    }
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(config, run_dir=Path(tmp) / "run", quiet=True)
        trainer.fit()
        marks = [r["time"] for r in trainer.history]
    # "time" is seconds since the loop started, rounded to ms: per-step time of each window
    return [(b - a) / WINDOW for a, b in zip(marks, marks[1:])]


def quickstart_sections() -> tuple[dict, dict]:
    from core.config import Config

    config = Config(str(Path(__file__).resolve().parents[1] / "examples/quickstart.yaml"))
    sections = config.to_dict()
    return sections["model"], sections["data"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--cases", default="classifier,ddpm")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    cases = []
    for case in args.cases.split(","):
        model_cfg, data_cfg = CASES[case]
        if case == "ddpm":
            model_cfg, data_cfg = quickstart_sections()
        per_round, plain_all, ours_all = [], [], []
        for r in range(args.rounds):  # both loops in every round, alternating which goes first
            loops = [("plain", plain_loop), ("trainer", trainer_loop)]
            times = {}
            for name, loop in loops if r % 2 == 0 else loops[::-1]:
                times[name] = loop(model_cfg, data_cfg, args.steps, args.batch_size, 1e-3, 0)
            p, t = statistics.median(times["plain"]), statistics.median(times["trainer"])
            per_round.append(
                {"plain_ms": p * 1000, "trainer_ms": t * 1000, "overhead": (t - p) / p}
            )
            plain_all += times["plain"]
            ours_all += times["trainer"]
            print(
                f"{case} round {r}: plain {p * 1000:.2f} ms/step, Trainer {t * 1000:.2f} "
                f"ms/step, {100 * (t - p) / p:+.1f}%",
                flush=True,
            )
        overheads = [row["overhead"] * 100 for row in per_round]
        cases.append(
            {
                "case": case,
                "model": model_cfg,
                "data": data_cfg,
                "plain_ms_per_step": round(statistics.median(plain_all) * 1000, 3),
                "trainer_ms_per_step": round(statistics.median(ours_all) * 1000, 3),
                "overhead_percent_median": round(statistics.median(overheads), 2),
                "overhead_percent_min": round(min(overheads), 2),
                "overhead_percent_max": round(max(overheads), 2),
                "rounds": per_round,
            }
        )
    load_after = os.getloadavg()
    print(
        f"{'case':<12} {'plain ms/step':>14} {'Trainer ms/step':>16} {'overhead (median, min..max)':>30}"
    )
    for c in cases:
        print(
            f"{c['case']:<12} {c['plain_ms_per_step']:>14.2f} {c['trainer_ms_per_step']:>16.2f} "
            f"{c['overhead_percent_median']:>+10.1f}% ({c['overhead_percent_min']:+.1f}.."
            f"{c['overhead_percent_max']:+.1f}%)"
        )
    print(
        f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after (target <= 5% "
        "on an idle machine)"
    )
    first = cases[0]
    result = {
        "benchmark": "trainer_overhead",
        # the first case's figures at the top level, as earlier versions of this file wrote them
        "model": first["model"],
        "data": first["data"],
        "plain_ms_per_step": first["plain_ms_per_step"],
        "trainer_ms_per_step": first["trainer_ms_per_step"],
        "overhead_percent": first["overhead_percent_median"],
        "batch_size": args.batch_size,
        "steps": args.steps,
        "rounds": args.rounds,
        "threads": torch.get_num_threads(),
        "adamw": {**ADAMW, "lr": 1e-3},
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "cases": cases,
        "torch": torch.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {torch.get_num_threads()} threads",
        "date": time.strftime("%Y-%m-%d"),
        "command": "python benchmarks/trainer_overhead.py "
        f"--steps {args.steps} --rounds {args.rounds} --batch-size {args.batch_size} "
        f"--cases {args.cases}" + (f" --threads {args.threads}" if args.threads else ""),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
