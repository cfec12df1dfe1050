"""Feature-FID against network evaluations for every registered sampler, on one trained run.

Loads an existing run (``--run``, its ``final/`` weights: EMA) and samples it with every sampler
in core's registry of kind ``sampler`` at each budget of ``--nfe`` network evaluations, from
``--seeds`` sampling seeds, class-conditional with classes balanced (label ``i % 10`` for
sample ``i``, so ``n/10`` per digit) at the run's ``sample.guidance_scale``. Scores each set
with core's ``feature-fid`` metric (digit-classifier features, as ``core evaluate --metric
feature-fid`` scores) against the run's test split, and the floor the same way: ``--n`` real
training images against the test split.

NFE counts calls of the network as the sampler counts them (``model.last_nfe``: sampler steps
x evaluations per step, so 2N - 1 for ``heun-karras`` with N noise levels). With guidance each
call evaluates the conditional and the unconditional prediction in one batch of twice the
samples, so the compute is twice the NFE in single-batch evaluations for every sampler alike.
A sampler whose NFE cannot hit a budget exactly gets the most steps that stay within it.

Writes ``benchmarks/results/samplers_nfe.json`` after every point (``--resume`` skips points
already there), looping seed by seed so that a cut-short sweep has every sampler and budget.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/samplers_nfe.py \\
        --run runs/bench_demo/mnist5k_seed0 --n 300 --seeds 0,1,2 --nfe 5,10,20,30,50
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


def steps_for(nfe_of, budget: int) -> int:
    """The most steps whose NFE stays within ``budget``; ``nfe_of(steps)`` is linear in steps."""
    per_step = nfe_of(3) - nfe_of(2)
    offset = nfe_of(2) - 2 * per_step
    return max(1, (budget - offset) // per_step)


def summarise(record: dict) -> None:
    """Per sampler and budget: mean, min and max over seeds; the best FID and the goal."""
    points: dict[tuple[str, int], dict] = {}
    for point in record["points"]:
        key = (point["sampler"], point["nfe_budget"])
        row = points.setdefault(
            key,
            {
                "sampler": point["sampler"],
                "nfe_budget": point["nfe_budget"],
                "steps": point["steps"],
                "nfe": point["nfe"],
                "seeds": [],
                "feature_fid_per_seed": [],
                "seconds_per_seed": [],
            },
        )
        row["seeds"].append(point["seed"])
        row["feature_fid_per_seed"].append(point["feature_fid"])
        row["seconds_per_seed"].append(point["seconds"])
    rows = []
    for row in points.values():
        fids = row["feature_fid_per_seed"]
        row["feature_fid"] = statistics.fmean(fids)
        row["feature_fid_min"], row["feature_fid_max"] = min(fids), max(fids)
        row["seconds"] = statistics.fmean(row["seconds_per_seed"])
        rows.append(row)
    rows.sort(key=lambda r: (r["sampler"], r["nfe"]))
    record["rows"] = rows
    full = [r for r in rows if len(r["seeds"]) == len(record["seeds"])]
    if not full:
        return
    best = min(full, key=lambda r: r["feature_fid"])
    at20 = [r for r in full if r["nfe"] <= 20 and r["nfe_budget"] == 20]
    record["best"] = {k: best[k] for k in ("sampler", "steps", "nfe", "feature_fid")}
    if at20:
        best20 = min(at20, key=lambda r: r["feature_fid"])
        record["best_at_20"] = {k: best20[k] for k in ("sampler", "steps", "nfe", "feature_fid")}
        record["best_at_20_vs_best"] = best20["feature_fid"] / best["feature_fid"]
        record["goal_within_10pct"] = record["best_at_20_vs_best"] <= 1.10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a run directory with final/ weights")
    parser.add_argument("--n", type=int, default=300, help="samples per point (a multiple of 10)")
    parser.add_argument("--seeds", default="0,1,2", help="sampling seeds")
    parser.add_argument("--nfe", default="5,10,20,30,50", help="budgets of network evaluations")
    parser.add_argument("--samplers", default=None, help="default: every registered sampler")
    parser.add_argument("--guidance", type=float, default=None, help="default: the run's")
    parser.add_argument("--batch-size", type=int, default=150, help="samples per sample() call")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/samplers_nfe.json"))
    parser.add_argument("--resume", action="store_true", help="skip points already in --out")
    args = parser.parse_args()

    import torch

    import core
    from core.metrics.evaluate import _stack, _to_symmetric, load_model, reference_data
    from core.sampling import draw_samples

    torch.set_num_threads(args.threads)
    model, info = load_model(args.run, device="cpu")
    guidance = args.guidance
    if guidance is None:
        guidance = (info.get("sample") or {}).get("guidance_scale")
    samplers = args.samplers.split(",") if args.samplers else list(core.list_components("sampler"))
    budgets = [int(b) for b in args.nfe.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    classes = int(getattr(model, "num_classes", 0) or 0)

    # the reference: the run's test split, and its floor (n real training images against it)
    data = info["data"]
    test, train_set = reference_data(data, "test"), reference_data(data, "train")
    value_range = getattr(test, "value_range", None)
    test_x = _to_symmetric(_stack(test)[0], value_range)
    train_x = _to_symmetric(_stack(train_set)[0], value_range)
    fid = core.build("metric", {"type": "feature-fid"})
    floors = []
    for seed in seeds:
        pick = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(seed))
        floors.append(fid(train_x[pick[: args.n]], test_x)["feature_fid"])

    def nfe_of(sampler: str, steps: int) -> int:  # one tiny call: what the sampler counts
        model.sample(1, sampler=sampler, steps=steps, y=torch.zeros(1, dtype=torch.long))
        return int(model.last_nfe)

    out = Path(args.out)
    record: dict = {"points": []}
    if args.resume and out.is_file():
        record = json.loads(out.read_text())
    done = {(p["sampler"], p["nfe_budget"], p["seed"]) for p in record["points"]}
    record.update(
        {
            "benchmark": "samplers_nfe",
            "command": " ".join(["python", "benchmarks/samplers_nfe.py", *sys.argv[1:]]),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}",
            "processor": _processor(),
            "python": platform.python_version(),
            "threads": args.threads,
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
            "run": args.run,
            "weights": info.get("weights"),
            "parameters": model.count_parameters(),
            "image_size": int(data.get("image_size") or 0),
            "data": data,
            "guidance_scale": guidance,
            "n_samples": args.n,
            "seeds": seeds,
            "nfe_budgets": budgets,
            "samplers": samplers,
            "nfe_convention": "network calls as the sampler counts them (model.last_nfe): "
            "steps x evaluations per step; with guidance each call is one batch of 2n "
            "(conditional and unconditional)",
            "reference": f"{data['type']} test split ({len(test_x)} images), digit-classifier "
            "features (core's feature-fid metric)",
            "floor_per_seed": floors,
            "floor": statistics.fmean(floors),
        }
    )
    record.setdefault("load_average_at_start", list(os.getloadavg()))
    record.setdefault("started", time.strftime("%Y-%m-%d %H:%M"))
    with torch.no_grad():
        grid = {}
        for name in samplers:
            counts = {k: nfe_of(name, k) for k in (2, 3)}
            grid[name] = {b: steps_for(counts.__getitem__, b) for b in budgets}
    labels = torch.arange(args.n) % classes if classes else None
    extra = {"y": labels} if labels is not None else {}
    if guidance is not None:
        extra["guidance_scale"] = guidance
    print(
        f"{args.run}: {len(samplers)} samplers x {len(budgets)} budgets x {len(seeds)} seeds, "
        f"n {args.n}, guidance {guidance}; floor {record['floor']:.3f}",
        flush=True,
    )
    sweep_start, before = time.perf_counter(), record.get("sweep_seconds", 0.0)
    for seed in seeds:
        for sampler in samplers:
            for budget in budgets:
                if (sampler, budget, seed) in done:
                    continue
                steps = grid[sampler][budget]
                load = os.getloadavg()
                start = time.perf_counter()
                samples = draw_samples(
                    model,
                    args.n,
                    sampler=sampler,
                    steps=steps,
                    seed=seed,
                    batch_size=args.batch_size,
                    **extra,
                )
                seconds = time.perf_counter() - start
                samples = _to_symmetric(samples, getattr(model, "sample_range", None))
                score = fid(samples, test_x)["feature_fid"]
                record["points"].append(
                    {
                        "sampler": sampler,
                        "nfe_budget": budget,
                        "steps": steps,
                        "nfe": int(model.last_nfe),
                        "seed": seed,
                        "feature_fid": score,
                        "seconds": seconds,
                        "load_average_1min_before": load[0],
                    }
                )
                record["load_average_at_end"] = list(os.getloadavg())
                record["sweep_seconds"] = before + time.perf_counter() - sweep_start
                record["date"] = time.strftime("%Y-%m-%d")
                summarise(record)
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps(record, indent=2))
                print(
                    f"seed {seed} {sampler:18s} steps {steps:3d} NFE {model.last_nfe:3d}: "
                    f"feature-FID {score:7.3f}  {seconds:6.1f} s  (load {load[0]:.2f})",
                    flush=True,
                )
    summarise(record)
    out.write_text(json.dumps(record, indent=2))
    print(f"wrote {out}")
    print(f"\nfloor ({args.n} train vs test): {record['floor']:.3f}")
    for row in record["rows"]:
        print(
            f"{row['sampler']:18s} NFE {row['nfe']:3d}: feature-FID {row['feature_fid']:7.3f} "
            f"({row['feature_fid_min']:.3f}-{row['feature_fid_max']:.3f}), {row['seconds']:.1f} s"
        )
    if "best_at_20_vs_best" in record:
        b, b20 = record["best"], record["best_at_20"]
        print(
            f"best: {b['sampler']} NFE {b['nfe']} {b['feature_fid']:.3f}; best at 20 NFE: "
            f"{b20['sampler']} {b20['feature_fid']:.3f} = {record['best_at_20_vs_best']:.3f}x; "
            f"goal (within 10%): {'met' if record['goal_within_10pct'] else 'NOT met'}"
        )


def _processor() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    main()
