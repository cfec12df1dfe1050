"""The main job's recipe, measured: train a config over several seeds, score each run.

For every recipe (the config plus overrides) and training seed it trains with the core
Trainer, times the training (wall seconds, with the load average of the machine before and
after), then draws ``--n`` class-conditional samples (labels ``0..9`` in turn, sampling seed 0,
as ``core evaluate`` draws them) for each guidance scale and sampler asked for, and scores
that one set three ways:

- feature-FID against the test split (digit-classifier features), with its floor: ``--n``
  real training images against the same test split;
- class accuracy under the digit classifier, with its ceiling: the classifier on the real
  test images;
- memorisation: the median pixel-space (L2, values in [-1, 1]) distance from each sample to
  its nearest training image, against the same median for the real test images. Samples
  closer to the training set than unseen real digits are would be copies.

Writes one JSON (``--out``) with every run and a summary per recipe and setting (mean, sample
standard deviation, min and max over the training seeds), rewritten after each run so an
interrupted sweep keeps what it measured (``--resume`` skips runs already there).

    .venv/bin/python benchmarks/demo_digits.py --recipes demo --seeds 0,1,2
    .venv/bin/python benchmarks/demo_digits.py --recipes demo,today --seeds 0,1,2 \\
        --guidance 1,1.25,1.5 --out benchmarks/results/demo_digits.json
    .venv/bin/python benchmarks/demo_digits.py --recipes cfg,cfg-minsnr,cfg-v-minsnr \\
        --seeds 0 --guidance 1,1.25,1.5 --set train.steps=1400 \\
        --out benchmarks/results/demo_recipes_screen.json
    .venv/bin/python benchmarks/demo_digits.py --plot docs/images/demo_recipes.png \\
        --from benchmarks/results/demo_digits.json,benchmarks/results/demo_recipes_screen.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: recipe name -> (config, overrides). Equal training steps mean equal wall time for recipes
#: with the same network and threads (label dropout, min-SNR and v cost nothing per step).
RECIPES: dict[str, tuple[str, list[str]]] = {
    "demo": ("examples/quickstart.yaml", []),
    # examples/conditional-digits.yaml's recipe before this change: class labels without
    # dropout or guidance, default memory layout; 1,510 steps take about the CPU time of the
    # demo's 1,800 channels-last steps (see train_cpu_seconds in demo_digits.json)
    "today": (
        "examples/quickstart.yaml",
        [
            "model.label_dropout=0.0",
            "sample.guidance_scale=null",
            "train.channels_last=false",
            "train.steps=1510",
        ],
    ),
    "cfg": ("examples/quickstart.yaml", ["model.loss_weighting=none", "model.prediction=epsilon"]),
    "cfg-minsnr": (
        "examples/quickstart.yaml",
        ["model.loss_weighting=min-snr", "model.prediction=epsilon"],
    ),
    "cfg-v-minsnr": (
        "examples/quickstart.yaml",
        ["model.loss_weighting=min-snr", "model.prediction=v"],
    ),
    "mnist5k": ("examples/mnist5k.yaml", []),
    # the starting point on mnist-5k: class labels without dropout or guidance, default
    # memory layout, 1,000 steps (as "today" is for the digits)
    "mnist5k-issue": (
        "examples/mnist5k.yaml",
        [
            "model.label_dropout=0.0",
            "model.guidance_interval=null",
            "sample.guidance_scale=null",
            "train.channels_last=false",
            "train.steps=1000",
        ],
    ),
    # examples/mnist5k.yaml before the guidance interval and the longer training
    "mnist5k-previous": (
        "examples/mnist5k.yaml",
        ["train.steps=2000", "model.guidance_interval=null"],
    ),
}


def parse_list(text: str, kind=float) -> list:
    return [kind(part) for part in text.split(",") if part.strip()]


def summarise(values: list[float]) -> dict[str, float]:
    return {
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
    }


_REFERENCES: dict[str, dict] = {}


def reference_set(data: dict, n: int) -> dict:
    """Test/train images of a data section, the scorers and the real-data bounds (cached)."""
    import torch

    import core
    from core.metrics.evaluate import _stack, _to_symmetric, reference_data

    key = json.dumps([data, n], sort_keys=True)
    if key in _REFERENCES:
        return _REFERENCES[key]
    test, train_set = reference_data(data, "test"), reference_data(data, "train")
    value_range = getattr(test, "value_range", None)
    test_x, test_y = _stack(test)
    train_x, _ = _stack(train_set)
    test_x, train_x = _to_symmetric(test_x, value_range), _to_symmetric(train_x, value_range)
    fid = core.build("metric", {"type": "feature-fid"})
    accuracy = core.build("metric", {"type": "accuracy"})
    pick = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(0))[:n]
    flat_train = train_x.flatten(1)
    test_nn = torch.cdist(test_x.flatten(1), flat_train).min(1).values
    _REFERENCES[key] = {
        "test": test_x,
        "train": flat_train,
        "fid": fid,
        "accuracy": accuracy,
        "n": n,
        "fid_floor": fid(train_x[pick], test_x)["feature_fid"],
        "accuracy_ceiling": accuracy(test_x, labels=test_y)["accuracy"],
        "test_to_train_median": test_nn.median().item(),
    }
    return _REFERENCES[key]


def score_samples(
    model, ref: dict, sampler: str, steps: int, guidance: float, interval=None
) -> dict:
    """Draw ``ref["n"]`` samples (labels 0..9 in turn, seed 0) and score them three ways.

    ``interval`` (low, high) overrides the model's guidance interval; None keeps it.
    """
    import torch

    from core.sampling import draw_samples

    labels = torch.arange(ref["n"]) % model.num_classes
    extra = {} if interval is None else {"guidance_interval": interval}
    start = time.perf_counter()
    samples = draw_samples(
        model,
        ref["n"],
        sampler=sampler,
        steps=steps,
        seed=0,
        y=labels,
        guidance_scale=guidance,
        **extra,
    ).clamp(-1, 1)
    sample_seconds = time.perf_counter() - start
    nearest = torch.cdist(samples.flatten(1), ref["train"]).min(1).values
    return {
        "sampler": sampler,
        "steps": steps,
        "nfe": model.last_nfe,
        "guidance": guidance,
        "guidance_interval": list(
            interval or getattr(model.config, "guidance_interval", None) or ()
        )
        or None,
        "feature_fid": ref["fid"](samples, ref["test"])["feature_fid"],
        "fid_floor": ref["fid_floor"],
        "accuracy": ref["accuracy"](samples, labels=labels)["accuracy"],
        "accuracy_ceiling": ref["accuracy_ceiling"],
        "sample_to_train_median": nearest.median().item(),
        "test_to_train_median": ref["test_to_train_median"],
        "sample_seconds": sample_seconds,
    }


def score_line(score: dict) -> str:
    """One scored set as a line: FID with its floor, accuracy with its ceiling, memorisation."""
    return (
        f"feature-FID {score['feature_fid']:.3f} (floor {score['fid_floor']:.3f}) accuracy "
        f"{score['accuracy']:.4f} (ceiling {score['accuracy_ceiling']:.4f}) nearest-train "
        f"median {score['sample_to_train_median']:.3f} (test {score['test_to_train_median']:.3f})"
    )


def save_record(path: Path, record: dict) -> None:
    """Write a benchmark record as JSON, dated today, atomically (a kill leaves the old file)."""
    from core.atomic import atomic_write_text

    record["date"] = time.strftime("%Y-%m-%d")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(record, indent=2))


def plot(sources: list[str], out: str) -> None:
    """feature-FID and accuracy against the guidance scale, one line per recipe and file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_fid, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    floor = ceiling = None
    for source in sources:
        record = json.loads(Path(source).read_text())
        lines: dict[str, list] = {}
        for setting, entry in record["summary"].items():
            recipe, sampler, guidance = setting.split(" | ")
            steps = {r["recipe"]: r["train_steps"] for r in record["runs"]}[recipe]
            seeds = len(entry["seeds"])
            name = f"{recipe}, {steps} steps, {seeds} seed{'s' if seeds > 1 else ''}"
            lines.setdefault(name, []).append((float(guidance.lstrip("g")), entry))
            floor, ceiling = entry["fid_floor"], entry["accuracy_ceiling"]
        for name, points in sorted(lines.items()):
            points.sort(key=lambda p: p[0])
            g = [p[0] for p in points]
            for ax, key in ((ax_fid, "feature_fid"), (ax_acc, "accuracy")):
                mean = [p[1][key]["mean"] for p in points]
                low = [m - p[1][key]["min"] for m, p in zip(mean, points)]
                high = [p[1][key]["max"] - m for m, p in zip(mean, points)]
                style = "o-" if len(points) > 1 else "s"
                ax.errorbar(g, mean, yerr=[low, high], fmt=style, capsize=3, label=name)
    ax_fid.axhline(floor, color="grey", ls="--", label=f"floor {floor:.2f}")
    ax_acc.axhline(ceiling, color="grey", ls="--", label=f"ceiling {ceiling:.4f}")
    ax_acc.axhline(0.97, color="red", ls=":", label="goal 0.97")
    ax_fid.set(xlabel="guidance scale", ylabel="feature-FID (500 samples)", title="feature-FID")
    ax_acc.set(xlabel="guidance scale", ylabel="class accuracy", title="accuracy")
    save_figure(fig, (ax_fid, ax_acc), out)


