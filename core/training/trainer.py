"""The ``Trainer``: one loop for every model family, driven by a run config."""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import shutil
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.atomic import atomic_directory
from core.config import Config
from core.devices import resolve_device
from core.errors import ConfigError, TrainingError
from core.loggers import RunLoggers, build_loggers
from core.model_card import run_evaluations
from core.sampling import draw_samples
from core.training.checkpoint import (
    checkpoint_directory,
    latest_checkpoint,
    load_torch,
    read_json,
    rng_state,
    save_torch,
    set_rng_state,
    write_json,
)
from core.training.configs import EMAConfig, SampleConfig, TrainConfig
from core.training.data import ResumableSampler, make_loader
from core.training.distributed import barrier, mean_across, setup_distributed
from core.training.ema import EMA
from core.training.images import save_loss_curve, save_samples
from core.training.lr_schedules import build_lr_schedule, lr_factor
from core.training.optimizers import Optimizers
from core.training.run_directory import RunDirectory, check_logger_paths
from core.training.sections import check_run_sections, validate_evaluate_section
from core.validation import validate_section

__all__ = ["Trainer", "validate_run_config"]


def validate_run_config(config: Config) -> tuple[TrainConfig, SampleConfig]:
    """Check the top-level sections and validate ``train``, ``sample`` and ``evaluate``."""
    check_run_sections(config)
    source, origins, sections = config.source, config.origins, config.to_dict()
    train = validate_section(
        TrainConfig,
        sections.get("train") or {},
        component="train section",
        where="train",
        source=source,
        origins=origins,
    )
    sample = validate_section(
        SampleConfig,
        sections.get("sample") or {},
        component="sample section",
        where="sample",
        source=source,
        origins=origins,
    )
    validate_evaluate_section(sections.get("evaluate") or {}, source=source, origins=origins)
    build_lr_schedule(train, source)  # type: ignore[arg-type]
    loggers = build_loggers(train.loggers, source, origins)  # type: ignore[attr-defined]
    check_logger_paths(loggers, source, origins)
    return train, sample  # type: ignore[return-value]


def _seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _to_device(batch: Any, device: torch.device, channels_last: bool = False) -> Any:
    """``batch`` on ``device``; 4-D tensors (image batches) channels-last when asked."""
    if isinstance(batch, torch.Tensor):
        if channels_last and batch.ndim == 4:
            return batch.to(device, non_blocking=True, memory_format=torch.channels_last)
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: _to_device(v, device, channels_last) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device, channels_last) for v in batch)
    return batch


