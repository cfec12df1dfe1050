"""Learning-rate schedule: linear warm-up, then cosine decay or constant (a pure function)."""

from __future__ import annotations

import math

__all__ = ["lr_factor"]


def lr_factor(
    step: int, total_steps: int, warmup_steps: int, schedule: str, min_ratio: float = 0.0
) -> float:
    """Multiplier of the peak LR for optimizer step ``step`` (0-based) of ``total_steps``."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))
