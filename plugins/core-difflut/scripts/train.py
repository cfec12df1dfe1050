"""Train a DiffLUT preset on bundled data and (optionally) ship it as a pretrained model.

    python plugins/core-difflut/scripts/train.py --preset digits-dwn
    python plugins/core-difflut/scripts/train.py --preset mnist5k-dwn --install
    python plugins/core-difflut/scripts/train.py --preset digits-dwn --node-type probabilistic

Training reads the training split less its validation split (``load_dataset(...,
validation=True)``). ``--install`` writes ``core_difflut/pretrained/<name>/<name>.{yaml,
safetensors}`` (the directory the plugin registers through ``register_pretrained``) with the
measured validation and test accuracy, the preset's selection rule, parameter count, training
time and date in the YAML ``meta`` (and the model card written from it); ``--synth`` adds the
LUT counts of ``core difflut synth`` (``luts``: generic LUT6 per part, total with and without
the encoder; ``luts_xc7``: the same by ``synth_xilinx``; ``popcount``: the popcount form). ``--save NAME``
saves to the user's versioned store instead (v1, v2, ...). Uses its own loop
(``core_difflut.training``), one torch thread by default.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import torch
from core_difflut.configs import ModelConfig
from core_difflut.conv_configs import ConvModelConfig
from core_difflut.data import VALIDATION_SEED, VALIDATION_SHARE, load_dataset
from core_difflut.training import PRESETS, TrainSettings, evaluate, offset_seed, train_classifier

PRETRAINED = Path(__file__).resolve().parents[1] / "core_difflut" / "pretrained"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), required=True)
    parser.add_argument("--node-type", default=None, help="override the preset's node type")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--install", action="store_true", help="ship into the plugin package")
    parser.add_argument("--save", default=None, help="save to the versioned store as NAME")
    parser.add_argument(
        "--synth", action="store_true", help="record LUTs from yosys (core difflut synth) in meta"
    )
    parser.add_argument(
        "--trained",
        default=None,
        help="a model benchmarks/difflut_pareto.py --keep saved from this preset and seed: "
        "scored and shipped instead of training it again",
    )
    args = parser.parse_args()

    preset = PRESETS[args.preset]
    config = dict(preset["config"])
    name = args.preset
    if args.node_type:
        config["node_type"] = args.node_type
        if args.node_type == "difflogic":
            config["node_input_dim"] = 2
        name = f"{preset['dataset'].replace('-', '')}-{args.node_type}"
    train = dict(preset["train"])
    if args.epochs:
        train["epochs"] = args.epochs
    data = load_dataset(preset["dataset"], seed=0, validation=True)
    settings = TrainSettings(**train, threads=args.threads, seed=args.seed)
    schema = ConvModelConfig if config.get("model_type") == "conv-feedforward" else ModelConfig
    if args.trained:
        model, stats = load_trained(Path(args.trained), schema(**config), data, args.seed)
    else:
        model, stats = train_classifier(schema(**config), data, settings)
    meta = {
        "dataset": preset["dataset"],
        "split": f"stratified, seed 0: {len(data['y_train']):,} train / "
        f"{len(data['y_val']):,} validation / {len(data['y_test']):,} test (validation: "
        f"{VALIDATION_SHARE:.0%} of each class of the training split, seed {VALIDATION_SEED})",
        "validation_accuracy": round(stats["validation_accuracy"], 4),
        "test_accuracy": round(stats["test_accuracy"], 4),
        "train_accuracy": round(stats["train_accuracy"], 4),
        "parameters": stats["parameters"],
        "training_time_s": stats["training_time_s"],
        "training_cpu_time_s": stats["training_cpu_time_s"],
        "torch_threads": args.threads,
        "epochs": train["epochs"],
        "date": time.strftime("%Y-%m-%d"),
        "command": "python plugins/core-difflut/scripts/train.py "
        + " ".join(shlex.quote(a) for a in _argv_without_trained(sys.argv[1:])),
        **(
            {"trained_by": "benchmarks/difflut_pareto.py --keep: the same training run, saved"}
            if args.trained
            else {}
        ),
        "evaluation": "eval mode, deterministic truth tables (bit-exact with the exports)",
        **({"selection": preset["selection"]} if "selection" in preset else {}),
    }
    if args.synth:
        meta.update(synthesis_meta(model.eval(), name))
    print(json.dumps(meta, indent=2))
    model.config = model.config.model_copy(update={"pretrained": True, "pretrained_name": name})
    if args.install:
        target = PRETRAINED / name
        model.save_pretrained(target, name=name, meta=meta)
        print(f"installed {target}")
    if args.save:
        info = model.save_to_pretrained(args.save, meta=meta)
        print(f"saved {info.reference} at {info.path}")


def _argv_without_trained(argv: list[str]) -> list[str]:
    """``argv`` less ``--trained DIR``: the command that trains the same model."""
    out, skip = [], False
    for arg in argv:
        if skip or arg.startswith("--trained="):
            skip = False
            continue
        skip = arg == "--trained"
        if not skip:
            out.append(arg)
    return out


def load_trained(
    directory: Path, config: Any, data: dict[str, Any], seed: int
) -> tuple[Any, dict[str, Any]]:
    """The model saved in ``directory`` and its stats, scored again here; refused unless it is
    this preset at this seed (same config, seed 42 + s)."""
    from core.errors import ConfigError
    from core.loading import load_model

    model = load_model(directory)
    want = offset_seed(config, seed).model_dump(
        exclude={"runtime", "pretrained", "pretrained_name"}
    )
    have = model.config.model_dump(exclude={"runtime", "pretrained", "pretrained_name"})
    if have != want or model.config.runtime.tau != config.runtime.tau:
        raise ConfigError(f"--trained {directory}: not this preset at seed {seed}")
    kept = get_meta(directory)["benchmark"]
    stats = {
        **kept,
        "validation_accuracy": evaluate(model, data["x_val"], data["y_val"]),
        "test_accuracy": evaluate(model, data["x_test"], data["y_test"]),
        "train_accuracy": evaluate(model, data["x_train"], data["y_train"]),
    }
    if abs(stats["validation_accuracy"] - kept["validation_accuracy"]) > 1e-9:
        raise ConfigError(f"--trained {directory}: scores differ from when it was saved")
    return model, stats


def get_meta(directory: Path) -> dict[str, Any]:
    """The ``meta`` of the one pretrained YAML in ``directory``."""
    from core._store_files import read_pretrained_yaml

    (path,) = directory.glob("*.yaml")
    return read_pretrained_yaml(path)["meta"]


def synthesis_meta(model: Any, name: str) -> dict[str, Any]:
    """``luts`` (generic LUT6) and ``luts_xc7`` (``synth_xilinx``) per part, with and without
    the encoder; the popcount form and how it was counted."""
    from core_difflut.export import verilog_options
    from core_difflut.export.synth import synthesize_model

    options = verilog_options(model, lut_style="xilinx")
    report = synthesize_model(model, options, xilinx=True)
    integer = options.integer
    version = report.yosys.split("(")[0].replace("Yosys", "yosys").strip()
    parts = ("encoder", "network", "popcount", "total")
    luts = {part: report.luts[part] for part in parts}
    luts["total_without_encoder"] = luts["total"] - luts["encoder"]
    xc7 = {part: report.xilinx[part]["luts"] for part in (*parts, "total_without_encoder")}
    xc7 |= {"carry4": report.xilinx["total"]["carry4"], "muxf": report.xilinx["total"]["muxf"]}
    return {
        "luts": luts,
        "luts_xc7": xc7,
        "popcount": report.popcount,
        "synthesis": f"core difflut synth {name}: {version}; luts: synth -lut 6 (generic LUT6), "
        "luts_xc7: synth_xilinx -family xc7 (LUT1-6, out of context; carry4 and muxf beside); "
        f"integer inputs ({integer.bits} bits, q / {integer.scale:g}), combinational, "
        f"{report.popcount} popcount; logic depth {report.depth['total']} LUTs",
    }


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
