"""Few-step generation, measured: DDPM and flow models at 1, 2, 4, 8 and 20 network evaluations.

For each recipe (a config and overrides) and training seed it trains with the core Trainer
(seconds on the Trainer's clock, CPU seconds and the load average beside them), then samples
the model with every registered sampler it takes, at each budget of network evaluations (NFE,
as the sampler counts them: ``model.last_nfe``; a budget below one step of a sampler is left
out), ``--n`` class-balanced samples from sampling seed 0, and scores each set as
``benchmarks/demo_digits.py`` does: feature-FID against the test split with its floor (``--n``
real training images against it), improved precision and recall (k = 3, digit-classifier
features) with the real data's own, class accuracy with its ceiling, and the median distance
from each sample to its nearest training image against the test images' (copies would sit
closer). Each recipe samples at its config's guidance scale; with guidance each evaluation is
one batch of 2n, for every sampler alike.

The recipes' step counts are set so that their training takes about the same seconds on one
thread (the table shows the seconds measured). Writes one JSON (``--out``) after every run.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/flow_nfe.py --seeds 0
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/flow_nfe.py --recipes ddpm,mean-flow,shortcut \\
        --seeds 0,1,2 --nfe 1,2,4,20 --samplers dpm-solver++,flow-euler \\
        --out benchmarks/results/flow_nfe_seeds.json
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/flow_nfe.py \\
        --recipes mean-flow-mnist5k,shortcut-mnist5k --seeds 0,1,2 --nfe 1,2,4 --n 1000 \\
        --out benchmarks/results/flow_nfe_mnist5k.json
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from _common import resumed_record, save_record, train
from _common.digits import reference_set, score_line, score_samples
from _common.markdown import Col, Section, code, integer, sig, values
from _common.nfe import steps_for

ROOT = Path(__file__).resolve().parents[1]

#: plain flow matching as examples/flow-digits.yaml had it: the U-Net's own time range, label
#: dropout with guidance 1.25
FLOW_MATCHING = [
    "model.objective=flow-matching",
    "model.time_scale=1000",
    "model.label_dropout=0.1",
    "sample.guidance_scale=1.25",
]
#: MeanFlow as examples/flow-digits.yaml had it before the shortcut objective won
MEAN_FLOW = ["model.objective=mean-flow", "model.interval_share=0.5"]
#: recipe -> (config, overrides). A DDPM or flow-matching step costs about 0.6x a mean-flow
#: step (its Jacobian-vector product), so the "-equal" recipes take 2,600 steps for the
#: seconds of mean-flow's 1,500; "ddpm" is the demo as shipped (1,800 steps).
RECIPES: dict[str, tuple[str, list[str]]] = {
    "ddpm": ("examples/quickstart.yaml", []),
    "ddpm-equal": ("examples/quickstart.yaml", ["train.steps=2600"]),
    "flow-matching-equal": ("examples/flow-digits.yaml", [*FLOW_MATCHING, "train.steps=2600"]),
    "shortcut": ("examples/flow-digits.yaml", []),
    "mean-flow": ("examples/flow-digits.yaml", MEAN_FLOW),
    "shortcut-mnist5k": ("examples/flow-mnist5k.yaml", []),
    "shortcut-mnist5k-1800": (
        "examples/flow-mnist5k.yaml",
        ["train.steps=1800", "model.label_dropout=0", "sample.guidance_scale=1"],
    ),
    "mean-flow-mnist5k": ("examples/flow-mnist5k.yaml", MEAN_FLOW),
}
#: the scores summarised per setting (mean, lowest and highest seed).
SCORES = ("feature_fid", "precision", "recall", "accuracy", "sample_to_train_median")


def usable_samplers(model: Any) -> list[str]:
    """The registered samplers ``model.sample`` takes (one tiny call each)."""
    import torch

    import core

    names = []
    for name in core.list_components("sampler"):
        try:
            model.sample(1, sampler=name, steps=2, y=torch.zeros(1, dtype=torch.long))
        except core.ConfigError:
            continue
        names.append(name)
    return names


def summarise(record: dict[str, Any]) -> None:
    """Per recipe, sampler and budget: each score's mean, lowest and highest over seeds."""
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for run in record["runs"]:
        seen = set()  # a budget whose steps a smaller budget already took is no new point
        for score in sorted(run["scores"], key=lambda score: score["nfe_budget"]):
            if (score["sampler"], score["nfe"]) in seen:
                continue
            seen.add((score["sampler"], score["nfe"]))
            key = (run["recipe"], score["sampler"], score["nfe_budget"])
            groups.setdefault(key, []).append({**score, "seed": run["seed"]})
    rows = []
    for (recipe, sampler, budget), scores in sorted(groups.items()):
        row = {"recipe": recipe, "sampler": sampler, "nfe_budget": budget}
        row["nfe"], row["seeds"] = scores[0]["nfe"], [s["seed"] for s in scores]
        for key in SCORES:
            got = [s[key] for s in scores]
            row[key] = {"mean": statistics.fmean(got), "min": min(got), "max": max(got)}
        for key in ("fid_floor", "precision_floor", "recall_floor", "accuracy_ceiling"):
            row[key] = scores[0][key]
        row["test_to_train_median"] = scores[0]["test_to_train_median"]
        rows.append(row)
    record["rows"] = rows
    #: the same rows by "recipe | sampler | NFE", for the figures pages quote
    record["settings"] = {f"{r['recipe']} | {r['sampler']} | {r['nfe']}": r for r in rows}
    for clock in ("train_seconds", "train_cpu_seconds"):
        seconds: dict[str, list[float]] = {}
        for run in record["runs"]:
            seconds.setdefault(run["recipe"], []).append(run[clock])
        record[clock] = {k: statistics.fmean(v) for k, v in seconds.items()}


