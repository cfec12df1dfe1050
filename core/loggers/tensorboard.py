"""``tensorboard``: event files read by TensorBoard (torch is imported in ``open`` only).

Hyperparameters go two ways: the flattened run config (``train.lr``) to the HParams
dashboard, to compare runs, and the whole config as YAML to the Text dashboard (tag
``config``). Scalars keep their names; images are PNG files read with Pillow.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from core.errors import TrainingError
from core.loggers.base import Logger, inside_run
from core.loggers.configs import TensorBoardLoggerConfig
from core.loggers.params import flatten_config, plain_config

__all__ = ["TensorBoardLogger"]

MISSING_PACKAGE = (
    "the tensorboard logger needs the package 'tensorboard': pip install 'core[tensorboard]'"
)


class TensorBoardLogger(Logger):
    """Writes to ``<run dir>/tensorboard``; a resumed run hides the events after its checkpoint."""

    config_class = TensorBoardLoggerConfig

    def run_paths(self) -> list[str]:
        """``log_dir`` when it lies in the run directory (an absolute one is used as given)."""
        return inside_run(self.config.log_dir)

    def open(self, run_dir: Path, config: Mapping[str, Any], *, resume_step: int = 0) -> None:
        try:
            import tensorboard  # noqa: F401  (torch.utils.tensorboard may be cached without it)
            from torch.utils.tensorboard import SummaryWriter
            from torch.utils.tensorboard.summary import hparams
        except ImportError:
            raise TrainingError(MISSING_PACKAGE) from None
        self.log_dir = Path(run_dir) / self.config.log_dir
        self.writer = SummaryWriter(
            str(self.log_dir),
            purge_step=resume_step + 1 if resume_step else None,
            flush_secs=self.config.flush_secs,
        )
        config = plain_config(config)
        params = {key: _hparam(value) for key, value in flatten_config(config).items()}
        metrics = dict.fromkeys(self.config.hparam_metrics, 0.0)
        experiment, session_start, _ = hparams(params, metrics)
        self.writer.file_writer.add_summary(experiment, resume_step)
        self.writer.file_writer.add_summary(session_start, resume_step)
        text = yaml.safe_dump(config, sort_keys=False, default_flow_style=None)
        self.writer.add_text("config", f"```yaml\n{text}```", resume_step)

    def append_to(self, run_dir: Path, config: Mapping[str, Any], step: int) -> None:
        """A new event file beside the run's: nothing is purged (the config is logged again)."""
        self.open(run_dir, config)

    def log_scalars(self, values: Mapping[str, float], step: int) -> None:
        for tag, value in values.items():
            self.writer.add_scalar(tag, float(value), step)

    def log_image(self, tag: str, path: Path, step: int) -> None:
        import numpy as np
        from PIL import Image

        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"))
        self.writer.add_image(tag, pixels, step, dataformats="HWC")

    def close(self) -> None:
        writer = getattr(self, "writer", None)
        if writer is not None:
            writer.flush()
            writer.close()
            self.writer = None


def _hparam(value: Any) -> Any:
    """HParams take numbers and text; booleans read better as text than as 0/1."""
    if isinstance(value, bool):
        return str(value).lower()
    return "null" if value is None else value
