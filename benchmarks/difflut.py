"""DiffLUT benchmarks: layer speed per node type and accuracy on the bundled datasets.

    python benchmarks/difflut.py --speed                 # all node types, ~2 min
    python benchmarks/difflut.py --accuracy              # presets + baselines, ~10-20 min
    python benchmarks/difflut.py --accuracy --node-types dwn,probabilistic --datasets digits

Speed: one LUT layer 3,136 -> 2,000 nodes, n = 6 (difflogic: n = 2), batch 128, forward +
backward in training mode, samples/s (median and best of the repeats), with 1 and 2 torch
threads. Results go to benchmarks/results/difflut.json.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from pathlib import Path
from typing import Any

from _common import load_record, save_record, start_record
from _common.markdown import Col, Section, doc_commands, integer, percent, sig
from _common.markdown import axes as plot_axes

RESULTS = Path(__file__).resolve().parent / "results" / "difflut.json"
DATASET_PRESET = {"digits": "digits-compare", "mnist-5k": "mnist5k-dwn"}


def _time(fn, seconds: float, min_reps: int = 3) -> list[float]:
    fn()
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or len(times) < min_reps:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def layer_speed(node: str, threads: int, seconds: float, batch: int = 128) -> dict:
    import torch
    from core_difflut.layers import RandomLayer

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    n = 2 if node == "difflogic" else 6
    layer = RandomLayer(input_dim=3136, output_dim=2000, node={"type": node, "input_dim": n})
    layer.train()
    x = (torch.rand(batch, 3136) > 0.5).float().requires_grad_(True)

    def step():
        layer.zero_grad(set_to_none=True)
        x.grad = None
        layer(x).sum().backward()

    times = _time(step, seconds)
    return {
        "median_samples_per_s": batch / statistics.median(times),
        "best_samples_per_s": batch / min(times),
        "repeats": len(times),
    }


def run_speed(node_types: list[str], seconds: float) -> dict:
    rows = {}
    for node in node_types:
        rows[node] = {f"{t}_threads": layer_speed(node, t, seconds) for t in (1, 2)}
        r1, r2 = rows[node]["1_threads"], rows[node]["2_threads"]
        print(
            f"{node:15s} 1 thread: {r1['median_samples_per_s']:9.0f} median "
            f"{r1['best_samples_per_s']:9.0f} best | 2 threads: {r2['median_samples_per_s']:9.0f} "
            f"median {r2['best_samples_per_s']:9.0f} best  samples/s",
            flush=True,
        )
    return {"layers": rows}


def mlp_baseline(data: dict, epochs: int = 60) -> float:
    import torch

    torch.manual_seed(0)
    x, y = torch.as_tensor(data["x_train"]), torch.as_tensor(data["y_train"])
    net = torch.nn.Sequential(
        torch.nn.Linear(x.shape[1], 256), torch.nn.ReLU(), torch.nn.Linear(256, 10)
    )
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(epochs):
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 64):
            b = perm[i : i + 64]
            loss = torch.nn.functional.cross_entropy(net(x[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        pred = net(torch.as_tensor(data["x_test"])).argmax(1).numpy()
    return float((pred == data["y_test"]).mean())


def svm_baseline(data: dict) -> float:
    from sklearn.svm import SVC

    clf = SVC(kernel="rbf", gamma="scale").fit(data["x_train"], data["y_train"])
    return float((clf.predict(data["x_test"]) == data["y_test"]).mean())


def run_accuracy(node_types: list[str], datasets: list[str], threads: int) -> dict:
    from core_difflut.configs import ModelConfig
    from core_difflut.data import load_dataset
    from core_difflut.training import PRESETS, TrainSettings, train_classifier

    out: dict = {}
    for name in datasets:
        data = load_dataset(name)
        preset = PRESETS[DATASET_PRESET[name]]
        rows = {
            "mlp-256": {"test_accuracy": mlp_baseline(data)},
            "svm-rbf": {"test_accuracy": svm_baseline(data)},
        }
        print(
            f"{name}: MLP-256 {rows['mlp-256']['test_accuracy']:.4f}  "
            f"SVM-RBF {rows['svm-rbf']['test_accuracy']:.4f}",
            flush=True,
        )
        for node in node_types:
            cfg = dict(preset["config"], node_type=node)
            if node == "difflogic":
                cfg["node_input_dim"] = 2
            settings = TrainSettings(**preset["train"], threads=threads, log=False)
            _, stats = train_classifier(ModelConfig(**cfg), data, settings)
            rows[node] = stats
            print(
                f"{name}: {node:15s} test {stats['test_accuracy']:.4f}  "
                f"train {stats['train_accuracy']:.4f}  {stats['training_time_s']:.0f}s wall "
                f"{stats['training_cpu_time_s']:.0f}s CPU  "
                f"{stats['parameters']:,} parameters",
                flush=True,
            )
        out[name] = rows
    return out


def main() -> None:
    from core_difflut.configs import NODE_NAMES

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--speed", action="store_true")
    parser.add_argument("--accuracy", action="store_true")
    parser.add_argument("--node-types", default=",".join(NODE_NAMES))
    parser.add_argument("--datasets", default="digits,mnist-5k")
    parser.add_argument("--seconds", type=float, default=4.0, help="timing window per case")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for training")
    args = parser.parse_args()
    if not (args.speed or args.accuracy):
        args.speed = True
    nodes = [n for n in args.node_types.split(",") if n]
    previous = load_record(RESULTS) if RESULTS.is_file() else {}
    result = {**previous, **start_record("difflut")}
    if args.speed:
        result["speed"] = run_speed(nodes, args.seconds)
    if args.accuracy:
        acc = run_accuracy(nodes, [d for d in args.datasets.split(",") if d], args.threads)
        result.setdefault("accuracy", {}).update(acc)
    result = json.loads(json.dumps(result, default=float))  # numpy numbers as floats
    print(f"wrote {save_record('difflut', result)}")


def _command(flag: str) -> str:
    """The first command of this docstring that passes ``flag``."""
    return next((c for c in doc_commands(__doc__, "difflut") if flag in c.split()), "")


def _threads(key: str) -> int:
    return int(key.split("_")[0])


def _thread_label(key: str) -> str:
    n = _threads(key)
    return f"{n} thread{'s' if n != 1 else ''}"


def render(record: dict[str, Any], name: str = "difflut") -> Section:
    """Layer speed per node type (table and plot) and accuracy per dataset and model."""
    s, r = Section.of(record, name, __doc__), record
    commands = []
    speed = r.get("speed")
    if speed:
        layers = speed["layers"]
        threads = sorted({t for node in layers.values() for t in node}, key=_threads)
        about = next((p for p in __doc__.split("\n\n") if p.strip().startswith("Speed:")), "")
        about = re.sub(r"\s*Results go to \S+", "", " ".join(about.split()))
        if about:
            s.add(about)
        columns = [Col("node type", "node")]
        for measure, what in (
            ("median_samples_per_s", "median (samples/s)"),
            ("best_samples_per_s", "best (samples/s)"),
        ):
            columns += [Col(f"{_thread_label(t)}, {what}", f"{t}/{measure}", sig) for t in threads]
        columns += [Col(f"repeats, {_thread_label(t)}", f"{t}/repeats", integer) for t in threads]
        rows = [
            {
                "node": name,
                **{f"{t}/{k}": v for t, timing in timings.items() for k, v in timing.items()},
            }
            for name, timings in layers.items()
        ]
        s.table(columns, rows, "Layer speed")

        def draw(figure: Any) -> None:
            names = sorted(layers, key=lambda n: layers[n][threads[0]]["median_samples_per_s"])
            ax = plot_axes(
                figure,
                "samples/s, median (log scale)",
                "",
                "DiffLUT layer throughput per node type",
            )
            height = 0.8 / len(threads)
            for i, t in enumerate(threads):
                ys = [k + (i - (len(threads) - 1) / 2) * height for k in range(len(names))]
                xs = [layers[n].get(t, {}).get("median_samples_per_s", 0) for n in names]
                ax.barh(ys, xs, height=height, label=_thread_label(t))
            ax.set_yticks(range(len(names)), names)
            ax.set_xscale("log")
            ax.grid(False, axis="y")
            ax.legend(loc="lower right", fontsize="small")

        s.plot(
            "difflut_layers",
            "DiffLUT layer samples/s per node type",
            draw,
            (7.0, 0.45 * len(layers) + 1.6),
        )
        commands.append(_command("--speed"))
    accuracy = r.get("accuracy")
    if accuracy:
        rows = [
            {"dataset": dataset, "model": model, **scores}
            for dataset, models in accuracy.items()
            for model, scores in models.items()
        ]
        s.table(
            [
                Col("dataset", "dataset"),
                Col("model", "model"),
                Col("test accuracy (%)", "test_accuracy", percent),
                Col("train accuracy (%)", "train_accuracy", percent),
                Col("training time (s)", "training_time_s", sig),
                Col("training CPU time (s)", "training_cpu_time_s", sig),
                Col("parameters", "parameters", integer),
                Col("epochs", "epochs", integer),
            ],
            rows,
            "Accuracy",
        )
        commands.append(_command("--accuracy"))
    s.commands = [c for c in commands if c] or s.commands
    return s


if __name__ == "__main__":
    main()
