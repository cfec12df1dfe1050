"""Scoring generated digits, shared by demo_digits, fid_vs_time, guidance_grid and flow_nfe.

feature-FID against the test split (with its floor: real training images against the same
split), class accuracy under the digit classifier (with its ceiling: the real test images), and
memorisation: the median distance of a sample to its nearest training image, against the same
median for the real test images; and improved precision and recall (k = 3, classifier
features) with the real data's own (real training images against the split).
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

from .markdown import Col, sig

__all__ = [
    "SCORE_COLUMNS",
    "draw_balanced",
    "reference_set",
    "save_figure",
    "score_line",
    "score_samples",
    "scored",
    "split_images",
    "summarise",
    "to_symmetric",
]


def summarise(values: list[float]) -> dict[str, float]:
    """Mean, sample standard deviation, min and max."""
    return {
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
    }


def to_symmetric(x: Any, value_range: Any) -> Any:
    """Images in ``value_range`` (None: already in [-1, 1]) scaled to [-1, 1]."""
    if value_range is None:
        return x
    low, high = float(value_range[0]), float(value_range[1])
    return (x.float() - low) / (high - low) * 2.0 - 1.0


def split_images(section: dict[str, Any], split: str) -> tuple[Any, Any]:
    """Images in [-1, 1] and labels of one split of an image data section."""
    from core.metrics.evaluate import reference_data

    data = reference_data(section, split)
    return to_symmetric(data.images, getattr(data, "value_range", None)), data.labels


_REFERENCES: dict[str, dict[str, Any]] = {}


def reference_set(data: dict[str, Any], n: int) -> dict[str, Any]:
    """Test/train images of a data section, the scorers and the real-data bounds (cached)."""
    import torch

    import core

    key = json.dumps([data, n], sort_keys=True)
    if key in _REFERENCES:
        return _REFERENCES[key]
    (test_x, test_y), (train_x, _) = split_images(data, "test"), split_images(data, "train")
    fid = core.build("metric", {"type": "feature-fid"})
    accuracy = core.build("metric", {"type": "accuracy"})
    precision_recall = core.build("metric", {"type": "precision-recall"})
    pick = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(0))[:n]
    flat_train = train_x.flatten(1)
    test_nn = torch.cdist(test_x.flatten(1), flat_train).min(1).values
    floor_pr = precision_recall(train_x[pick], test_x)
    _REFERENCES[key] = {
        "test": test_x,
        "test_labels": test_y,
        "train": flat_train,
        "fid": fid,
        "accuracy": accuracy,
        "precision_recall": precision_recall,
        "n": n,
        "fid_floor": fid(train_x[pick], test_x)["feature_fid"],
        "precision_floor": floor_pr["precision"],
        "recall_floor": floor_pr["recall"],
        "accuracy_ceiling": accuracy(test_x, labels=test_y)["accuracy"],
        "test_to_train_median": test_nn.median().item(),
    }
    return _REFERENCES[key]


def draw_balanced(
    model: Any,
    n: int,
    sampler: str | None,
    steps: int | None,
    guidance: float | None,
    interval=None,
) -> tuple[Any, Any]:
    """``(samples in [-1, 1], labels)``: ``n`` samples from seed 0, labels 0..9 in turn when
    the model is class-conditional (else None); ``guidance`` None sets no guidance scale,
    ``interval`` (low, high) overrides the model's guidance interval."""
    import torch

    from core.sampling import draw_samples

    classes = getattr(model, "num_classes", 0) or 0
    labels = torch.arange(n) % classes if classes else None
    extra = {} if interval is None else {"guidance_interval": interval}
    if labels is not None:
        extra["y"] = labels
    if guidance is not None:
        extra["guidance_scale"] = guidance
    samples = draw_samples(model, n, sampler=sampler, steps=steps, seed=0, **extra)
    return to_symmetric(samples, getattr(model, "sample_range", None)).clamp(-1, 1), labels


def score_samples(
    model: Any,
    ref: dict[str, Any],
    sampler: str | None,
    steps: int | None,
    guidance: float | None,
    interval=None,
) -> dict[str, Any]:
    """Draw ``ref["n"]`` samples (seed 0; labels 0..9 in turn when the model is
    class-conditional) and score them four ways (feature-FID, precision and recall, accuracy
    of a conditional model's labels, memorisation).

    ``guidance`` None sets no guidance scale (models without guidance); ``interval`` (low,
    high) overrides the model's guidance interval, None keeps it. ``sample_seconds`` is the
    wall time of drawing them (sampling, not training).
    """
    import torch

    start = time.perf_counter()
    samples, labels = draw_balanced(model, ref["n"], sampler, steps, guidance, interval)
    sample_seconds = time.perf_counter() - start
    nearest = torch.cdist(samples.flatten(1), ref["train"]).min(1).values
    pr = ref["precision_recall"](samples, ref["test"])
    return {
        "sampler": sampler,
        "steps": steps,
        "nfe": getattr(model, "last_nfe", 1),
        "guidance": guidance,
        "guidance_interval": list(
            interval or getattr(model.config, "guidance_interval", None) or ()
        )
        or None,
        "feature_fid": ref["fid"](samples, ref["test"])["feature_fid"],
        "fid_floor": ref["fid_floor"],
        "precision": pr["precision"],
        "precision_floor": ref["precision_floor"],
        "recall": pr["recall"],
        "recall_floor": ref["recall_floor"],
        "accuracy": None if labels is None else ref["accuracy"](samples, labels=labels)["accuracy"],
        "accuracy_ceiling": ref["accuracy_ceiling"],
        "sample_to_train_median": nearest.median().item(),
        "test_to_train_median": ref["test_to_train_median"],
        "sample_seconds": sample_seconds,
    }


def score_line(score: dict[str, Any]) -> str:
    """One scored set as a line: FID with its floor, accuracy with its ceiling, memorisation,
    then precision and recall with the real data's when the set has them."""
    accuracy = ""  # an unconditional model has none
    if score["accuracy"] is not None:
        accuracy = f"accuracy {score['accuracy']:.4f} (ceiling {score['accuracy_ceiling']:.4f}) "
    line = (
        f"feature-FID {score['feature_fid']:.3f} (floor {score['fid_floor']:.3f}) "
        f"{accuracy}nearest-train median {score['sample_to_train_median']:.3f} "
        f"(test {score['test_to_train_median']:.3f})"
    )
    if "precision" not in score:  # a record from before precision and recall were scored
        return line
    return (
        f"{line} precision {score['precision']:.3f} (real {score['precision_floor']:.3f}) "
        f"recall {score['recall']:.3f} (real {score['recall_floor']:.3f})"
    )


def save_figure(fig: Any, axes: Any, out: str) -> None:
    """Grid and legend on each axis, then a PNG without a software tag (same data, same bytes)."""
    from core.atomic import atomic_path

    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(out) as target:
        fig.savefig(target, format="png", dpi=100, metadata={"Software": None})
    print(f"wrote {out}")


def scored(point: dict[str, Any]) -> dict[str, Any]:
    """The three scores of one sample set (``score_samples``), keyed for ``SCORE_COLUMNS``."""
    return {
        "fid": point["feature_fid"],
        "floor": point["fid_floor"],
        "acc": point["accuracy"],
        "memo": point["sample_to_train_median"],
        "test_memo": point["test_to_train_median"],
    }


SCORE_COLUMNS = [
    Col("feature-FID", "fid", sig),
    Col("floor", "floor", sig),
    Col("accuracy", "acc", lambda v: f"{v:.4f}"),
    Col("nearest-train distance, median", "memo", sig),
    Col("same for test images", "test_memo", sig),
]
