"""The example LR schedule: exponential decay of the learning rate, smooth or in steps."""

from __future__ import annotations

from typing import Any

from core import Component

__all__ = ["ExponentialDecay"]


class ExponentialDecay(Component):
    """``schedule(step, total_steps)`` decays the LR multiplier from 1 to ``min_ratio``.

    The LR shrinks by the same factor over every equal stretch of the schedule: smoothly
    (``drops: 0``), or held in ``drops + 1`` equal stages (step decay). ``step`` counts from
    the end of the trainer's warm-up; ``total_steps`` is the length of the schedule.
    """

    kind = "lr-schedule"
    config_section = "lr_schedule"

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        self.config = self.resolve_config(config, **overrides)

    def __call__(self, step: int, total_steps: int) -> float:
        c = self.config
        total = max(1, total_steps)
        done = min(max(0, step), total)
        if c.drops:
            stage = min(done * (c.drops + 1) // total, c.drops)
            return c.min_ratio ** (stage / c.drops)
        return c.min_ratio ** (done / total)
