"""The base class of loggers (torch-free)."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.component import Component
from core.errors import TrainingError

__all__ = ["Logger", "inside_run"]


class Logger(Component):
    """A tracker a run logs to. The trainer calls it on rank 0 only.

    ``open`` runs before the first step and must fail there (a missing package, an
    unreachable server) rather than later; ``resume_step > 0`` continues an existing run from
    that step (what was logged after it may be dropped: the run logs those steps again).
    ``append_to`` opens it instead to add to a finished run's logs (``core evaluate --log``).
    """

    kind = "logger"
    config_section = "logger"

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        self.config = self.resolve_config(config, **overrides)

    def open(self, run_dir: Path, config: Mapping[str, Any], *, resume_step: int = 0) -> None:
        """Start logging the run in ``run_dir``; ``config`` is the resolved run config."""

    def append_to(self, run_dir: Path, config: Mapping[str, Any], step: int) -> None:
        """Open to add to a finished run's logs at ``step``, dropping and rewriting nothing.

        A logger that can do so overrides this; the base class refuses (``core evaluate
        --log`` then stops with one line; without ``--log`` no logger is opened).
        """
        raise TrainingError(
            f"{type(self).__name__} cannot add to a finished run's logs (it defines no "
            "append_to()); evaluate without --log"
        )

    def run_paths(self) -> list[str]:
        """Files and folders this logger writes inside the run directory, relative to it.

        Checked when a run config is validated: none may be a file the run owns (its
        ``config.yaml``, ``checkpoints/``, ``final/``...) or another logger's.
        """
        return []

    def log_scalars(self, values: Mapping[str, float], step: int) -> None:
        """Record scalars (loss, LR, throughput, grad norm, evaluation metrics) at ``step``."""
        raise NotImplementedError

    def log_image(self, tag: str, path: Path, step: int) -> None:
        """Record an image file (a sample grid) at ``step``; loggers without images skip it."""

    def close(self) -> None:
        """Flush and release everything ``open`` acquired."""


def inside_run(*paths: str) -> list[str]:
    """Those of ``paths`` a run check must see: absolute ones (placed once the run directory is
    known) and relative ones that do not leave the run directory by ``..``."""
    kept = []
    for path in paths:
        norm = posixpath.normpath(path)
        if os.path.isabs(path) or not (norm == ".." or norm.startswith("../")):
            kept.append(path)
    return kept
