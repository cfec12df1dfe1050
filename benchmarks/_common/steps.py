"""A model's bare training step (compute_loss, backward, AdamW) and its timing, outside the Trainer."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

__all__ = ["step_fn", "time_steps"]


def step_fn(model: Any, batch: Any, lr: float = 2e-3) -> Callable[[], None]:
    """One training step of ``model`` on ``batch`` per call, with its own AdamW."""
    import torch

    opt = torch.optim.AdamW(model.parameters(), lr=lr)

    def step() -> None:
        loss = model.compute_loss(batch)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def time_steps(step: Callable[[], None], steps: int) -> float:
    """Seconds per call of ``step``, the mean over ``steps`` calls."""
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps
