"""Drawing samples from a generative model (evaluation, ``core sample``, the Trainer's grids)."""

from __future__ import annotations

from typing import Any

import torch

from core.errors import TrainingError

__all__ = ["draw_samples"]


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
    """``n`` samples from ``model.sample`` in chunks, in eval mode, with a forked RNG."""
    if not hasattr(model, "sample"):
        raise TrainingError(f"{type(model).__name__} has no sample(n, ...) method")
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
