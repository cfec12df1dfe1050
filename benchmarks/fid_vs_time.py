"""Feature-FID against training seconds: every kept checkpoint of one or more runs, scored.

For each ``--run LABEL=DIR`` (a run trained with ``train.keep_checkpoints`` high enough to keep
every ``checkpoints/step_<N>``, e.g. by ``benchmarks/demo_digits.py --keep-runs --set
train.keep_checkpoints=20``) it loads the EMA weights of each checkpoint (the raw ones when
the run kept no EMA), draws ``--n`` class-conditional samples with the run's sampler and
guidance (labels 0..9 in turn, sampling seed 0, as ``benchmarks/demo_digits.py`` draws them)
and scores them the same three ways:
feature-FID against the test split, class accuracy, and the median distance of a sample to its
nearest training image. The training seconds of step N are the trainer's ``time`` field of
step N in the run's ``metrics.jsonl``: wall seconds since training began, checkpoint writes
included (checkpoint steps are multiples of ``log_every`` in core's configs; otherwise the
last logged step before N is scaled to N).

Writes the points to ``--out`` after each one (``--resume`` skips points already there) and,
with ``--plot``, feature-FID and accuracy against training seconds, one line per run.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/fid_vs_time.py \\
        --run "new recipe=runs/exp_m3k/mnist5k_seed0" \\
        --run "previous recipe=runs/exp_m3k/mnist5k-previous_seed0" \\
        --out benchmarks/results/fid_vs_time.json --plot docs/images/mnist5k_fid_vs_time.png
    .venv/bin/python benchmarks/fid_vs_time.py --out benchmarks/results/fid_vs_time.json \\
        --plot docs/images/mnist5k_fid_vs_time.png --plot-only
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from _common import logged_seconds, resumed_record, save_record
from _common.digits import (
    SCORE_COLUMNS,
    reference_set,
    save_figure,
    score_line,
    score_samples,
    scored,
)
from _common.markdown import Col, Section, sig

ROOT = Path(__file__).resolve().parents[1]


def plot(record: dict, out: str) -> None:
    """feature-FID and accuracy against training seconds, one line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_fid, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    floor = ceiling = None
    for label, points in record["runs"].items():
        points = sorted(points, key=lambda p: p["train_seconds"])
        seconds = [p["train_seconds"] for p in points]
        ax_fid.plot(seconds, [p["feature_fid"] for p in points], "o-", label=label)
        ax_acc.plot(seconds, [p["accuracy"] for p in points], "o-", label=label)
        floor, ceiling = points[0]["fid_floor"], points[0]["accuracy_ceiling"]
    ax_fid.axhline(floor, color="grey", ls="--", label=f"floor {floor:.2f}")
    ax_fid.axhline(2 * floor, color="red", ls=":", label=f"goal: 2x floor ({2 * floor:.2f})")
    ax_acc.axhline(ceiling, color="grey", ls="--", label=f"ceiling {ceiling:.3f}")
    ax_acc.axhline(0.95, color="red", ls=":", label="goal 0.95")
    ax_fid.set(
        xlabel="training seconds (one CPU thread)",
        ylabel="feature-FID",
        yscale="log",
        title="feature-FID (log scale)",
    )
    ax_acc.set(xlabel="training seconds (one CPU thread)", ylabel="class accuracy")
    ax_acc.set_title("accuracy")
    save_figure(fig, (ax_fid, ax_acc), out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", default=[], help="LABEL=RUN_DIR, repeatable")
    parser.add_argument("--n", type=int, default=None, help="samples (default: evaluate.n)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/fid_vs_time.json"))
    parser.add_argument("--resume", action="store_true", help="skip points already in --out")
    parser.add_argument("--plot", help="write the plot to this PNG")
    parser.add_argument("--plot-only", action="store_true", help="only plot what --out holds")
    args = parser.parse_args()
    out_path = Path(args.out)
    if args.plot_only and not args.plot:
        parser.error("--plot-only needs --plot PNG")
    if args.plot_only:
        plot(json.loads(out_path.read_text()), args.plot)
        return

    import torch

    import core
    from core.training.checkpoint import checkpoint_step, list_checkpoints
    from core.weights import load_weights

    record = resumed_record("fid_vs_time", out_path, args.resume)
    record.setdefault("runs", {})
    runs = []  # every run checked before the first is scored
    for spec in args.run:
        label, sep, directory = spec.partition("=")
        if not sep:
            parser.error(f"--run needs LABEL=RUN_DIR, got {spec!r}")
        checkpoints = list_checkpoints(Path(directory))
        if not checkpoints:
            parser.error(f"{directory}: no checkpoints/step_<N> to score")
        runs.append((label, Path(directory), checkpoints))
    torch.set_num_threads(1)
    for label, run_dir, checkpoints in runs:
        config = core.Config(run_dir / "config.yaml").to_dict()
        sample = config.get("sample") or {}
        ref = reference_set(config["data"], args.n or int(config["evaluate"]["n"]))
        seconds = logged_seconds(run_dir)
        points = record["runs"].setdefault(label, [])
        done = {p["step"] for p in points}
        for checkpoint in checkpoints:
            step = checkpoint_step(checkpoint)
            if step in done:
                continue
            model = core.build("model", config["model"], where="model")
            ema = checkpoint / "ema.safetensors"  # the raw weights when trained without EMA
            load_weights(model, ema if ema.is_file() else checkpoint / "model.safetensors")
            model.eval()
            score = score_samples(
                model,
                ref,
                sample["sampler"],
                sample["steps"],
                float(sample.get("guidance_scale") or 1.0),
            )
            logged = max(s for s in seconds if s <= step)
            points.append(
                {
                    "step": step,
                    "train_seconds": seconds[logged] * step / logged,
                    "run_dir": str(run_dir),
                    **score,
                }
            )
            seconds_now = points[-1]["train_seconds"]
            print(f"{label} step {step} ({seconds_now:.0f} s): {score_line(score)}", flush=True)
            save_record("fid_vs_time", record, out_path)
    if args.plot:
        plot(record, args.plot)


def render(record: dict[str, Any], name: str = "fid_vs_time") -> Section:
    """Every scored checkpoint of every run against its training seconds."""
    s = Section.of(record, name, __doc__)
    rows = [
        {"run": label, "step": p["step"], "seconds": p["train_seconds"], **scored(p)}
        for label, points in record["runs"].items()
        for p in sorted(points, key=lambda p: p["step"])
    ]
    columns = [Col("run", "run"), Col("step", "step"), Col("training (s)", "seconds", sig)]
    s.table(columns + SCORE_COLUMNS, rows)
    return s


if __name__ == "__main__":
    main()
