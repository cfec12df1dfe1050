"""The base class of loggers (torch-free)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.component import Component

__all__ = ["Logger"]


class Logger(Component):
    """A tracker a run logs to. The trainer calls it on rank 0 only.

    ``open`` runs before the first step and must fail there (a missing package, an
    unreachable server) rather than later; ``resume_step > 0`` continues an existing run.
    """

    kind = "logger"
    config_section = "logger"

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        self.config = self.resolve_config(config, **overrides)

    def open(self, run_dir: Path, config: Mapping[str, Any], *, resume_step: int = 0) -> None:
        """Start logging the run in ``run_dir``; ``config`` is the resolved run config."""

    def log_scalars(self, values: Mapping[str, float], step: int) -> None:
        """Record scalars (loss, LR, throughput, grad norm, evaluation metrics) at ``step``."""
        raise NotImplementedError

    def log_image(self, tag: str, path: Path, step: int) -> None:
        """Record an image file (a sample grid) at ``step``; loggers without images skip it."""

    def close(self) -> None:
        """Flush and release everything ``open`` acquired."""