def save_figure(fig, axes, out: str) -> None:
    """Grid and legend on each axis, then a PNG without a software tag (same data, same bytes)."""
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=100, metadata={"Software": None})
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", default="demo", help=f"comma-separated, of {list(RECIPES)}")
    parser.add_argument("--seeds", default="0,1,2", help="training seeds")
    parser.add_argument("--set", action="append", default=[], help="extra override, repeatable")
    parser.add_argument(
        "--guidance", default=None, help="guidance scales to score (default: the config's)"
    )
    parser.add_argument(
        "--samplers",
        default=None,
        help="sampler:steps pairs to score, e.g. ddim:50,dpm-solver++:20 (default: the config's)",
    )
    parser.add_argument("--n", type=int, default=None, help="samples (default: evaluate.n)")
    parser.add_argument("--runs-dir", default=str(ROOT / "runs/bench_demo"))
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/demo_digits.json"))
    parser.add_argument("--resume", action="store_true", help="skip runs already in --out")
    parser.add_argument("--keep-runs", action="store_true", help="keep the run directories")
    parser.add_argument(
        "--plot", help="only plot: FID and accuracy against guidance from --from to this PNG"
    )
    parser.add_argument("--from", dest="sources", default="", help="comma-separated JSON files")
    args = parser.parse_args()
    if args.plot:
        plot(parse_list(args.sources, str), args.plot)
        return

    import torch

    import core
    from core.training import train

    out_path = Path(args.out)
    record: dict = {"runs": []}
    if args.resume and out_path.is_file():
        record = json.loads(out_path.read_text())
    done = {(r["recipe"], r["seed"]) for r in record["runs"]}
    record.update(
        {
            "benchmark": "demo_digits",
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}",
            "python": platform.python_version(),
            "command": " ".join(["python", "benchmarks/demo_digits.py", *sys.argv[1:]]),
        }
    )

    def write() -> None:
        summary: dict[str, dict] = {}
        for run in record["runs"]:
            for score in run["scores"]:
                setting = f"{run['recipe']} | {score['sampler']}-{score['steps']} | g{score['guidance']:g}"
                entry = summary.setdefault(
                    setting, {"seeds": [], "feature_fid": [], "accuracy": [], "memo": []}
                )
                entry["seeds"].append(run["seed"])
                entry["feature_fid"].append(score["feature_fid"])
                entry["accuracy"].append(score["accuracy"])
                entry["memo"].append(score["sample_to_train_median"])
                entry["fid_floor"] = score["fid_floor"]
                entry["accuracy_ceiling"] = score["accuracy_ceiling"]
                entry["test_to_train_median"] = score["test_to_train_median"]
        times: dict[str, list[float]] = {}
        cpu: dict[str, list[float]] = {}
        for run in record["runs"]:
            times.setdefault(run["recipe"], []).append(run["train_seconds"])
            cpu.setdefault(run["recipe"], []).append(run.get("train_cpu_seconds", float("nan")))
        record["summary"] = {
            setting: {
                "seeds": entry["seeds"],
                "feature_fid": summarise(entry["feature_fid"]),
                "fid_floor": entry["fid_floor"],
                "accuracy": summarise(entry["accuracy"]),
                "accuracy_ceiling": entry["accuracy_ceiling"],
                "sample_to_train_median": summarise(entry["memo"]),
                "test_to_train_median": entry["test_to_train_median"],
                "train_seconds": summarise(times[setting.split(" | ")[0]]),
                "train_cpu_seconds": summarise(cpu[setting.split(" | ")[0]]),
            }
            for setting, entry in summary.items()
        }
        save_record(out_path, record)

    for recipe in parse_list(args.recipes, str):
        config_file, overrides = RECIPES[recipe]
        for seed in parse_list(args.seeds, int):
            if (recipe, seed) in done:
                continue
            run_dir = Path(args.runs_dir) / f"{recipe}_seed{seed}"
            all_overrides = [*overrides, *args.set, f"train.seed={seed}"]
            config = core.Config(str(ROOT / config_file), overrides=all_overrides).to_dict()
            load_before = os.getloadavg()
            start, cpu_start = time.perf_counter(), time.process_time()
            train(
                str(ROOT / config_file),
                overrides=all_overrides,
                run_dir=run_dir,
                overwrite=True,
                quiet=True,
            )
            seconds = time.perf_counter() - start
            cpu_seconds = time.process_time() - cpu_start
            load_after = os.getloadavg()
            n = args.n or int((config.get("evaluate") or {}).get("n", 1000))
            ref = reference_set(config["data"], n)
            model = core.build_model(str(run_dir / "final")).eval()
            torch.set_num_threads(int(config["train"].get("threads") or 1))
            sample_cfg = config.get("sample") or {}
            guidances = (
                parse_list(args.guidance)
                if args.guidance
                else [float(sample_cfg.get("guidance_scale") or 1.0)]
            )
            samplers = (
                [(s.split(":")[0], int(s.split(":")[1])) for s in args.samplers.split(",")]
                if args.samplers
                else [(sample_cfg.get("sampler"), sample_cfg.get("steps"))]
            )
            if getattr(model, "null_class", None) is None:  # trained without label dropout
                guidances = [1.0]
            scores = []
            for sampler, steps in samplers:
                for guidance in guidances:
                    score = score_samples(model, ref, sampler, steps, guidance)
                    scores.append(score)
                    print(
                        f"{recipe} seed {seed} {sampler}-{steps} g{guidance:g}: "
                        + score_line(score),
                        flush=True,
                    )
            record["runs"].append(
                {
                    "recipe": recipe,
                    "seed": seed,
                    "config": config_file,
                    "overrides": all_overrides,
                    "train_steps": config["train"]["steps"],
                    "threads": config["train"].get("threads"),
                    "parameters": model.count_parameters(),
                    "train_seconds": seconds,
                    # CPU time of this process: close to the wall time on an idle machine for
                    # one thread, whatever the load (more than the wall time with threads > 1)
                    "train_cpu_seconds": cpu_seconds,
                    "loadavg_before": load_before,
                    "loadavg_after": load_after,
                    "date": time.strftime("%Y-%m-%d %H:%M"),
                    "scores": scores,
                }
            )
            print(
                f"{recipe} seed {seed}: trained {config['train']['steps']} steps in "
                f"{seconds:.1f} s wall, {cpu_seconds:.1f} s CPU (load {load_before[0]:.2f} -> "
                f"{load_after[0]:.2f})",
                flush=True,
            )
            write()
            if not args.keep_runs:
                import shutil

                shutil.rmtree(run_dir, ignore_errors=True)
    write()
    print(f"wrote {out_path}")
    for setting, entry in record.get("summary", {}).items():
        fid, acc, memo = entry["feature_fid"], entry["accuracy"], entry["sample_to_train_median"]
        print(
            f"{setting}: feature-FID {fid['mean']:.3f} +- {fid['std']:.3f} "
            f"[{fid['min']:.3f}, {fid['max']:.3f}] (floor {entry['fid_floor']:.3f}); "
            f"accuracy {acc['mean']:.4f} +- {acc['std']:.4f} (ceiling "
            f"{entry['accuracy_ceiling']:.4f}); nearest-train median {memo['mean']:.3f} "
            f"(test {entry['test_to_train_median']:.3f}); train "
            f"{entry['train_seconds']['mean']:.1f} s wall, "
            f"{entry['train_cpu_seconds']['mean']:.1f} s CPU"
        )


if __name__ == "__main__":
    main()