class _LossModule(torch.nn.Module):
    """Routes ``forward`` to ``compute_loss`` so DDP sees the call."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: Any) -> Any:
        return self.model.compute_loss(batch)


class Trainer:
    """Trains a model from a run config (``model``, ``data``, ``train``, ``sample`` sections).

    ``Trainer(config).fit()`` builds the model and dataset through the registry; pass
    ``model=`` or ``dataset=`` to use objects built elsewhere. Outputs go to ``run_dir``
    (default ``runs/<config stem>``); with ``resume=True`` the newest checkpoint there is
    continued exactly. ``command``, the command line that started the run, goes into the
    model card of ``final/``.
    """

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
        self.config = Config(config, overrides=overrides)
        if model is not None and "model" not in self.config:
            self.config["model"] = {"type": getattr(model, "model_type", None) or "custom"}
        if dataset is not None and "data" not in self.config:
            self.config["data"] = {"type": "custom"}
        self.train_config, self.sample_config = validate_run_config(self.config)
        tc = self.train_config
        self.lr_schedule = build_lr_schedule(tc, self.config.source)
        self._logger_list = build_loggers(tc.loggers, self.config.source)
        self.loggers = RunLoggers([], enabled=False)  # opened by fit()
        self._image_logged_at: int | None = None  # one grid per step reaches the loggers
        if run_dir is None:
            stem = Path(self.config.source).stem if self.config.source else "run"
            run_dir = Path("runs") / stem
        self.run_dir = Path(run_dir)
        self.quiet = quiet
        self.resume = resume
        self.overwrite = overwrite
        self.command = command
        self.run_directory = RunDirectory(self.run_dir, resume=resume, overwrite=overwrite)

        self.device = resolve_device(tc.device, where="train.device")
        self.dist = setup_distributed(self.device.type)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        if tc.precision == "fp16" and self.device.type != "cuda":
            raise ConfigError(
                "train.precision: fp16 needs a GradScaler and CUDA; on CPU use precision: bf16"
            )
        if tc.batch_size % self.dist.world_size:
            raise ConfigError(
                f"train.batch_size: {tc.batch_size} is not divisible by the "
                f"{self.dist.world_size} processes (batch_size is global)"
            )
        self.local_batch = tc.batch_size // self.dist.world_size

        if tc.threads is not None:
            torch.set_num_threads(tc.threads)
        _seed_all(tc.seed)
        self.model = model if model is not None else self._build("model")
        self.dataset = dataset if dataset is not None else self._build("data")
        self.model.to(self.device)
        if tc.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self._check_protocol()
        self.model.train()
        # different noise per process, identical initialisation
        _seed_all(tc.seed + 1_000_003 * self.dist.rank)

        self.multi = hasattr(self.model, "training_step")
        # optional: the model hears each step's progress (0-based step, total) before it runs
        self.progress_hook = getattr(self.model, "on_train_progress", None)
        self.optimizers = self._make_optimizers()
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=tc.precision == "fp16")
        self.opt = Optimizers(
            self.optimizers,
            scaler=self.scaler,
            grad_accumulation=tc.grad_accumulation,
            grad_clip=tc.grad_clip,
            dist_info=self.dist,
            sync_grads=self.multi and self.dist.enabled,
        )
        ema = tc.ema
        model_ema = getattr(getattr(self.model, "config", None), "ema", None)
        if ema is None and isinstance(model_ema, float) and 0.0 < model_ema < 1.0:
            ema = EMAConfig(decay=model_ema)  # the model asks for an EMA (e.g. ddpm's ema)
        self.ema = EMA(self.model, ema.decay, ema.start_step, ema.every) if ema else None
        self.wrapped: torch.nn.Module | None = None
        if not self.multi:
            self.wrapped = _LossModule(self.model)
            if self.dist.enabled:
                from torch.nn.parallel import DistributedDataParallel

                ids = [self.device.index] if self.device.type == "cuda" else None
                self.wrapped = DistributedDataParallel(self.wrapped, device_ids=ids)

        self.sampler = ResumableSampler(self.dataset, self.dist, shuffle=tc.shuffle, seed=tc.seed)
        per_epoch = math.ceil(len(self.dataset) / self.dist.world_size)
        self.batches_per_epoch = (
            per_epoch // self.local_batch
            if tc.drop_last
            else math.ceil(per_epoch / self.local_batch)
        )
        if self.batches_per_epoch == 0:
            raise TrainingError(
                f"the dataset has {len(self.dataset)} items, fewer than one batch of "
                f"{tc.batch_size} (set train.batch_size lower or train.drop_last: false)"
            )
        self.total_steps = tc.steps or max(
            1, (tc.epochs * self.batches_per_epoch) // tc.grad_accumulation
        )
        self.step = 0
        self.epoch = 0
        self.offset = 0  # micro-batches of the current epoch already consumed
        self.history: list[dict[str, Any]] = []
        self.is_generative = hasattr(self.model, "sample")

    # -- set-up --------------------------------------------------------------------------------
    def _build(self, section: str) -> Any:
        from core.components import build

        kind = "model" if section == "model" else "dataset"
        return build(kind, self.config[section], where=section, source=self.config.source)

    def _check_protocol(self) -> None:
        m = self.model
        name = getattr(m, "model_type", None) or type(m).__name__
        if not (hasattr(m, "compute_loss") or hasattr(m, "training_step")):
            raise TrainingError(
                f"model '{name}' cannot be trained: it has neither compute_loss(batch) -> dict "
                "nor training_step(batch, optimizers) -> dict"
            )
        if hasattr(m, "training_step") and not hasattr(m, "optimizer_groups"):
            raise TrainingError(
                f"model '{name}' has training_step but no optimizer_groups(train_config) "
                "giving its optimizers"
            )
        if self.train_config.sample_every and not hasattr(m, "sample"):
            raise TrainingError(
                f"train.sample_every is set but model '{name}' has no sample(n, ...) method"
            )

    def _make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        tc = self.train_config
        defaults = {
            "lr": tc.lr,
            "betas": tuple(tc.betas),
            "weight_decay": tc.weight_decay,
            "eps": tc.eps,
        }
        if hasattr(self.model, "optimizer_groups"):
            groups = self.model.optimizer_groups(tc)
            if not isinstance(groups, Mapping) or not groups:
                raise TrainingError("optimizer_groups(train_config) must return a non-empty dict")
        else:
            groups = {"model": {"params": [p for p in self.model.parameters() if p.requires_grad]}}
        optimizers = {}
        for name, group in groups.items():
            settings = {**defaults, **{k: v for k, v in dict(group).items() if k != "params"}}
            params = [p for p in group["params"] if p.requires_grad]
            if not params:
                raise TrainingError(f"optimizer '{name}' has no trainable parameters")
            settings["betas"] = tuple(settings["betas"])
            if self.device.type == "cuda":
                settings["fused"] = True
            opt = torch.optim.AdamW(params, **settings)
            for g in opt.param_groups:
                g["initial_lr"] = g["lr"]
            optimizers[name] = opt
        return optimizers

    # -- run directory -------------------------------------------------------------------------
    def _prepare_run_dir(self) -> None:
        if not self.dist.is_main:
            return
        self.run_directory.claim("core train --resume" if self.resume else "core train")
        if self.resume:
            return
        import yaml

        from core.atomic import atomic_write_text

        data = self.config.to_dict()
        data["train"] = self.train_config.model_dump(mode="json")
        atomic_write_text(self.run_dir / "config.yaml", yaml.safe_dump(data, sort_keys=False))

    def _restore(self) -> None:
        ckpt = latest_checkpoint(self.run_dir)
        if ckpt is None:
            raise TrainingError(
                f"--resume {self.run_dir}: no complete checkpoint in {self.run_dir / 'checkpoints'}"
            )
        from core.weights import read_weights

        state = read_json(ckpt / "state.json")
        self.model.load_state_dict(read_weights(ckpt / "model.safetensors"))
        if self.ema is not None:
            ema_file = ckpt / "ema.safetensors"
            if ema_file.is_file():
                self.ema.load_state_dict(read_weights(ema_file))
            else:
                self.ema = EMA(self.model, self.ema.decay, self.ema.start_step, self.ema.every)
        opt_state = load_torch(ckpt / "optimizer.pt")
        if set(opt_state) != set(self.optimizers):
            raise TrainingError(
                f"{ckpt}: optimizers {sorted(opt_state)} do not match the model's {sorted(self.optimizers)}"
            )
        for name, opt in self.optimizers.items():
            opt.load_state_dict(opt_state[name])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.step, self.epoch, self.offset = state["step"], state["epoch"], state["offset"]
        if (
            state.get("world_size", 1) != self.dist.world_size
            or state.get("batch_size") != self.train_config.batch_size
        ):
            self.offset = 0  # data position cannot carry over; start the epoch afresh
            self.epoch += 1
        rng_file = ckpt / f"rng_rank{self.dist.rank}.json"
        if rng_file.is_file():
            set_rng_state(read_json(rng_file))

    def resolved_config(self) -> dict[str, Any]:
        """The run config with the train and sample sections' defaults filled in."""
        return {
            **self.config.to_dict(),
            "train": self.train_config.model_dump(mode="json"),
            "sample": self.sample_config.model_dump(mode="json"),
        }

    def _reload_history(self) -> None:
        """The logged records up to the restored step, for the loss curve (from metrics.jsonl)."""
        metrics = self.run_dir / "metrics.jsonl"
        if not metrics.is_file():
            return
        for line in metrics.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError, AttributeError):
                record = json.loads(line)
                if record.get("step", 0) <= self.step:
                    self.history.append(record)

    def save_checkpoint(self) -> Path | None:
        """Write ``checkpoints/step_<N>/`` (staged, then swapped in) and return it on rank 0."""
        from core.weights import save_weights

        keep = self.train_config.keep_checkpoints
        with checkpoint_directory(self.run_dir, self.step, keep, self.dist) as staging:
            write_json(staging / f"rng_rank{self.dist.rank}.json", rng_state())
            barrier(self.dist)
            if not self.dist.is_main:
                return None
            save_weights(self.model, staging / "model.safetensors")
            if self.ema is not None:
                save_weights(self.ema.state_dict(), staging / "ema.safetensors")
            save_torch(
                staging / "optimizer.pt", {k: o.state_dict() for k, o in self.optimizers.items()}
            )
            write_json(
                staging / "state.json",
                {
                    "step": self.step,
                    "epoch": self.epoch,
                    "offset": self.offset,
                    "world_size": self.dist.world_size,
                    "batch_size": self.train_config.batch_size,
                    "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
                    "time": time.time(),
                },
            )
        self.run_directory.keep_new()
        return self.run_dir / "checkpoints" / f"step_{self.step}"

    # -- data ----------------------------------------------------------------------------------
    def _micro_batches(self) -> Iterator[Any]:
        tc = self.train_config
        while True:
            self.sampler.set_epoch(self.epoch, skip=self.offset * self.local_batch)
            loader = make_loader(
                self.dataset,
                self.sampler,
                batch_size=self.local_batch,
                drop_last=tc.drop_last,
                num_workers=tc.num_workers,
                seed=tc.seed,
                epoch=self.epoch,
                pin_memory=self.device.type == "cuda",
            )
            for batch in loader:
                self.offset += 1
                yield _to_device(batch, self.device, tc.channels_last)
            self.epoch += 1
            self.offset = 0

    # -- training ------------------------------------------------------------------------------
    def _autocast(self) -> Any:
        precision = self.train_config.precision
        if precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if precision == "bf16" else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def _set_lr(self) -> float:
        tc = self.train_config
        factor = lr_factor(self.step, self.total_steps, tc.warmup_steps, self.lr_schedule)
        for opt in self.optimizers.values():
            for group in opt.param_groups:
                group["lr"] = group["initial_lr"] * factor
        return tc.lr * factor

    def _check_output(self, out: Any, what: str) -> dict[str, Any]:
        if not isinstance(out, Mapping):
            raise TrainingError(f"{what} must return a dict, got {type(out).__name__}")
        if what == "compute_loss" and "loss" not in out:
            raise TrainingError(
                f"compute_loss(batch) must return a dict holding 'loss', got keys {sorted(out)}"
            )
        return dict(out)

    def _train_step(self, batches: Iterator[Any]) -> dict[str, torch.Tensor]:
        tc = self.train_config
        totals: dict[str, torch.Tensor] = {}
        for micro in range(tc.grad_accumulation):
            self.opt.micro_step = micro
            batch = next(batches)
            if self.multi:
                with self._autocast():
                    out = self._check_output(
                        self.model.training_step(batch, self.opt), "training_step"
                    )
            else:
                last = micro == tc.grad_accumulation - 1
                sync = (
                    self.wrapped.no_sync()
                    if self.dist.enabled and not last and hasattr(self.wrapped, "no_sync")
                    else contextlib.nullcontext()
                )
                with sync:
                    with self._autocast():
                        raw = (
                            self.wrapped(batch)
                            if self.dist.enabled
                            else self.model.compute_loss(batch)
                        )
                        out = self._check_output(raw, "compute_loss")
                    loss = out["loss"]
                    if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
                        raise TrainingError("compute_loss(batch)['loss'] must be a scalar tensor")
                    self.opt.backward("model", loss)
                if last:
                    self.opt.step("model")
            for key, value in out.items():
                if isinstance(value, torch.Tensor) and value.numel() == 1:
                    v = value.detach()
                    totals[key] = totals[key] + v if key in totals else v
        self.scaler.update()
        self.step += 1
        if self.ema is not None:
            self.ema.update(self.model, self.step)
        if tc.grad_accumulation == 1:
            return totals
        return {k: v / tc.grad_accumulation for k, v in totals.items()}

    def sample_model(self) -> torch.nn.Module:
        """The weights to sample from: the EMA when there is one."""
        return self.ema.model if self.ema is not None else self.model

    def _write_samples(self, path: Path) -> None:
        sc = self.sample_config
        samples = draw_samples(
            self.sample_model(),
            sc.n,
            sampler=sc.sampler,
            steps=sc.steps,
            batch_size=sc.batch_size,
            seed=sc.seed,
            **({} if sc.guidance_scale is None else {"guidance_scale": sc.guidance_scale}),
        )
        value_range = getattr(self.model, "sample_range", None) or getattr(
            self.dataset, "value_range", None
        )
        save_samples(samples, path, value_range, nrow=sc.nrow)
        if path.is_file() and self._image_logged_at != self.step:
            self.loggers.log_image("samples", path, self.step)
            self._image_logged_at = self.step

    def _log(
        self, step_time: float, values: dict[str, torch.Tensor], lr: float, samples_per_s: float
    ) -> dict[str, Any]:
        keys = sorted(values)
        stacked = (
            mean_across(torch.stack([values[k].float().reshape(()) for k in keys]), self.dist)
            if keys
            else torch.zeros(0)
        )
        record: dict[str, Any] = {"step": self.step, "epoch": self.epoch}
        record.update({k: float(v) for k, v in zip(keys, stacked.tolist())})
        record.update(
            {"lr": lr, "samples_per_s": round(samples_per_s, 2), "time": round(step_time, 3)}
        )
        for name, norm in self.opt.grad_norms.items():
            record[f"grad_norm/{name}" if len(self.opt.grad_norms) > 1 else "grad_norm"] = float(
                norm
            )
        if "loss" in record and not math.isfinite(record["loss"]):
            raise TrainingError(
                f"the loss became {record['loss']} at step {self.step}; lower train.lr or set train.grad_clip"
            )
        self.loggers.log_scalars({k: v for k, v in record.items() if k != "step"}, self.step)
        self.history.append(record)
        return record

    def _write_loss_curve(self) -> None:
        records = [r for r in self.history if "loss" in r]
        if records:
            save_loss_curve(
                [r["step"] for r in records],
                [r["loss"] for r in records],
                self.run_dir / "loss.png",
            )
        else:
            keys = sorted({k for r in self.history for k in r if k.startswith("loss")})
            if keys:
                key = keys[0]
                pts = [r for r in self.history if key in r]
                save_loss_curve(
                    [r["step"] for r in pts], [r[key] for r in pts], self.run_dir / "loss.png", key
                )

    def _save_final(self) -> None:
        model = self.sample_model()
        if not hasattr(model, "save_pretrained"):
            return
        data = self.config.to_dict()
        meta = {
            "run": self.run_dir.name,
            "step": self.step,
            "weights": "ema" if self.ema is not None else "raw",
            "data": data.get("data"),
            "data_size": len(self.dataset),
            "sample": self.sample_config.model_dump(mode="json"),
        }
        if self.command:
            meta["command"] = self.command
        evaluations = run_evaluations(self.run_dir)
        if evaluations:
            meta["evaluations"] = evaluations
        with atomic_directory(self.run_dir / "final", overwrite=True) as staging:
            model.save_pretrained(staging, meta=meta)

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
            self._restore()
        self.loggers = RunLoggers(self._logger_list, enabled=self.dist.is_main)
        try:
            self.loggers.open(self.run_dir, self.resolved_config(), resume_step=self.step)
        except TrainingError:
            if fresh and self.dist.is_main:
                shutil.rmtree(self.run_dir, ignore_errors=True)  # nothing of this run is kept
            raise
        if self.dist.is_main and self.resume:
            self._reload_history()
        try:
            return self._train(stop_at)
        finally:
            self.loggers.close()

    def _train(self, stop_at: int | None) -> dict[str, Any]:
        tc = self.train_config
        end = self.total_steps if stop_at is None else min(stop_at, self.total_steps)
        main = self.dist.is_main
        show_bar = main and not self.quiet and sys.stderr.isatty()
        from tqdm import tqdm

        bar = tqdm(
            total=self.total_steps,
            initial=self.step,
            disable=not show_bar,
            dynamic_ncols=True,
            desc=self.run_dir.name,
        )
        batches = self._micro_batches()
        start = time.perf_counter()
        window_start, window_steps = start, 0
        record: dict[str, Any] = {}
        global_batch = tc.batch_size * tc.grad_accumulation
        try:
            while self.step < end:
                lr = self._set_lr()
                upcoming = self.step + 1
                self.opt.measure_grad_norm = (
                    upcoming % tc.log_every == 0 or upcoming == self.total_steps
                )
                if self.progress_hook is not None:
                    self.progress_hook(self.step, self.total_steps)
                values = self._train_step(batches)
                window_steps += 1
                bar.update(1)
                if self.step % tc.log_every == 0 or self.step == self.total_steps:
                    now = time.perf_counter()
                    rate = window_steps * global_batch / max(now - window_start, 1e-9)
                    record = self._log(now - start, values, lr, rate)
                    window_start, window_steps = now, 0
                    if show_bar:
                        shown = {k: f"{v:.4g}" for k, v in record.items() if k.startswith("loss")}
                        bar.set_postfix(**shown, samples_s=f"{rate:.0f}")
                if (
                    tc.sample_every
                    and self.step % tc.sample_every == 0
                    and main
                    and self.is_generative
                ):
                    self._write_samples(self.run_dir / f"samples_{self.step}.png")
                if (
                    tc.checkpoint_every
                    and self.step % tc.checkpoint_every == 0
                    and self.step < self.total_steps
                ):
                    self.save_checkpoint()
        finally:
            bar.close()
        self.save_checkpoint()
        if main:
            self._write_loss_curve()
        if main and self.step >= self.total_steps:
            self._save_final()
            if self.is_generative:
                self._write_samples(self.run_dir / "samples.png")
        barrier(self.dist)
        elapsed = time.perf_counter() - start
        summary = {
            "run_dir": str(self.run_dir),
            "steps": self.step,
            "seconds": round(elapsed, 2),
            **{k: v for k, v in record.items() if k.startswith("loss")},
        }
        if main and not self.quiet:
            losses = ", ".join(f"{k} {v:.4g}" for k, v in summary.items() if k.startswith("loss"))
            print(
                f"trained {self.step} steps in {elapsed:.1f}s ({losses}); run: {self.run_dir}",
                file=sys.stderr,
            )
        return summary
