"""Sampler quality and speed on one trained digits DDPM: DDPM-1000, DDIM, DPM-Solver++ (ODE, SDE).

Trains the model with the core Trainer (unless the run already exists), then samples it with
each sampler from the same seeds and reports feature-FID against the digits test split
(digit-classifier features; the mean over ``--seeds`` of the sampling noise), network
evaluations and sampling wall time; the training time is the Trainer's own clock. Writes
benchmarks/results/samplers.json and one grid per sampler.

    .venv/bin/python benchmarks/samplers.py --image-size 8 --channel-mults 1,2 --n 1000 \
        --train-steps 16000 --seeds 0,1,2   # docs/models/diffusion.md, about 30 min on one thread
    .venv/bin/python benchmarks/samplers.py --image-size 32 --n 500 --train-steps 4000 \
        --seeds 0,1,2 --out benchmarks/results/samplers_32px.json   # the 32 px setting, about 2.5 h
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from _common import logged_seconds, save_record, start_record, train
from _common.markdown import Col, Section, integer, sig, values, yes_no
from _common.plots import nfe_axes, nfe_errorbars, real_data_line

ROOT = Path(__file__).resolve().parents[1]
CLOCK = "the Trainer's clock (fit()'s summary seconds; a run trained earlier: its last logged step)"
#: how records written before the one clock timed the training
OLD_CLOCK = "wall time around core.training.train() (a run trained earlier: its last logged step)"
CONFIG = ROOT / "plugins/core-diffusion/configs/ddpm_digits.yaml"
RUNS = [
    ("ddpm", 1000, {}),
    ("ddim", 1000, {}),  # eta = 0 with every step: the probability-flow ODE the fast solvers follow
    ("ddim", 50, {}),
    ("ddim", 20, {}),
    ("dpm-solver++", 20, {}),
    ("dpm-solver++", 10, {}),
    ("dpm-solver++", 20, {"stochastic": True}),  # SDE-DPM-Solver++(2M): the reverse SDE
    ("dpm-solver++", 50, {"stochastic": True}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--n", type=int, default=500, help="samples per sampler")
    parser.add_argument("--train-steps", type=int, default=1500)
    parser.add_argument("--train-batch", type=int, default=64, help="training batch size")
    parser.add_argument("--batch-size", type=int, default=128, help="samples per sample() call")
    parser.add_argument("--runs-dir", default=str(ROOT / "runs"))
    parser.add_argument("--grids", default=str(ROOT / "docs/models/images"))
    parser.add_argument("--channel-mults", default="1,2,2", help="U-Net levels, e.g. 1,2")
    parser.add_argument("--threads", type=int, default=1, help="1 is fastest on a busy machine")
    parser.add_argument(
        "--seeds", default="0", help="seeds of the sampling noise, e.g. 0,1,2 (FID is their mean)"
    )
    parser.add_argument("--retrain", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/samplers.json"))
    args = parser.parse_args()

    import torch

    import core
    from core.metrics.fid import frechet_distance, load_classifier
    from core.training.images import save_samples

    record = start_record("samplers", training_clock=CLOCK)
    torch.set_num_threads(args.threads)
    size = args.image_size
    mults = [int(m) for m in args.channel_mults.split(",")]
    attention = [size // 2 ** (len(mults) - 1)]
    name = f"bench_ddpm_digits_{size}px"
    run_dir = Path(args.runs_dir) / name
    overrides = [
        f"model.image_size={size}",
        f"data.image_size={size}",
        f"model.network.channel_mults={mults}",
        f"model.network.attention_resolutions={attention}",
        f"train.steps={args.train_steps}",
        f"train.batch_size={args.train_batch}",
        "train.sample_every=null",
        "train.checkpoint_every=null",
    ]
    train_time = None
    if args.retrain or not (run_dir / "final").is_dir():
        trained = train(
            str(CONFIG), overrides=overrides, run_dir=run_dir, overwrite=True, quiet=True
        )
        train_time = trained.seconds
    elif (run_dir / "metrics.jsonl").is_file():  # an earlier run: the clock at its last log
        marks = logged_seconds(run_dir)
        train_time = marks[max(marks)] if marks else None
    model = core.build_model(str(run_dir / "final")).eval()

    def dataset(split: str) -> torch.Tensor:
        data = core.build(
            "dataset",
            {
                "type": "digits",
                "image_size": size,
                "channels": 1,
                "split": split,
                "value_range": [-1, 1],
            },
        )
        return torch.stack([data[i][0] for i in range(len(data))])

    test, train_images = dataset("test"), dataset("train")
    try:
        classifier = load_classifier()
    except core.WeightsError:  # the shipped weights are not there yet: train them into runs/
        out = Path(args.runs_dir) / "bench_digit_classifier_weights"
        if not out.is_dir():
            import subprocess
            import sys

            print("training the digit classifier (its shipped weights are missing)", flush=True)
            subprocess.run(
                [
                    sys.executable,
                    str(ROOT / "scripts/train_digit_classifier.py"),
                    "--out",
                    str(out),
                    "--runs-dir",
                    args.runs_dir,
                ],
                check=True,
            )
        classifier = load_classifier(str(out))

    def features(x: torch.Tensor):
        return classifier.features_of(x, (-1.0, 1.0)).numpy()

    test_features = features(test)
    g = torch.Generator().manual_seed(123)
    floor_idx = torch.randperm(len(train_images), generator=g)[: args.n]
    floor = frechet_distance(features(train_images[floor_idx]), test_features)

    rows = []
    grid_dir = Path(args.grids)
    grid_dir.mkdir(parents=True, exist_ok=True)
    seeds = [int(seed) for seed in args.seeds.split(",")]
    for sampler, steps, options in RUNS:
        fids, times = [], []
        for seed in seeds:
            generator = torch.Generator().manual_seed(seed)
            chunks, nfe = [], 0
            start = time.perf_counter()
            for first in range(0, args.n, args.batch_size):
                count = min(args.batch_size, args.n - first)
                chunks.append(
                    model.sample(
                        count, sampler=sampler, steps=steps, generator=generator, **options
                    )
                )
                nfe = model.last_nfe
            times.append(time.perf_counter() - start)
            if seed == seeds[0]:
                samples = torch.cat(chunks)
            fids.append(frechet_distance(features(torch.cat(chunks)), test_features))
        fid, seconds = sum(fids) / len(fids), sum(times) / len(times)
        label = f"{sampler}-{steps}" + ("-sde" if options.get("stochastic") else "")
        save_samples(samples[:64], grid_dir / f"diffusion_{label}.png", (-1.0, 1.0), nrow=8)
        rows.append(
            {
                "sampler": sampler,
                "stochastic": bool(options.get("stochastic")),
                "steps": steps,
                "nfe": nfe,
                "feature_fid": fid,
                "feature_fid_per_seed": fids,
                "seconds": seconds,
                "samples_per_s": args.n / seconds,
            }
        )
        spread = f" ({min(fids):.3f}-{max(fids):.3f})" if len(fids) > 1 else ""
        print(
            f"  {label:18s} nfe {nfe:5d}  feature-FID {fid:8.3f}{spread}  {seconds:8.1f} s",
            flush=True,
        )

    base = rows[0]["feature_fid"]
    for row in rows:
        row["fid_vs_ddpm1000"] = row["feature_fid"] / base
    print()
    print(
        f"{'sampler':18s} {'steps':>5s} {'NFE':>5s} {'feature-FID':>11s} {'vs DDPM-1000':>12s} "
        f"{'wall s':>8s} {'speed-up':>8s}"
    )
    for row in rows:
        print(
            f"{row['sampler'] + (' (SDE)' if row['stochastic'] else ''):18s} {row['steps']:5d} {row['nfe']:5d} {row['feature_fid']:11.3f} "
            f"{row['fid_vs_ddpm1000']:12.2f} {row['seconds']:8.1f} "
            f"{rows[0]['seconds'] / row['seconds']:8.1f}"
        )
    print(f"reference: {args.n} train digits vs the test split: feature-FID {floor:.3f}")
    dpm20, sde20 = (
        next(
            r
            for r in rows
            if r["sampler"] == "dpm-solver++" and r["steps"] == 20 and r["stochastic"] == sde
        )
        for sde in (False, True)
    )
    goal = min(dpm20["feature_fid"], sde20["feature_fid"]) <= 1.10 * base
    print(
        f"goal (DPM-Solver++-20 within 10% of DDPM-1000): {'met' if goal else 'NOT met'} "
        f"(ODE {dpm20['fid_vs_ddpm1000']:.2f}x, SDE {sde20['fid_vs_ddpm1000']:.2f}x)"
    )
    ode = next(r for r in rows if r["sampler"] == "ddim" and r["steps"] == 1000)
    print(
        "DPM-Solver++-20 vs the 1000-step ODE (DDIM-1000, eta 0): "
        f"{dpm20['feature_fid'] / ode['feature_fid']:.2f}x"
    )

    record |= {
        "command": "python benchmarks/samplers.py "
        + " ".join(
            f"--image-size {size} --channel-mults {args.channel_mults} --n {args.n} "
            f"--train-steps {args.train_steps} --train-batch {args.train_batch} "
            f"--seeds {args.seeds}".split()
        ),
        "config": str(CONFIG.relative_to(ROOT)),
        "overrides": overrides,
        "image_size": size,
        "n_samples": args.n,
        "seeds": seeds,
        "reference": f"digits test split ({len(test)} images), digit-classifier features",
        "train_vs_test_fid": floor,
        "train_seconds": train_time,
        "parameters": model.count_parameters(),
        "threads": args.threads,
        "rows": rows,
        "goal_dpm20_within_10pct": goal,
        "dpm20_vs_ddim1000_ode": dpm20["feature_fid"] / ode["feature_fid"],
        "dpm20_sde_vs_ddpm1000": sde20["fid_vs_ddpm1000"],
    }
    print(f"wrote {save_record('samplers', record, args.out)}")


def _sampler_label(row: dict[str, Any], both: set[str]) -> str:
    if row["sampler"] in both:
        return f"{row['sampler']} ({'SDE' if row.get('stochastic') else 'ODE'})"
    return row["sampler"]


def _seed_range(row: dict[str, Any]) -> tuple[float, float]:
    """The lowest and highest feature-FID over the row's seeds (its FID alone: one seed)."""
    seeds = row.get("feature_fid_per_seed") or [row["feature_fid"]]
    return min(seeds), max(seeds)


