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
import os
import statistics
import time
from pathlib import Path
from typing import Any

from _common import resumed_record, save_record
from _common.digits import split_images, to_symmetric
from _common.markdown import DASH, Col, Section, code, integer, sig, values, yes_no
from _common.nfe import steps_for
from _common.plots import nfe_axes, nfe_errorbars, real_data_line

ROOT = Path(__file__).resolve().parents[1]


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
    from core.metrics.evaluate import load_model
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
    test_x, train_x = split_images(data, "test")[0], split_images(data, "train")[0]
    fid = core.build("metric", {"type": "feature-fid"})
    floors = []
    for seed in seeds:
        pick = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(seed))
        floors.append(fid(train_x[pick[: args.n]], test_x)["feature_fid"])

    def nfe_of(sampler: str, steps: int) -> int:  # one tiny call: what the sampler counts
        model.sample(1, sampler=sampler, steps=steps, y=torch.zeros(1, dtype=torch.long))
        return int(model.last_nfe)

    out = Path(args.out)
    record = resumed_record("samplers_nfe", out, args.resume)
    record.setdefault("points", [])
    done = {(p["sampler"], p["nfe_budget"], p["seed"]) for p in record["points"]}
    record.update(
        {
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
                samples = to_symmetric(samples, getattr(model, "sample_range", None))
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
                record["sweep_seconds"] = before + time.perf_counter() - sweep_start
                summarise(record)
                save_record("samplers_nfe", record, out)
                print(
                    f"seed {seed} {sampler:18s} steps {steps:3d} NFE {model.last_nfe:3d}: "
                    f"feature-FID {score:7.3f}  {seconds:6.1f} s  (load {load[0]:.2f})",
                    flush=True,
                )
    summarise(record)
    print(f"wrote {save_record('samplers_nfe', record, out)}")
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


def render(record: dict[str, Any], name: str = "samplers_nfe") -> Section:
    """feature-FID per sampler and NFE budget (mean and seeds' range), every point, the goal."""
    s, r = Section.of(record, name, __doc__), record
    rows, seeds = r["rows"], r["seeds"]
    floor, size = r.get("floor"), r.get("image_size") or r["data"]["image_size"]
    s.add(
        f"Model: the run `{r['run']}`, weights {r.get('weights', 'final/')}, "
        f"{integer(r['parameters'])} parameters at {size}×{size} px, "
        f"class-conditional (classes balanced, {integer(r['n_samples'] // 10)} per digit) at "
        f"guidance scale {sig(r['guidance_scale'])}. Feature-FID against the {r['reference']}, "
        f"{integer(r['n_samples'])} samples per seed, the mean over seeds {values(seeds)}"
        + (
            f"; the floor ({integer(r['n_samples'])} real training images against the test "
            f"split, mean over the same seeds) is {sig(floor)}."
            if floor
            else "."
        )
        + f" NFE: {r['nfe_convention']}."
    )
    budgets = sorted({row["nfe_budget"] for row in rows})
    by_sampler: dict[str, dict[int, dict[str, Any]]] = {}
    for row in rows:
        by_sampler.setdefault(row["sampler"], {})[row["nfe_budget"]] = row

    def point(row: dict[str, Any] | None) -> str:
        if row is None:
            return DASH
        text = f"{sig(row['feature_fid'])} ({sig(row['feature_fid_min'])}-"
        text += f"{sig(row['feature_fid_max'])})"
        if row["nfe"] != row["nfe_budget"]:
            text += f" at {row['nfe']}"
        if len(row["seeds"]) != len(seeds):
            text += f", {len(row['seeds'])} seed{'s' if len(row['seeds']) != 1 else ''}"
        return text

    s.table(
        [Col("sampler", "sampler", code)]
        + [Col(f"{b} NFE", lambda row, b=b: point(row["points"].get(b)), str) for b in budgets],
        [{"sampler": name, "points": points} for name, points in by_sampler.items()],
        title="feature-FID, mean over seeds (lowest-highest seed); "
        "'at k' where the sampler's NFE is k below the budget",
    )
    s.table(
        [
            Col("sampler", "sampler", code),
            Col("steps", "steps", integer),
            Col("NFE", "nfe", integer),
            Col("seeds", lambda row: len(row["seeds"]), integer),
            Col("feature-FID per seed", "feature_fid_per_seed", lambda v: ", ".join(map(sig, v))),
            Col(f"sampling time per seed, {integer(r['n_samples'])} samples (s)", "seconds", sig),
        ],
        rows,
        title="every point",
    )
    found = []
    if "best" in r:
        best = r["best"]
        found.append(
            (
                "best feature-FID at any NFE",
                f"{sig(best['feature_fid'])} (`{best['sampler']}`, {best['nfe']} NFE)",
            )
        )
    if "best_at_20" in r:
        b20 = r["best_at_20"]
        found += [
            ("best at 20 NFE", f"{sig(b20['feature_fid'])} (`{b20['sampler']}`, {b20['nfe']} NFE)"),
            ("best at 20 NFE / best at any NFE", sig(r["best_at_20_vs_best"])),
            ("goal: best at 20 NFE within 10 % of the best", yes_no(r["goal_within_10pct"])),
        ]
    if floor:
        found.append(("floor (real train vs test)", sig(floor)))
    if r.get("sweep_seconds"):
        found.append(("sweep wall time (s)", sig(r["sweep_seconds"])))
    if found:
        s.pairs(found, ("comparison", "result"))

    def draw(figure: Any) -> None:
        title = f"Samplers on {r['data']['type']}, {size} px, guidance {sig(r['guidance_scale'])}"
        ax = nfe_axes(figure, title)
        series = {name: list(points.values()) for name, points in by_sampler.items()}
        nfe_errorbars(ax, series, 1.03, lambda p: (p["feature_fid_min"], p["feature_fid_max"]))
        if "best" in r:
            ax.axhline(
                1.1 * r["best"]["feature_fid"],
                color="black",
                linestyle="--",
                linewidth=1,
                label="best FID + 10% (the goal)",
            )
        real_data_line(ax, floor)
        ax.axvline(20, color="grey", linewidth=0.8, alpha=0.5)
        ax.minorticks_off()
        ax.set_xticks(budgets, [str(b) for b in budgets])
        top = max((p["feature_fid_max"] for p in rows if p["nfe"] >= 10), default=None)
        ax.set_ylim(0, 1.15 * top if top else None)
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))

    s.plot(
        name,
        "feature-FID against network evaluations per sampler on the mnist-5k model",
        draw,
        (8.0, 4.2),
    )
    s.add(
        "Points are the mean over seeds, the bars span the seeds' lowest and highest FID; samplers "
        "are shifted a little sideways so that bars at the same NFE separate; the y axis is cut "
        "above the 10-NFE points, so 5-NFE points may lie off the plot (the table has them)."
    )
    return s


if __name__ == "__main__":
    main()
