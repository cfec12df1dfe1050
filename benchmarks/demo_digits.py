"""The main job's recipe, measured: train a config over several seeds, score each run.

For every recipe (the config plus overrides) and training seed it trains with the core
Trainer, times the training on the Trainer's own clock (``fit()``'s summary seconds) and in
CPU seconds, with the load average before and after, then draws ``--n`` class-conditional samples (labels ``0..9`` in turn, sampling seed 0,
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
import time
from pathlib import Path
from typing import Any

from _common import resumed_record, save_record, train
from _common.digits import reference_set, save_figure, score_line, score_samples, summarise
from _common.markdown import Col, Section, sig

ROOT = Path(__file__).resolve().parents[1]
CLOCK = "the Trainer's clock (fit()'s summary seconds)"
#: how records written before the one clock timed the training
OLD_CLOCK = "wall time around core.training.train(), model and data building included"

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

    out_path = Path(args.out)
    record = resumed_record("demo_digits", out_path, args.resume, training_clock=CLOCK)
    record.setdefault("runs", [])
    done = {(r["recipe"], r["seed"]) for r in record["runs"]}

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
        save_record("demo_digits", record, out_path)

    for recipe in parse_list(args.recipes, str):
        config_file, overrides = RECIPES[recipe]
        for seed in parse_list(args.seeds, int):
            if (recipe, seed) in done:
                continue
            run_dir = Path(args.runs_dir) / f"{recipe}_seed{seed}"
            all_overrides = [*overrides, *args.set, f"train.seed={seed}"]
            config = core.Config(str(ROOT / config_file), overrides=all_overrides).to_dict()
            load_before = os.getloadavg()
            cpu_start = time.process_time()
            seconds = train(
                str(ROOT / config_file),
                overrides=all_overrides,
                run_dir=run_dir,
                overwrite=True,
                quiet=True,
            ).seconds
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
                    "load_average_before": load_before,
                    "load_average_after": load_after,
                    "date": time.strftime("%Y-%m-%d %H:%M"),
                    "scores": scores,
                }
            )
            print(
                f"{recipe} seed {seed}: trained {config['train']['steps']} steps in "
                f"{seconds:.1f} s, {cpu_seconds:.1f} s CPU (load {load_before[0]:.2f} -> "
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
            f"{entry['train_seconds']['mean']:.1f} s, "
            f"{entry['train_cpu_seconds']['mean']:.1f} s CPU"
        )


def render(record: dict[str, Any], name: str = "demo_digits") -> Section:
    """Every recipe and setting: scores (mean and seeds' range) and training seconds."""
    s = Section.of(record, name, __doc__)
    rows = []
    for setting, e in record["summary"].items():
        recipe, sampler, guidance = setting.split(" | ")
        fid, acc = e["feature_fid"], e["accuracy"]
        rows.append(
            {
                "recipe": recipe,
                "sampler": sampler,
                "guidance": float(guidance.lstrip("g")),
                "seeds": len(e["seeds"]),
                "fid": fid["mean"],
                "fid_range": f"{sig(fid['min'])}-{sig(fid['max'])}",
                "floor": e["fid_floor"],
                "acc": acc["mean"],
                "acc_range": f"{acc['min']:.3f}-{acc['max']:.3f}",
                "ceiling": e["accuracy_ceiling"],
                "memo": e["sample_to_train_median"]["mean"],
                "test_memo": e["test_to_train_median"],
                "train_s": e["train_seconds"]["mean"],
            }
        )
    s.table(
        [
            Col("recipe", "recipe"),
            Col("sampler", "sampler"),
            Col("guidance", "guidance", sig),
            Col("training seeds", "seeds"),
            Col("feature-FID (mean)", "fid", sig),
            Col("feature-FID (seeds' range)", "fid_range", str),
            Col("floor", "floor", sig),
            Col("accuracy (mean)", "acc", lambda v: f"{v:.4f}"),
            Col("accuracy (seeds' range)", "acc_range", str),
            Col("ceiling", "ceiling", lambda v: f"{v:.4f}"),
            Col("nearest-train distance, median", "memo", sig),
            Col("same for test images", "test_memo", sig),
            Col("training (s)", "train_s", sig),
        ],
        rows,
    )
    s.add(f"Training seconds: {record.get('training_clock', OLD_CLOCK)}.")
    return s


if __name__ == "__main__":
    main()