def render(record: dict[str, Any], name: str = "samplers") -> Section:
    """feature-FID, NFE and time per sampler, the comparisons, and FID against NFE as a plot."""
    s, r = Section.of(record, name, __doc__), record
    rows = r["rows"]
    both = {
        sampler
        for sampler in {row["sampler"] for row in rows}
        if len({bool(row.get("stochastic")) for row in rows if row["sampler"] == sampler}) == 2
    }
    floor = r.get("train_vs_test_fid")
    s.add(
        f"Model: `{r['config']}` with `{' '.join(r.get('overrides', []))}`: "
        f"{integer(r['parameters'])} parameters at {r['image_size']}×{r['image_size']} px, "
        f"trained in {sig(r['train_seconds'])} s"
        + (
            f" with {r['threads']} torch thread{'s' if r['threads'] != 1 else ''}. "
            if "threads" in r
            else ". "
        )
        + f"Feature-FID against the {r['reference']}, {integer(r['n_samples'])} samples per seed, "
        f"the mean over seeds {values(r['seeds'])}"
        + (
            f"; the real-data floor (train split against test split) is {sig(floor)}."
            if floor
            else "."
        )
        + f" Training seconds: {r.get('training_clock', OLD_CLOCK)}."
    )
    s.table(
        [
            Col("sampler", lambda row: _sampler_label(row, both)),
            Col("steps", "steps", integer),
            Col("network evaluations", "nfe", integer),
            Col("feature-FID (mean)", "feature_fid", sig),
            Col(
                "feature-FID per seed",
                "feature_fid_per_seed",
                lambda v: ", ".join(sig(x) for x in v),
            ),
            Col("FID / DDPM-1000", "fid_vs_ddpm1000", sig),
            Col("sampling time (s)", "seconds", sig),
            Col("samples/s", "samples_per_s", sig),
        ],
        rows,
    )
    checks = [
        ("DPM-Solver++ 20 steps (ODE) / DDIM 1000 steps, FID", "dpm20_vs_ddim1000_ode", sig),
        ("DPM-Solver++ 20 steps (SDE) / DDPM 1000 steps, FID", "dpm20_sde_vs_ddpm1000", sig),
        ("goal: DPM-Solver++ 20 steps within 10 % of DDPM-1000", "goal_dpm20_within_10pct", yes_no),
    ]
    found = [(label, fmt(r[key])) for label, key, fmt in checks if key in r]
    if found:
        s.pairs(found, ("comparison", "result"))
    reference = next((row for row in rows if row["sampler"] == "ddpm"), None)

    def draw(figure: Any) -> None:
        ax = nfe_axes(figure, f"Sampler quality against cost, {r['image_size']} px digits")
        series: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            series.setdefault(_sampler_label(row, both), []).append(row)
        nfe_errorbars(ax, series, 1.04, _seed_range)
        if reference:
            ax.axhline(
                reference["feature_fid"],
                color="black",
                linestyle="--",
                linewidth=1,
                label=f"DDPM, {reference['nfe']} steps",
            )
        real_data_line(ax, floor)
        ax.set_ylim(bottom=0)
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))

    s.plot(
        name,
        f"feature-FID against network evaluations per sampler, {r['image_size']} px",
        draw,
        (8.0, 4.2),
    )
    s.add(
        "Points are the mean over seeds, the bars span the seeds' lowest and highest FID; samplers "
        "are shifted a little sideways so that bars at the same number of evaluations separate."
    )
    return s


if __name__ == "__main__":
    main()
