"""Accuracy per LUT: DiffLUT classifiers trained, exported and synthesized, on digits and mnist-5k.

    python benchmarks/difflut_pareto.py                      # every candidate, seeds 0,1,2
    python benchmarks/difflut_pareto.py --dataset digits --only digits-dwn-800 --seeds 0

Each candidate (node type, layer widths, encoder bits) is trained on one torch thread from
seeds 0, 1 and 2 (seed s: batch order s, model initialisation and wiring 42 + s, so seed 0 is
what ``scripts/train.py --preset NAME`` trains) on the stratified seed-0 split (digits: 1,438 train / 359 test; mnist-5k:
4,000 / 1,000), scored on the held-out split in evaluation mode (hard truth tables, what the
hardware computes), exported as Verilog with integer inputs (digits 5 bits, q / 16; mnist-5k
8 bits, q / 255) and Xilinx LUT6 nodes, and synthesized by yosys (``synth -lut 6``, see
``core difflut synth``). Total LUTs count the encoder's comparators, the network and the
popcount/argmax. The test split is the only held-out split: it scored every candidate, so a
configuration picked from this table was picked on it; seeds are not picked (a shipped model
is seed 0 of its preset). Results go to benchmarks/results/difflut_pareto.json; measured
(candidate, seed) pairs are kept, so the command can be rerun to add seeds or candidates.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
from pathlib import Path
from typing import Any

from _common import save_record, start_record
from _common.markdown import Col, Section, code, integer, percent, yes_no

RESULTS = Path(__file__).resolve().parent / "results" / "difflut_pareto.json"

#: accuracy floor and LUT ceiling per dataset (issue 19)
GOALS = {"digits": (0.97, 3000), "mnist-5k": (0.95, 6000)}

_DIGITS = {"input_size": 64, "dataset": "digits"}
_MNIST = {"input_size": 784, "dataset": "mnist-5k"}
_DIGITS_TRAIN = {"epochs": 20, "batch_size": 32, "lr": 0.01}
_MNIST_TRAIN = {"epochs": 30, "batch_size": 64, "lr": 0.01, "augment_shift": 1, "image_side": 28}


def _candidate(name: str, dataset: str, config: dict[str, Any], train: dict[str, Any]) -> dict:
    return {"name": name, "dataset": dataset, "config": config, "train": train}


def _digits(
    name: str,
    node: str,
    widths: list[int],
    bits: int,
    tau: float,
    **extra: Any,
):
    """digits: per-pixel evenly spaced thresholds, a learnable first layer."""
    layers = ["learnable"] + ["random"] * (len(widths) - 1)
    config = {
        **_DIGITS,
        "node_type": node,
        "node_input_dim": 2 if node == "difflogic" else 6,
        "layer_type": layers,
        "mapping_candidates": 64,
        "layer_widths": widths,
        "encoder_config": {"name": "thermometer", "num_bits": bits},
        "runtime": {"tau": tau},
        **extra,
    }
    return _candidate(name, "digits", config, _DIGITS_TRAIN)


def _mnist(
    name: str,
    node: str,
    widths: list[int],
    bits: int,
    tau: float,
    global_thresholds: bool = False,
    **extra: Any,
):
    """mnist-5k: per-pixel quantile thresholds, or ``global_thresholds`` evenly spaced over
    [0, 1] for every pixel (at 1/4, 1/2, 3/4 an 8-bit pixel needs at most one LUT each)."""
    layers = ["learnable"] + ["random"] * (len(widths) - 1)
    encoder = (
        {"name": "thermometer", "num_bits": bits, "feature_wise": False}
        if global_thresholds
        else {"name": "distributive-thermometer", "num_bits": bits}
    )
    config = {
        **_MNIST,
        "node_type": node,
        "layer_type": layers,
        "mapping_candidates": 32,
        "layer_widths": widths,
        "encoder_config": encoder,
        "runtime": {"tau": tau},
        **extra,
    }
    return _candidate(name, "mnist-5k", config, _MNIST_TRAIN)


def candidates() -> list[dict[str, Any]]:
    """Every measured configuration; the shipped presets come from ``training.PRESETS``."""
    from core_difflut.training import PRESETS

    shipped = [
        _candidate(name, p["dataset"], p["config"], p["train"])
        for name, p in PRESETS.items()
        if name in SHIPPED
    ]
    return shipped + [
        _digits("digits-dwn-800", "dwn", [800], 4, 5.0),
        _digits("digits-dwn-1000-tau8", "dwn", [1000], 4, 8.0),
        _digits("digits-dwn-1200", "dwn", [1200], 4, 5.0),
        _digits("digits-dwn-1600-300", "dwn", [1600, 300], 4, 3.0),
        _digits("digits-dwn-stable-1000", "dwn-stable", [1000], 4, 5.0),
        _digits("digits-probabilistic-1000", "probabilistic", [1000], 4, 5.0),
        _digits("digits-hybrid-1000", "hybrid", [1000], 4, 5.0),
        _mnist("mnist5k-dwn-2000-1000-bin", "dwn", [2000, 1000], 1, 5.0, global_thresholds=True),
        # the mnist5k-dwn preset before this benchmark (6,599 LUTs)
        _mnist("mnist5k-dwn-2000-1000-d3", "dwn", [2000, 1000], 3, 5.0),
        _mnist("mnist5k-dwn-1500-500-g3", "dwn", [1500, 500], 3, 3.0, global_thresholds=True),
        _mnist("mnist5k-dwn-2000-1000-d2", "dwn", [2000, 1000], 2, 5.0),
    ]


#: presets of training.PRESETS measured here (the shipped pretrained models)
SHIPPED = ("digits-dwn", "mnist5k-dwn")


def fingerprint(candidate: dict[str, Any]) -> str:
    """Short hash of what decides a result (the validated config and the training settings)."""
    from core_difflut.configs import ModelConfig

    config = ModelConfig(**candidate["config"]).model_dump(mode="json")
    text = json.dumps([config, candidate["train"]], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def measure(candidate: dict[str, Any], seed: int) -> dict[str, Any]:
    """Train one seed, score it in evaluation mode, synthesize it."""
    import torch
    from core_difflut.configs import ModelConfig
    from core_difflut.data import load_dataset
    from core_difflut.export.synth import synthesize_model
    from core_difflut.training import TrainSettings, train_classifier

    torch.manual_seed(seed)
    data = load_dataset(candidate["dataset"], seed=0)
    settings = TrainSettings(**candidate["train"], threads=1, seed=seed, log=False)
    model, stats = train_classifier(ModelConfig(**candidate["config"]), data, settings)
    report = synthesize_model(model.eval())
    return {
        "test_accuracy": round(stats["test_accuracy"], 4),
        "train_accuracy": round(stats["train_accuracy"], 4),
        "luts": report.luts,
        "depth": report.depth["total"],
        "training_time_s": stats["training_time_s"],
        "training_cpu_time_s": stats["training_cpu_time_s"],
        "synthesis_s": report.seconds,
        "parameters": stats["parameters"],
        "load_average": os.getloadavg()[0],
    }


def _encoder_label(encoder: dict[str, Any]) -> str:
    per = "" if encoder.get("feature_wise", True) else ", one set for all pixels"
    return f"{encoder['name']}, {encoder['num_bits']} bits{per}"


def summarize(candidate: dict[str, Any], runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Mean and range of the test accuracy over seeds, median LUTs, whether the goal is met."""
    accuracy = [r["test_accuracy"] for r in runs.values()]
    luts = {
        part: int(statistics.median(r["luts"][part] for r in runs.values()))
        for part in ("encoder", "network", "popcount", "total")
    }
    floor, ceiling = GOALS[candidate["dataset"]]
    mean = statistics.fmean(accuracy)
    c = candidate["config"]
    return {
        "node_type": c["node_type"],
        "layer_widths": c["layer_widths"],
        "encoder": _encoder_label(c["encoder_config"]),
        "seeds": len(accuracy),
        "test_accuracy_mean": round(mean, 4),
        "test_accuracy_range": [min(accuracy), max(accuracy)],
        "luts": luts,
        "depth": max(r["depth"] for r in runs.values()),
        "training_time_s_median": statistics.median(r["training_time_s"] for r in runs.values()),
        "meets_goal": mean >= floor and luts["total"] <= ceiling,
    }


