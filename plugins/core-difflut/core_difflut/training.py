"""A small training loop for DiffLUT classifiers (used by the training script and benchmarks).

It does not depend on core's Trainer: Adam, a step or cosine learning-rate schedule,
optional one-pixel-shift augmentation for images, and the evaluation-mode (truth-table)
accuracy on the held-out splits: validation (``x_val``/``y_val``, when the data has it: after
every epoch and at the end; what selection reads) and test.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from core_difflut.api import build_model
from core_difflut.configs import ModelConfig

__all__ = [
    "PRESETS",
    "TrainSettings",
    "train_classifier",
    "evaluate",
    "shift_augment",
    "offset_seed",
]

#: the recipes behind the shipped pretrained models (``scripts/train.py --preset NAME``)
PRESETS: dict[str, dict[str, Any]] = {
    # benchmarks/difflut_pareto.py round 3, chosen on validation: no candidate reached 97.5%
    # within 2,000 LUTs, so the best mean validation accuracy within the cap (seeds 0-2)
    "digits-dwn": {
        "dataset": "digits",
        "config": {
            "input_size": 64,
            "dataset": "digits",
            "node_type": "dwn",
            "node_input_dim": 6,
            # a learnable last layer of 200 nodes reads at most 1,200 first-layer nodes;
            # the export prunes the rest
            "layer_type": ["learnable", "learnable"],
            "mapping_candidates": 64,
            "layer_widths": [800, 200],
            # 4 evenly spaced thresholds per pixel: each is one 5-bit comparator (one LUT)
            "encoder_config": {"name": "thermometer", "num_bits": 4},
            "runtime": {"tau": 2.0},
        },
        "train": {"epochs": 20, "batch_size": 32, "lr": 0.01},
        "selection": "benchmarks/difflut_pareto.py round 3 (candidate digits-dwn-800-200-ll): "
        "the fewest generic LUTs whose mean validation accuracy over seeds 0-2 meets 97.5% "
        "within 2,000 LUTs, else the best mean validation accuracy within the cap (this one: "
        "none met 97.5%); read on validation only; seed 0 is shipped, seeds are not picked; "
        "seeds 0-2: validation 96.3% mean (95.8-96.8%), test 94.2% mean (93.3-95.3%)",
    },
    # the smaller recipe the per-node-type comparison uses (benchmarks/difflut.py)
    "digits-compare": {
        "dataset": "digits",
        "config": {
            "node_type": "dwn",
            "layer_type": "learnable",
            "layer_widths": [2000],
            "input_size": 64,
            "dataset": "digits",
            "encoder_config": {"name": "distributive-thermometer", "num_bits": 8},
            "runtime": {"tau": 10.0},
        },
        "train": {"epochs": 12, "batch_size": 32, "lr": 0.01},
    },
    # benchmarks/difflut_pareto.py round 3: the one mnist-5k candidate under 4,000 LUTs (round
    # 2's 3,000 + 1,000 recipe is 5,409); one bit per pixel at half the range is the pixel's
    # top bit, so the encoder costs no LUT
    "mnist5k-dwn": {
        "dataset": "mnist-5k",
        "config": {
            "input_size": 784,
            "dataset": "mnist-5k",
            "node_type": "dwn",
            "node_input_dim": 6,
            "layer_type": ["learnable", "learnable"],
            "mapping_candidates": 32,
            "layer_widths": [3000, 400],
            "encoder_config": {"name": "thermometer", "num_bits": 1, "feature_wise": False},
            "runtime": {"tau": 3.0},
        },
        "train": {
            "epochs": 30,
            "batch_size": 64,
            "lr": 0.01,
            "augment_shift": 1,
            "image_side": 28,
        },
        "selection": "benchmarks/difflut_pareto.py round 3 (candidate mnist5k-dwn-3000-400-ll): "
        "the only mnist-5k candidate within 4,000 LUTs, measured on seed 0 alone (seeds 1-2 "
        "not run for lack of CPU time, so the three-seed rule was not applied); validation "
        "accuracy (seed 0: 94.2%) was the only score read before shipping; seed 0 is shipped",
    },
    # conv-feedforward on digits: 32 shared 3x3 LUT nodes over 4 thermometer bit channels
    "digits-conv": {
        "dataset": "digits",
        "config": {
            "model_type": "conv-feedforward",
            "node_type": "dwn",
            "image_shape": [1, 8, 8],
            "encoder_config": {"name": "thermometer", "num_bits": 4},
            "conv_layers": [{"out_channels": 32, "kernel_size": 3, "padding": 1}],
            "layer_type": "learnable",
            "mapping_candidates": 64,
            "layer_widths": [2000],
            "dataset": "digits",
            "runtime": {"tau": 10.0},
        },
        "train": {"epochs": 8, "batch_size": 32, "lr": 0.01},
    },
}


@dataclass
class TrainSettings:
    """Optimisation settings."""

    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-2
    weight_decay: float = 0.0
    schedule: str = "cosine"  # cosine | step
    step_size: int = 14
    augment_shift: int = 0  # pixels of random shift (images only)
    image_side: int = 0
    seed: int = 0
    threads: int | None = None
    log: bool = True
    history: list[dict[str, float]] = field(default_factory=list)


def shift_augment(x: torch.Tensor, side: int, shift: int, gen: torch.Generator) -> torch.Tensor:
    """Shift each (side x side) image by up to ``shift`` pixels (zero padding)."""
    b = x.shape[0]
    img = x.view(b, 1, side, side)
    padded = F.pad(img, (shift, shift, shift, shift))
    dx = torch.randint(0, 2 * shift + 1, (b,), generator=gen)
    dy = torch.randint(0, 2 * shift + 1, (b,), generator=gen)
    rows = (
        (dy.view(b, 1) + torch.arange(side))
        .view(b, 1, side, 1)
        .expand(b, 1, side, side + 2 * shift)
    )
    out = padded.gather(2, rows)
    cols = (dx.view(b, 1) + torch.arange(side)).view(b, 1, 1, side).expand(b, 1, side, side)
    return out.gather(3, cols).reshape(b, -1)


@torch.no_grad()
def evaluate(model: Any, x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor) -> float:
    """Evaluation-mode accuracy."""
    was_training = model.training
    model.eval()
    pred = model.predict(torch.as_tensor(x))
    model.train(was_training)
    return float((pred == torch.as_tensor(y)).float().mean())


def offset_seed(config: Any, seed: int) -> Any:
    """``config`` with ``seed`` added to its model seed (a config object or a dict)."""
    if not seed:
        return config
    if isinstance(config, dict):
        base = config.get("seed", ModelConfig.model_fields["seed"].default)
        return {**config, "seed": base + seed}
    if hasattr(config, "model_copy"):
        return config.model_copy(update={"seed": config.seed + seed})
    return config


def train_classifier(
    config: Any, data: dict[str, np.ndarray], settings: TrainSettings | None = None
) -> tuple[Any, dict[str, Any]]:
    """Build from ``config``, fit the encoder, train; returns (model, stats).

    ``settings.seed`` sets the batch order and is added to the config's ``seed`` (the
    initialisation and wiring), so seed 0 builds exactly the configured model.
    """
    s = settings or TrainSettings()
    if s.threads:
        torch.set_num_threads(s.threads)
    torch.manual_seed(s.seed)
    gen = torch.Generator().manual_seed(s.seed)
    model = build_model(offset_seed(config, s.seed))
    x_train = torch.as_tensor(data["x_train"])
    y_train = torch.as_tensor(data["y_train"])
    model.fit_encoder(x_train)
    opt = torch.optim.Adam(model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
    steps_per_epoch = math.ceil(len(x_train) / s.batch_size)
    if s.schedule == "step":
        sched = torch.optim.lr_scheduler.StepLR(opt, s.step_size * steps_per_epoch, 0.1)
    else:
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, s.epochs * steps_per_epoch)
    start = time.perf_counter()
    cpu_start = time.process_time()
    model.train()
    progress = getattr(model, "on_train_progress", None)  # e.g. a wiring temperature schedule
    total_steps, step = s.epochs * steps_per_epoch, 0
    for epoch in range(s.epochs):
        perm = torch.randperm(len(x_train), generator=gen)
        total, correct, count = 0.0, 0, 0
        for i in range(0, len(perm), s.batch_size):
            if progress is not None:
                progress(step, total_steps)
            step += 1
            idx = perm[i : i + s.batch_size]
            xb, yb = x_train[idx], y_train[idx]
            if s.augment_shift and s.image_side:
                xb = shift_augment(xb, s.image_side, s.augment_shift, gen)
            out = model.compute_loss((xb, yb))
            opt.zero_grad(set_to_none=True)
            out["loss"].backward()
            opt.step()
            sched.step()
            total += float(out["loss"].detach()) * len(idx)
            correct += int(round(float(out["accuracy"]) * len(idx)))
            count += len(idx)
        row = {"epoch": epoch + 1, "loss": total / count, "train_accuracy": correct / count}
        if "x_val" in data:
            row["val_accuracy"] = evaluate(model, data["x_val"], data["y_val"])
        row["elapsed_s"] = time.perf_counter() - start
        s.history.append(row)
        if s.log:
            val = f"  val acc {row['val_accuracy']:.4f}" if "val_accuracy" in row else ""
            print(
                f"epoch {epoch + 1:3d}  loss {row['loss']:.4f}  train acc {row['train_accuracy']:.4f}"
                f"{val}  {row['elapsed_s']:.0f}s",
                flush=True,
            )
    train_time = time.perf_counter() - start
    cpu_time = time.process_time() - cpu_start
    model.eval()
    stats = {
        "test_accuracy": evaluate(model, data["x_test"], data["y_test"]),
        **(
            {"validation_accuracy": evaluate(model, data["x_val"], data["y_val"])}
            if "x_val" in data
            else {}
        ),
        "train_accuracy": evaluate(model, data["x_train"], data["y_train"]),
        "training_time_s": round(train_time, 1),
        "training_cpu_time_s": round(cpu_time, 1),
        "parameters": model.count_parameters(),
        "epochs": s.epochs,
    }
    return model, stats
