"""Drawing samples from a generative model (evaluation, ``core sample``, the Trainer's grids)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from core.errors import ConfigError, TrainingError

__all__ = ["RESERVED_OPTIONS", "check_sampler_options", "check_sample_keywords", "draw_samples"]

#: keywords ``core sample``/``core evaluate`` set themselves, and where a user sets each instead.
RESERVED_OPTIONS = {
    "model": None,
    "n": "-n",
    "sampler": "--sampler",
    "steps": "--steps",
    "seed": "--seed",
    "batch_size": None,
    "generator": "--seed",
    "y": "--class",
    "guidance_scale": "--guidance",
}


def check_sampler_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """``options`` as a dict, refusing a key the commands set themselves (``steps``, ``y``...)."""
    options = dict(options or {})
    for key in options:
        if key in RESERVED_OPTIONS:
            instead = RESERVED_OPTIONS[key]
            hint = f"; use {instead}" if instead else ""
            raise ConfigError(
                f"--sampler-option {key}: '{key}' is set by the command itself, not a sampler "
                f"option{hint}"
            )
    return options


def check_sample_keywords(model: Any, keywords: Mapping[str, Any]) -> None:
    """Refuse a ``guidance_scale`` that is not a finite number >= 0, and class labels ``y``
    outside the model's classes (its null class included) when the model declares
    ``num_classes``."""
    if "generator" in keywords:
        raise ConfigError("draw_samples: give seed=, not generator= (it seeds its own generator)")
    scale = keywords.get("guidance_scale")
    if scale is not None and (
        isinstance(scale, bool)
        or not isinstance(scale, (int, float))
        or not math.isfinite(scale)
        or scale < 0
    ):
        raise ConfigError(f"guidance scale must be a finite number >= 0, got {scale!r}")
    labels = keywords.get("y")
    classes = getattr(model, "num_classes", None)
    if labels is None or isinstance(classes, bool) or not isinstance(classes, int):
        return
    name = getattr(model, "model_type", None) or type(model).__name__
    if classes <= 0:
        raise ConfigError(f"class labels given, but {name} is not class-conditional")
    values = torch.as_tensor(labels)
    if values.is_floating_point() or values.is_complex() or values.numel() == 0:
        return  # the model says what it expects of such labels
    low, high = int(values.min()), int(values.max())
    bad = high if high >= classes else low
    if low < 0 or high >= classes:
        role = " (its null class, the unconditional prediction)" if bad == classes else ""
        raise ConfigError(
            f"class {bad}{role} is not a class of {name}: it has classes 0 to {classes - 1}"
        )


@torch.no_grad()
def draw_samples(
    model: torch.nn.Module,
    n: int,
    *,
    sampler: str | None = None,
    steps: int | None = None,
    batch_size: int = 256,
    seed: int | None = 0,
    **kwargs: Any,
) -> torch.Tensor:
    """``n`` samples from ``model.sample`` in chunks, in eval mode, with a forked RNG.

    ``kwargs`` go to ``model.sample``; ``check_sample_keywords`` checks them first.
    """
    if not hasattr(model, "sample"):
        raise TrainingError(f"{type(model).__name__} has no sample(n, ...) method")
    check_sample_keywords(model, kwargs)
    extra = dict(kwargs)
    if sampler is not None:
        extra["sampler"] = sampler
    if steps is not None:
        extra["steps"] = steps
    was_training = model.training
    model.eval()
    devices = [model.device] if hasattr(model, "device") else []
    chunks = []
    try:
        with torch.random.fork_rng(devices=[d for d in devices if d.type == "cuda"]):
            if seed is not None:
                torch.manual_seed(seed)
            done = 0
            while done < n:
                count = min(batch_size, n - done)
                per_sample = {  # per-sample tensors (labels y, cond) are cut to the chunk
                    k: v[done : done + count]
                    for k, v in extra.items()
                    if isinstance(v, torch.Tensor) and v.ndim > 0 and len(v) == n
                }
                chunk = model.sample(count, **{**extra, **per_sample})
                chunks.append(chunk.detach().float().cpu())
                done += count
    finally:
        model.train(was_training)
    return torch.cat(chunks)
