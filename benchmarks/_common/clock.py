"""The one training clock: core's Trainer's own.

``fit()`` returns ``summary["seconds"]``, the training time every benchmark reports. The same
clock stamps each logged step (``time`` in the trainer's history and in a run's
``metrics.jsonl``), which gives the seconds per step of each logged window.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Trained", "logged_seconds", "seconds_per_step", "train"]


@dataclass
class Trained:
    """A finished training run as the Trainer timed it."""

    seconds: float  # fit()'s summary["seconds"]
    marks: dict[int, float]  # logged step -> the same clock at that step
    summary: dict[str, Any]
    model: Any


def train(config: Any, **kwargs: Any) -> Trained:
    """Train with core's Trainer (``Trainer(config, **kwargs).fit()``) and read its clock."""
    from core.training import Trainer

    trainer = Trainer(config, **kwargs)
    summary = trainer.fit()
    marks = {r["step"]: r["time"] for r in trainer.history if "time" in r}
    return Trained(float(summary["seconds"]), marks, summary, trainer.model)


def logged_seconds(run_dir: str | Path) -> dict[int, float]:
    """The trainer's clock at each logged step of a run trained earlier (its ``metrics.jsonl``)."""
    marks = {}
    for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if "time" in record:
            marks[record["step"]] = record["time"]
    return marks


def seconds_per_step(marks: dict[int, float], skip: int = 1) -> list[float]:
    """Seconds per step of each logged window from step 0, the first ``skip`` left out (warm-up)."""
    points = [(0, 0.0), *sorted(marks.items())]
    windows = [(t1 - t0) / (s1 - s0) for (s0, t0), (s1, t1) in zip(points, points[1:])]
    return windows[skip:]