def score_run(
    model: Any, ref: dict[str, Any], budgets: list[int], guidance: float, only: list[str]
) -> list:
    """Every usable sampler (of ``only``, when given) at every budget it fits: the scores of
    ``score_samples``."""
    import torch

    scores = []
    for sampler in usable_samplers(model):
        if only and sampler not in only:
            continue

        def nfe_of(steps: int, sampler: str = sampler) -> int:
            model.sample(1, sampler=sampler, steps=steps, y=torch.zeros(1, dtype=torch.long))
            return int(model.last_nfe)

        counts = {k: nfe_of(k) for k in (2, 3)}
        smallest_budget: dict[int, int] = {}  # steps -> the smallest budget they fit
        for budget in sorted(budgets):
            smallest_budget.setdefault(steps_for(counts.__getitem__, budget), budget)
        for steps, budget in smallest_budget.items():
            score = score_samples(model, ref, sampler, steps, guidance)
            if score["nfe"] > budget:
                continue
            scores.append({**score, "nfe_budget": budget})
            print(f"  {sampler}-{steps} NFE {score['nfe']}: {score_line(score)}", flush=True)
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", default="ddpm-equal,flow-matching-equal,mean-flow,shortcut")
    parser.add_argument("--seeds", default="0,1,2", help="training seeds")
    parser.add_argument("--nfe", default="1,2,4,8,20", help="budgets of network evaluations")
    parser.add_argument("--n", type=int, default=500, help="samples per point")
    parser.add_argument("--samplers", default="", help="only these samplers (default: all)")
    parser.add_argument("--set", action="append", default=[], help="override for every recipe")
    parser.add_argument("--runs-dir", default=str(ROOT / "runs/bench_flow"))
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/flow_nfe.json"))
    parser.add_argument("--resume", action="store_true", help="skip runs already in --out")
    parser.add_argument("--keep-runs", action="store_true", help="keep the run directories")
    args = parser.parse_args()

    import torch

    import core

    out = Path(args.out)
    record = resumed_record("flow_nfe", out, args.resume)
    record.setdefault("runs", [])
    record.setdefault("recipes", {}).update(
        {name: RECIPES[name] for name in args.recipes.split(",")}
    )
    record["nfe_budgets"] = budgets = [int(b) for b in args.nfe.split(",")]
    record["n"] = args.n
    done = {(r["recipe"], r["seed"]) for r in record["runs"]}
    only = [name for name in args.samplers.split(",") if name]
    for recipe in args.recipes.split(","):
        config_file, overrides = RECIPES[recipe]
        for seed in [int(s) for s in args.seeds.split(",")]:
            if (recipe, seed) in done:
                continue
            run_dir = Path(args.runs_dir) / f"{recipe}_seed{seed}"
            every = [*overrides, *args.set, f"train.seed={seed}", "train.threads=1"]
            config = core.Config(str(ROOT / config_file), overrides=every).to_dict()
            load_before, cpu_start = os.getloadavg(), time.process_time()
            trained = train(
                str(ROOT / config_file),
                overrides=every,
                run_dir=run_dir,
                overwrite=True,
                quiet=True,
            )
            cpu_seconds, load_after = time.process_time() - cpu_start, os.getloadavg()
            print(f"{recipe} seed {seed}: trained in {trained.seconds:.1f} s", flush=True)
            model = core.build_model(str(run_dir / "final")).eval()
            torch.set_num_threads(1)
            guidance = float((config.get("sample") or {}).get("guidance_scale") or 1.0)
            ref = reference_set(config["data"], args.n)
            record["runs"].append(
                {
                    "recipe": recipe,
                    "seed": seed,
                    "overrides": every,
                    "train_steps": config["train"]["steps"],
                    "parameters": model.count_parameters(),
                    "train_seconds": trained.seconds,
                    "train_cpu_seconds": cpu_seconds,
                    "load_average_before": load_before,
                    "load_average_after": load_after,
                    "guidance": guidance,
                    "scores": score_run(model, ref, budgets, guidance, only),
                }
            )
            summarise(record)
            save_record("flow_nfe", record, out)
            if not args.keep_runs:
                shutil.rmtree(run_dir, ignore_errors=True)
    summarise(record)
    print(f"wrote {save_record('flow_nfe', record, out)}")


