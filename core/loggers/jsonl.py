"""``jsonl``: one JSON object per logged step, appended to ``metrics.jsonl`` (torch-free)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.atomic import append_text, atomic_write_text
from core.loggers.base import Logger
from core.loggers.configs import JSONLLoggerConfig

__all__ = ["JSONLLogger"]


class JSONLLogger(Logger):
    """Appends ``{"step": N, ...}`` lines; on resume, drops the lines after the checkpoint."""

    config_class = JSONLLoggerConfig

    def open(self, run_dir: Path, config: Mapping[str, Any], *, resume_step: int = 0) -> None:
        self.path = Path(run_dir) / self.config.filename
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume_step and self.path.is_file():
            kept = [
                line
                for line in self.path.read_text(encoding="utf-8").splitlines()
                if _step(line) <= resume_step
            ]
            atomic_write_text(self.path, "".join(line + "\n" for line in kept))
        append_text(self.path, "")

    def run_paths(self) -> list[str]:
        return [self.config.filename]

    def append_to(self, run_dir: Path, config: Mapping[str, Any], step: int) -> None:
        """Append to the file as it is: no line is dropped."""
        self.open(run_dir, config)

    def log_scalars(self, values: Mapping[str, float], step: int) -> None:
        append_text(self.path, json.dumps({"step": step, **values}) + "\n")


def _step(line: str) -> int:
    with contextlib.suppress(ValueError, AttributeError, TypeError):
        return int(json.loads(line).get("step", 0))
    return 0
