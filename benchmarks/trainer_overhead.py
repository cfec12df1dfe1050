"""Trainer overhead: the same model, data and optimizer trained by ``core.training.Trainer``
and by a plain hand-written PyTorch loop; interleaved rounds, median time per step.

    .venv/bin/python benchmarks/trainer_overhead.py [--steps 200] [--rounds 3] [--threads N]

Prints a table and writes benchmarks/results/trainer_overhead.json. Target: overhead <= 5%.
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


def plain_loop(model_cfg, data_cfg, steps, batch_size, lr, seed) -> list[float]:
    torch.manual_seed(seed)
    model = build("model", model_cfg)
    dataset = build("dataset", data_cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model_cfg = {"type": "digit-classifier", "width": 8, "image_size": 16, "feature_dim": 64}
    data_cfg = {"type": "digits", "image_size": 16}
    plain, ours = [], []
    for _ in range(args.rounds):  # interleaved
        plain += plain_loop(model_cfg, data_cfg, args.steps, args.batch_size, 1e-3, 0)
        ours += trainer_loop(model_cfg, data_cfg, args.steps, args.batch_size, 1e-3, 0)
    p, t = statistics.median(plain), statistics.median(ours)
    overhead = (t - p) / p * 100
    rows = [("plain PyTorch loop", p), ("core Trainer", t)]
    print(f"{'loop':<20} {'median ms/step':>15}")
    for name, value in rows:
        print(f"{name:<20} {value * 1000:>15.2f}")
    print(f"overhead: {overhead:+.1f}% (target <= 5%)")
    result = {
        "model": model_cfg,
        "data": data_cfg,
        "batch_size": args.batch_size,
        "steps": args.steps,
        "rounds": args.rounds,
        "threads": torch.get_num_threads(),
        "plain_ms_per_step": round(p * 1000, 3),
        "trainer_ms_per_step": round(t * 1000, 3),
        "overhead_percent": round(overhead, 2),
        "torch": torch.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {torch.get_num_threads()} threads",
        "date": time.strftime("%Y-%m-%d"),
        "rows": [{"loop": name, "median ms/step": round(value * 1000, 2)} for name, value in rows]
        + [{"loop": "overhead", "median ms/step": f"{overhead:+.1f}%"}],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
