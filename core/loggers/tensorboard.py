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
        """``log_dir``, unless ``..`` leads it out of the run directory."""
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
        self._guard = _guard_writer_thread(self.writer)
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
        self._check_writes()
        for tag, value in values.items():
            self.writer.add_scalar(tag, float(value), step)

    def log_image(self, tag: str, path: Path, step: int) -> None:
        import numpy as np
        from PIL import Image

        self._check_writes()
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"))
        self.writer.add_image(tag, pixels, step, dataformats="HWC")

    def close(self) -> None:
        writer = getattr(self, "writer", None)
        if writer is not None:
            self.writer = None
            writer.flush()
            writer.close()
            self._raise_failure()

    def _check_writes(self) -> None:
        """A write the writer thread could not make stops this logger (the trainer warns once)."""
        guard = getattr(self, "_guard", None)
        if guard is not None and guard.error is not None:
            self.close()  # stops the writer thread, then raises the failure
            self._raise_failure()  # closed already

    def _raise_failure(self) -> None:
        guard = getattr(self, "_guard", None)
        if guard is not None and guard.error is not None:
            error = guard.error
            detail = error.strerror if isinstance(error, OSError) and error.strerror else error
            raise TrainingError(f"cannot write its events to {self.log_dir}: {detail}") from error


class _GuardedRecords:
    """The event file's record writer, as the writer thread sees it: the first failure is
    kept (read by the logger in the main thread) and every later write is dropped, so the
    thread never dies printing a traceback."""

    def __init__(self, records: Any) -> None:
        self.records = records
        self.error: BaseException | None = None

    def _call(self, method: str, *args: Any) -> None:
        if self.error is None:
            try:
                getattr(self.records, method)(*args)
            except Exception as exc:  # noqa: BLE001 - any failure of the folder or the disk
                self.error = exc

    def write(self, data: bytes) -> None:
        self._call("write", data)

    def flush(self) -> None:
        self._call("flush")

    def close(self) -> None:
        self._call("close")

    @property
    def closed(self) -> bool:
        return bool(self.error is not None or self.records.closed)


def _guard_writer_thread(writer: Any) -> _GuardedRecords | None:
    """Route the SummaryWriter's event file writes (its thread's and close's) through a guard.

    ``tensorboard``'s writer thread re-raises a failed write, and the thread's traceback is
    printed; the guard keeps the failure instead. ``None`` where a tensorboard release lays
    out its writer otherwise (a test checks the installed one).
    """
    events = getattr(getattr(writer, "file_writer", None), "event_writer", None)
    queue = getattr(events, "_async_writer", None)
    worker = getattr(queue, "_worker", None)
    records = getattr(worker, "_record_writer", None)
    if records is None or getattr(queue, "_writer", None) is not records:
        return None
    guard = _GuardedRecords(records)
    queue._writer = worker._record_writer = guard
    return guard


def _hparam(value: Any) -> Any:
    """HParams take numbers and text; booleans read better as text than as 0/1."""
    if isinstance(value, bool):
        return str(value).lower()
    return "null" if value is None else value
