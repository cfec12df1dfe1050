"""Learning-rate schedules (the ``lr-schedule`` kind) and the trainer's warm-up (torch-free).

A schedule gives the multiplier of the peak LR for a step counted after warm-up;
``lr_factor`` adds the trainer's linear warm-up in front of it.
"""

from __future__ import annotations

import math
from typing import Any

from core.building import build, get_entry
from core.component import Component
from core.errors import ConfigError
from core.training.configs import CosineLRConfig, LinearLRConfig, TrainConfig

__all__ = ["LRSchedule", "ConstantLR", "CosineLR", "LinearLR", "lr_factor", "build_lr_schedule"]


class LRSchedule(Component):
    """Base of the LR schedules: ``schedule(step, total_steps) -> multiplier``."""

    kind = "lr-schedule"
    config_section = "lr_schedule"

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        self.config = self.resolve_config(config, **overrides)

    def __call__(self, step: int, total_steps: int) -> float:
        raise NotImplementedError

    @staticmethod
    def progress(step: int, total_steps: int) -> float:
        """Fraction of the schedule done, clamped to [0, 1]."""
        return min(1.0, max(0, step) / max(1, total_steps))


class ConstantLR(LRSchedule):
    """The peak LR throughout."""

    def __call__(self, step: int, total_steps: int) -> float:
        return 1.0


class CosineLR(LRSchedule):
    """Half a cosine from the peak down to ``min_ratio`` of it."""

    config_class = CosineLRConfig

    def __call__(self, step: int, total_steps: int) -> float:
        low = self.config.min_ratio
        return low + (1.0 - low) * 0.5 * (
            1.0 + math.cos(math.pi * self.progress(step, total_steps))
        )


class LinearLR(LRSchedule):
    """A straight line from the peak down to ``min_ratio`` of it."""

    config_class = LinearLRConfig

    def __call__(self, step: int, total_steps: int) -> float:
        low = self.config.min_ratio
        return low + (1.0 - low) * (1.0 - self.progress(step, total_steps))


def lr_factor(step: int, total_steps: int, warmup_steps: int, schedule: Any) -> float:
    """Multiplier of the peak LR at optimizer step ``step`` (0-based): warm-up, then schedule."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    return float(schedule(step - warmup_steps, max(1, total_steps - warmup_steps)))


def build_lr_schedule(train: TrainConfig, source: str | None = None) -> Any:
    """The schedule ``train.lr_schedule`` names, with ``train.min_lr_ratio`` filled in."""

    section = (
        {"type": train.lr_schedule}
        if isinstance(train.lr_schedule, str)
        else dict(train.lr_schedule)
    )
    if train.min_lr_ratio is not None and isinstance(section.get("type"), str):
        schema = get_entry("lr-schedule", section["type"]).load_config()
        if schema is None or "min_ratio" not in schema.model_fields:
            prefix = f"{source}: " if source else ""
            raise ConfigError(
                f"{prefix}train.min_lr_ratio: lr-schedule '{section['type']}' has no min_ratio; "
                "drop train.min_lr_ratio or pick a decaying schedule (cosine, linear)"
            )
        section.setdefault("min_ratio", train.min_lr_ratio)
    return build("lr-schedule", section, where="train.lr_schedule", source=source)
