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
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import save_record, seconds_per_step, start_record, train
from _common.markdown import Col, Section, cell, sig

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
    """Seconds per step of each window of a hand-written loop (its own clock), the first left out."""
    import torch

    from core.building import build

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
    """Seconds per step of each logged window on the Trainer's own clock, the first left out."""
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
        marks = train(config, run_dir=Path(tmp) / "run", quiet=True).marks
    return seconds_per_step(marks, skip=1)  # the clock is rounded to ms: windows of 10 steps


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
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    record = start_record("trainer_overhead")
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
    print(
        f"{'case':<12} {'plain ms/step':>14} {'Trainer ms/step':>16} {'overhead (median, min..max)':>30}"
    )
    for c in cases:
        print(
            f"{c['case']:<12} {c['plain_ms_per_step']:>14.2f} {c['trainer_ms_per_step']:>16.2f} "
            f"{c['overhead_percent_median']:>+10.1f}% ({c['overhead_percent_min']:+.1f}.."
            f"{c['overhead_percent_max']:+.1f}%)"
        )
    print("target <= 5% on an idle machine")
    record.update(
        {
            "batch_size": args.batch_size,
            "steps": args.steps,
            "rounds": args.rounds,
            "threads": torch.get_num_threads(),
            "adamw": {**ADAMW, "lr": 1e-3},
            "cases": cases,
            "command": "python benchmarks/trainer_overhead.py "
            f"--steps {args.steps} --rounds {args.rounds} --batch-size {args.batch_size} "
            f"--cases {args.cases}" + (f" --threads {args.threads}" if args.threads else ""),
        }
    )
    print(f"wrote {save_record('trainer_overhead', record)}")


def render(record: dict[str, Any], name: str = "trainer_overhead") -> Section:
    """Plain loop against the Trainer, milliseconds per step and overhead, per case."""
    s = Section.of(record, name, __doc__)
    cases = record["cases"]
    s.add(
        f"Setup: batch {record['batch_size']}, {record['steps']} steps per loop, "
        f"{record['rounds']} rounds (both loops in each round, alternating which goes first); "
        "models: " + "; ".join(f"{c['case']} {cell(c.get('model', {}))}" for c in cases) + "."
    )
    s.table(
        [
            Col("case", "case"),
            Col("plain loop (ms/step)", "plain_ms_per_step", sig),
            Col("core Trainer (ms/step)", "trainer_ms_per_step", sig),
            Col("overhead, median of rounds (%)", "overhead_percent_median", lambda v: f"{v:+.2f}"),
            Col(
                "overhead, rounds' range (%)",
                lambda c: f"{c['overhead_percent_min']:+.2f} to {c['overhead_percent_max']:+.2f}",
                str,
            ),
        ],
        cases,
    )
    options = " ".join(f"--{k} {record[k]}" for k in ("steps", "rounds", "threads") if k in record)
    s.commands = [f".venv/bin/python benchmarks/trainer_overhead.py {options}".strip()]
    return s


if __name__ == "__main__":
    main()