def _spread(score: dict[str, float]) -> str:
    return f"{sig(score['mean'])} ({sig(score['min'])}-{sig(score['max'])})"


def render(record: dict[str, Any], name: str = "flow_nfe") -> Section:
    """Every score per recipe, sampler and NFE (mean over seeds, lowest-highest), the plot."""
    summarise(record)
    s, rows = Section.of(record, name, __doc__), record["rows"]
    seeds = sorted({seed for row in rows for seed in row["seeds"]})
    first = rows[0]
    s.add(
        f"Training seeds {values(seeds)}; {integer(record['n'])} samples per point against the "
        "test split. Real data (train against test): "
        f"feature-FID {sig(first['fid_floor'])}, precision {sig(first['precision_floor'])}, "
        f"recall {sig(first['recall_floor'])}; classifier accuracy on real test images "
        f"{sig(first['accuracy_ceiling'])}; median nearest-training-image distance of the test "
        f"images {sig(first['test_to_train_median'])}. Training ran beside other jobs: the CPU "
        "seconds of the training process are the closer measure of one idle thread's time, the "
        "wall seconds include waiting for the CPU."
    )
    s.table(
        [
            Col("recipe", "recipe", code),
            Col("training s, wall", lambda r: record["train_seconds"][r["recipe"]], sig),
            Col("training s, CPU", lambda r: record["train_cpu_seconds"][r["recipe"]], sig),
            Col("sampler", "sampler", code),
            Col("NFE", "nfe", integer),
            Col("feature-FID", lambda r: _spread(r["feature_fid"]), str),
            Col("precision", lambda r: _spread(r["precision"]), str),
            Col("recall", lambda r: _spread(r["recall"]), str),
            Col("accuracy", lambda r: _spread(r["accuracy"]), str),
            Col("nearest-train median", lambda r: sig(r["sample_to_train_median"]["mean"]), str),
        ],
        rows,
        title="mean over training seeds (lowest-highest seed)",
    )

    def draw(figure: Any) -> None:
        recipes = list(dict.fromkeys(row["recipe"] for row in rows))
        samplers = list(dict.fromkeys(row["sampler"] for row in rows))
        colours = {name: f"C{i}" for i, name in enumerate(recipes)}
        styles = {name: ("-", "--", ":", "-.")[i % 4] for i, name in enumerate(samplers)}
        marks = {name: "osv^D"[i % 5] for i, name in enumerate(samplers)}
        panels = figure.subplots(1, 3)
        for ax, key, label in zip(
            panels, ("feature_fid", "precision", "recall"), ("feature-FID", "precision", "recall")
        ):
            series: dict[tuple[str, str], list[dict[str, Any]]] = {}
            for row in rows:
                series.setdefault((row["recipe"], row["sampler"]), []).append(row)
            for (recipe, sampler), points in series.items():
                points.sort(key=lambda p: p["nfe"])
                ax.plot(
                    [p["nfe"] for p in points],
                    [p[key]["mean"] for p in points],
                    color=colours[recipe],
                    linestyle=styles[sampler],
                    marker=marks[sampler],
                    label=f"{recipe} {sampler}",
                )
            floor = first[{"feature_fid": "fid_floor"}.get(key, f"{key}_floor")]
            ax.axhline(floor, color="grey", linestyle=":", label="real data")
            ax.set(xscale="log", xlabel="NFE (log scale)", title=label)
            ax.minorticks_off()
            ax.set_xticks(record["nfe_budgets"], [str(b) for b in record["nfe_budgets"]])
            ax.grid(alpha=0.3)
        panels[0].set(yscale="log", ylim=(0.8 * first["fid_floor"], 100))
        panels[0].set_title("feature-FID (points above 100 off the axis)")
        panels[0].legend(fontsize=6)

    s.plot(
        name,
        "feature-FID, precision and recall against NFE per recipe and sampler",
        draw,
        (13, 4.2),
    )
    return s


if __name__ == "__main__":
    main()
