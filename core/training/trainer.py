"""The ``Trainer``: one loop for every model family, driven by a run config.

It coordinates three parts: the set-up (``core.training.setup``: the validated config and the
model, data, optimizers and loggers built from it), the run directory
(``core.training.run_directory``: its lock, its claim and a previous run set aside) and the
loop (``core.training.loop``: the steps, logging, samples and checkpoints).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import yaml

from core.atomic import atomic_write_text
from core.errors import TrainingError
from core.loggers import RunLoggers
from core.training.distributed import barrier
from core.training.loop import TrainingLoop
from core.training.run_directory import RunDirectory, check_logger_paths
from core.training.setup import build_parts, default_run_dir, run_config, validate_run_config

__all__ = ["Trainer", "validate_run_config"]


class _Forwarded:
    """A trainer attribute held by one of its parts: ``parts`` (the set-up) or ``loop``."""

    def __init__(self, holder: str) -> None:
        self.holder = holder

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, trainer: Any, owner: type | None = None) -> Any:
        if trainer is None:
            return self
        return getattr(getattr(trainer, self.holder), self.name)

    def __set__(self, trainer: Any, value: Any) -> None:
        setattr(getattr(trainer, self.holder), self.name, value)


class Trainer:
    """Trains a model from a run config (``model``, ``data``, ``train``, ``sample`` sections).

    ``Trainer(config).fit()`` builds the model and dataset through the registry; pass
    ``model=`` or ``dataset=`` to use objects built elsewhere. Outputs go to ``run_dir``
    (default ``runs/<config stem>``); with ``resume=True`` the newest checkpoint there is
    continued exactly. ``command``, the command line that started the run, goes into the
    model card of ``final/``.
    """

    # what the set-up built, read (and set) through the trainer
    device = _Forwarded("parts")
    dist = _Forwarded("parts")
    local_batch = _Forwarded("parts")
    model = _Forwarded("parts")
    dataset = _Forwarded("parts")
    optimizers = _Forwarded("parts")
    scaler = _Forwarded("parts")
    opt = _Forwarded("parts")
    ema = _Forwarded("parts")
    wrapped = _Forwarded("parts")
    sampler = _Forwarded("parts")
    batches_per_epoch = _Forwarded("parts")
    total_steps = _Forwarded("parts")
    lr_schedule = _Forwarded("parts")
    multi = _Forwarded("parts")
    progress_hook = _Forwarded("parts")
    is_generative = _Forwarded("parts")
    # where the loop stands
    step = _Forwarded("loop")
    epoch = _Forwarded("loop")
    offset = _Forwarded("loop")
    history = _Forwarded("loop")
    loggers = _Forwarded("loop")

    def __init__(
        self,
        config: Any,
        *,
        model: torch.nn.Module | None = None,
        dataset: Any = None,
        run_dir: str | os.PathLike[str] | None = None,
        resume: bool = False,
        overwrite: bool = False,
        quiet: bool = False,
        overrides: Any = (),
        command: str | None = None,
    ) -> None:
        self.config = run_config(config, overrides, model=model, dataset=dataset)
        self.train_config, self.sample_config = validate_run_config(self.config)
        self.run_dir = Path(run_dir) if run_dir is not None else default_run_dir(self.config)
        self.quiet, self.resume, self.overwrite = quiet, resume, overwrite
        self.command = command
        self.run_directory = RunDirectory(self.run_dir, resume=resume, overwrite=overwrite)
        self.parts = build_parts(self.config, self.train_config, model=model, dataset=dataset)
        config = self.config
        check_logger_paths(self.parts.logger_list, config.source, config.origins, self.run_dir)
        self.loop = TrainingLoop(self.parts, self.train_config, self.sample_config, self.run_dir)

    def resolved_config(self) -> dict[str, Any]:
        """The run config with the train and sample sections' defaults filled in."""
        return {
            **self.config.to_dict(),
            "train": self.train_config.model_dump(mode="json"),
            "sample": self.sample_config.model_dump(mode="json"),
        }

    def sample_model(self) -> torch.nn.Module:
        """The weights to sample from: the EMA when there is one."""
        return self.loop.sample_model()

    def save_checkpoint(self) -> Path | None:
        """Write ``checkpoints/step_<N>/`` (staged, then swapped in) and return it on rank 0."""
        saved = self.loop.save_checkpoint()
        if saved is not None:
            self.run_directory.keep_new()  # the new run has a checkpoint: the previous one goes
        return saved

    def fit(self, stop_at: int | None = None) -> dict[str, Any]:
        """Train to ``total_steps``; returns a summary (run dir, steps, last logged values).

        ``stop_at`` ends early after that step with a checkpoint (no ``final/``): the run can
        be continued with ``resume=True`` exactly as if it had not stopped. With ``overwrite``,
        a run that fails before its first checkpoint puts the previous run back. The run
        directory is locked from start to end: another process writing it is refused.
        """
        try:
            return self._fit(stop_at)
        except BaseException:
            self.run_directory.restore_previous()
            raise
        finally:
            self.run_directory.release()

    def _fit(self, stop_at: int | None) -> dict[str, Any]:
        fresh = not self.run_dir.exists()
        self._prepare_run_dir()
        barrier(self.dist)
        if self.resume:
            self.loop.restore()
        self.loggers = RunLoggers(self.parts.logger_list, enabled=self.dist.is_main)
        try:
            self.loggers.open(self.run_dir, self.resolved_config(), resume_step=self.step)
        except TrainingError:
            if fresh and self.dist.is_main:
                shutil.rmtree(self.run_dir, ignore_errors=True)  # nothing of this run is kept
            raise
        if self.dist.is_main and self.resume:
            self.loop.reload_history()
        try:
            return self._train(stop_at)
        finally:
            self.loggers.close()

    def _prepare_run_dir(self) -> None:
        """Rank 0 claims the run directory and, for a new run, writes its ``config.yaml``."""
        if not self.dist.is_main:
            return
        self.run_directory.claim("core train --resume" if self.resume else "core train")
        if self.resume:
            return
        data = self.config.to_dict()
        data["train"] = self.train_config.model_dump(mode="json")
        atomic_write_text(self.run_dir / "config.yaml", yaml.safe_dump(data, sort_keys=False))

    def _train_step(self, batches: Iterator[Any]) -> dict[str, torch.Tensor]:
        return self.loop.train_step(batches)

    def _train(self, stop_at: int | None) -> dict[str, Any]:
        end = self.total_steps if stop_at is None else min(stop_at, self.total_steps)
        main = self.dist.is_main
        start = time.perf_counter()
        record = self.loop.run(
            end,
            start=start,
            train_step=self._train_step,  # looked up now: a test may replace it on the instance
            save_checkpoint=self.save_checkpoint,
            show_bar=main and not self.quiet and sys.stderr.isatty(),
        )
        self.save_checkpoint()
        if main:
            self.loop.write_loss_curve()
        done = self.step >= self.total_steps
        final = self.loop.gathered_sample_model() if done else None  # every rank under FSDP
        if main and done:
            self.loop.save_final(self.config.to_dict().get("data"), self.command, final)
            if self.is_generative:
                self.loop.write_samples(self.run_dir / "samples.png", final)
        barrier(self.dist)
        return self._summary(record, time.perf_counter() - start)

    def _summary(self, record: dict[str, Any], elapsed: float) -> dict[str, Any]:
        """What ``fit`` returns (and, unless quiet, prints on rank 0)."""
        summary = {
            "run_dir": str(self.run_dir),
            "steps": self.step,
            "seconds": round(elapsed, 2),
            **{k: v for k, v in record.items() if k.startswith("loss")},
        }
        if self.dist.is_main and not self.quiet:
            losses = ", ".join(f"{k} {v:.4g}" for k, v in summary.items() if k.startswith("loss"))
            print(
                f"trained {self.step} steps in {elapsed:.1f}s ({losses}); run: {self.run_dir}",
                file=sys.stderr,
            )
        return summary