def pareto_front(rows: dict[str, dict[str, Any]]) -> list[str]:
    """Names of the rows no other row beats on both mean accuracy and total LUTs."""
    front = []
    for name, row in rows.items():
        dominated = any(
            other["test_accuracy_mean"] >= row["test_accuracy_mean"]
            and other["luts"]["total"] <= row["luts"]["total"]
            and (
                other["test_accuracy_mean"] > row["test_accuracy_mean"]
                or other["luts"]["total"] < row["luts"]["total"]
            )
            for key, other in rows.items()
            if key != name
        )
        if not dominated:
            front.append(name)
    return sorted(front, key=lambda n: rows[n]["luts"]["total"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=sorted(GOALS), default=None)
    parser.add_argument("--only", default=None, help="comma-separated candidate names")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    out = Path(args.out)
    previous = json.loads(out.read_text()) if out.is_file() else {}
    runs: dict[str, Any] = previous.get("runs", {})
    chosen = [
        c
        for c in candidates()
        if (args.dataset is None or c["dataset"] == args.dataset)
        and (args.only is None or c["name"] in args.only.split(","))
    ]
    if not chosen:
        raise SystemExit(f"no candidate matches --dataset {args.dataset} --only {args.only}")
    seeds = [int(s) for s in args.seeds.split(",") if s]
    record = start_record("difflut_pareto", threads=1)
    for candidate in chosen:
        key = fingerprint(candidate)
        entry = runs.get(candidate["name"])
        if entry is None or entry["fingerprint"] != key:
            entry = runs[candidate["name"]] = {"fingerprint": key, "seeds": {}}
        for seed in seeds:
            if str(seed) in entry["seeds"]:
                continue
            result = measure(candidate, seed)
            entry["seeds"][str(seed)] = result
            print(
                f"{candidate['name']:32s} seed {seed}: test {result['test_accuracy']:.4f}  "
                f"LUTs {result['luts']['total']:,} (encoder {result['luts']['encoder']:,}, "
                f"network {result['luts']['network']:,}, popcount {result['luts']['popcount']:,})"
                f"  {result['training_time_s']:.0f} s",
                flush=True,
            )
            _write(out, runs, record)
    _write(out, runs, record)
    print(f"wrote {out}")


def _merge_from_disk(out: Path, runs: dict[str, Any]) -> None:
    """Add seeds another process wrote meanwhile (same candidate and fingerprint)."""
    disk = json.loads(out.read_text()).get("runs", {}) if out.is_file() else {}
    for name, entry in disk.items():
        mine = runs.setdefault(name, entry)
        if mine is not entry and mine["fingerprint"] == entry["fingerprint"]:
            mine["seeds"] = {**entry["seeds"], **mine["seeds"]}


def _write(out: Path, runs: dict[str, Any], record: dict[str, Any]) -> None:
    _merge_from_disk(out, runs)
    known = {c["name"]: c for c in candidates()}
    summary: dict[str, dict[str, Any]] = {}
    for name, entry in runs.items():
        candidate = known.get(name)
        if candidate and entry["fingerprint"] == fingerprint(candidate) and entry["seeds"]:
            summary.setdefault(candidate["dataset"], {})[name] = summarize(
                candidate, entry["seeds"]
            )
    result = record | {
        "goals": {d: {"accuracy": a, "luts": n} for d, (a, n) in GOALS.items()},
        "shipped": list(SHIPPED),
        "summary": summary,
        "pareto_front": {d: pareto_front(rows) for d, rows in summary.items()},
        "runs": runs,
    }
    save_record("difflut_pareto", result, out)


def _percent_range(pair: list[float]) -> str:
    return f"{100 * pair[0]:.1f}–{100 * pair[1]:.1f}"


def render(record: dict[str, Any], name: str = "difflut_pareto") -> Section:
    """Every candidate per dataset (accuracy, LUTs, goal) and accuracy against LUTs as a plot."""
    s, r = Section.of(record, name, __doc__), record
    goals, front = r["goals"], r.get("pareto_front", {})
    for dataset, rows in r["summary"].items():
        goal = goals[dataset]
        s.table(
            [
                Col("candidate", "name", code),
                Col("node", "node_type"),
                Col("layers", lambda row: " -> ".join(f"{w:,}" for w in row["layer_widths"])),
                Col("encoder", "encoder"),
                Col("seeds", "seeds", integer),
                Col("test accuracy (%), mean", "test_accuracy_mean", percent),
                Col("range (%)", "test_accuracy_range", _percent_range),
                Col("LUTs: encoder", lambda row: row["luts"]["encoder"], integer),
                Col("network", lambda row: row["luts"]["network"], integer),
                Col("popcount/argmax", lambda row: row["luts"]["popcount"], integer),
                Col("total", lambda row: row["luts"]["total"], integer),
                Col("depth", "depth", integer),
                Col("Pareto", "pareto", yes_no),
                Col("goal", "meets_goal", yes_no),
            ],
            [
                {"name": name, "pareto": name in front.get(dataset, []), **row}
                for name, row in sorted(rows.items(), key=lambda i: i[1]["luts"]["total"])
            ],
            f"{dataset}: goal {goal['accuracy']:.0%} with at most {goal['luts']:,} LUTs",
        )

    shipped = set(r.get("shipped", []))

    def draw(figure: Any) -> None:
        from matplotlib import ticker

        axes = figure.subplots(1, len(r["summary"]), squeeze=False)[0]
        for ax, (dataset, rows) in zip(axes, r["summary"].items()):
            goal = goals[dataset]
            nodes = sorted({row["node_type"] for row in rows.values()})
            for index, node in enumerate(nodes):
                nudge = 1 + 0.008 * (index - (len(nodes) - 1) / 2)  # keep equal sizes apart
                points = sorted(
                    (row["luts"]["total"], name, row)
                    for name, row in rows.items()
                    if row["node_type"] == node
                )
                xs = [x * nudge for x, _, _ in points]
                ys = [100 * row["test_accuracy_mean"] for _, _, row in points]
                ranges = [row["test_accuracy_range"] for _, _, row in points]
                low = [y - 100 * lo for y, (lo, _) in zip(ys, ranges)]
                high = [100 * hi - y for y, (_, hi) in zip(ys, ranges)]
                ax.errorbar(xs, ys, yerr=[low, high], fmt="o", capsize=3, label=node)
                for x, y, (_, name, _) in zip(xs, ys, points):
                    if name in shipped:
                        ax.annotate(name, (x, y), textcoords="offset points", xytext=(6, 4))
            ax.axhline(100 * goal["accuracy"], color="grey", linestyle="--", linewidth=1)
            ax.axvline(goal["luts"], color="grey", linestyle="--", linewidth=1)
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
            ax.xaxis.set_minor_formatter(ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
            ax.tick_params(axis="x", which="minor", labelsize="x-small")
            ax.set_xlabel("LUTs in total (encoder + network + popcount/argmax), log scale")
            ax.set_ylabel("test accuracy (%), mean and range over seeds")
            ax.set_title(f"{dataset} (dashed: goal)")
            ax.grid(True, which="major", alpha=0.3)
            ax.legend(fontsize="small", loc="lower right")

    s.plot(
        "difflut_pareto",
        "DiffLUT test accuracy against total LUTs",
        draw,
        (6.0 * len(r["summary"]), 4.4),
    )
    return s


if __name__ == "__main__":
    main()
