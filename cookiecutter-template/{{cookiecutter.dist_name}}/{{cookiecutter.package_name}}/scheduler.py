"""The example scheduler: a linear warm-up of a weight (a KL weight, a learning-rate factor)."""

from __future__ import annotations

from typing import Any

from core import Component

from {{ cookiecutter.package_name }}.configs import LinearWarmupConfig

__all__ = ["LinearWarmup"]


class LinearWarmup(Component):
    """``schedule(step)`` ramps from ``start`` to ``end`` over ``warmup_steps``, then stays."""

    kind = "scheduler"
    config_section = "scheduler"
    config_class = LinearWarmupConfig

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        self.config = self.resolve_config(config, **overrides)

    def __call__(self, step: int) -> float:
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}")
        c = self.config
        fraction = min(step / c.warmup_steps, 1.0)
        return c.start + (c.end - c.start) * fraction

    def values(self, steps: int) -> list[float]:
        """The schedule at steps 0 .. steps - 1."""
        return [self(step) for step in range(steps)]
