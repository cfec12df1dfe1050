"""A training run's loop: the steps, their logging, sample grids, the loss curve and checkpoints."""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from core.atomic import atomic_directory
from core.errors import TrainingError
from core.loggers import RunLoggers
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
from core.training.configs import SampleConfig, TrainConfig
from core.training.data import epoch_batches, make_loader
from core.training.distributed import barrier, mean_across
from core.training.ema import EMA
from core.training.images import save_loss_curve, save_samples
from core.training.lr_schedules import lr_factor
from core.training.setup import TrainingParts
from core.training.sharded import full_state_dict, is_sharded_checkpoint, load_sharded, save_sharded
from core.weights import read_weights, save_weights

__all__ = ["TrainingLoop"]


class TrainingLoop:
    """Steps the ``parts`` of a run in ``run_dir`` and keeps where it stands.

    Its position is ``step`` (optimizer steps done), ``epoch`` and ``offset`` (micro-batches of
    the epoch consumed); ``history`` holds the logged records; ``loggers`` are the run's
    loggers once the Trainer opens them.
    """

    def __init__(
        self, parts: TrainingParts, train: TrainConfig, sample: SampleConfig, run_dir: Path
    ) -> None:
        self.parts, self.train_config, self.sample_config = parts, train, sample
        self.run_dir = run_dir
        self.loggers = RunLoggers([], enabled=False)
        self.step = 0
        self.epoch = 0
        self.offset = 0
        self.history: list[dict[str, Any]] = []
        self._image_logged_at: int | None = None  # one grid per step reaches the loggers

    def sample_model(self) -> torch.nn.Module:
        """The weights to sample from: the EMA when there is one."""
        parts = self.parts
        return parts.ema.model if parts.ema is not None else parts.model

    def gathered_sample_model(self) -> torch.nn.Module | None:
        """The sampling weights as one plain model: under FSDP every rank takes part and rank 0
        gets the gathered copy (the others None); otherwise ``sample_model()``."""
        parts = self.parts
        if not parts.fsdp:
            return self.sample_model()
        state = full_state_dict(self.sample_model())
        if parts.full_model is None:
            return None
        parts.full_model.load_state_dict(state)
        return parts.full_model

    # -- the loop ------------------------------------------------------------------------------
    def run(
        self,
        end: int,
        *,
        start: float,
        train_step: Callable[[Iterator[Any]], dict[str, torch.Tensor]],
        save_checkpoint: Callable[[], Any],
        show_bar: bool,
    ) -> dict[str, Any]:
        """Step with ``train_step`` until ``end``, logging, drawing samples and saving
        checkpoints on their schedules; returns the last logged record.

        ``start`` is when the run's clock started (``time.perf_counter``).
        """
        tc, total = self.train_config, self.parts.total_steps
        bar = tqdm(
            total=total,
            initial=self.step,
            disable=not show_bar,
            dynamic_ncols=True,
            desc=self.run_dir.name,
        )
        batches = self.micro_batches()
        window_start, window_steps = start, 0
        global_batch = tc.batch_size * tc.grad_accumulation
        record: dict[str, Any] = {}
        try:
            while self.step < end:
                lr = self._set_lr()
                self._announce_step()
                values = train_step(batches)
                window_steps += 1
                bar.update(1)
                if self.step % tc.log_every == 0 or self.step == total:
                    now = time.perf_counter()
                    rate = window_steps * global_batch / max(now - window_start, 1e-9)
                    record = self._log(now - start, values, lr, rate)
                    window_start, window_steps = now, 0
                    if show_bar:
                        shown = {k: f"{v:.4g}" for k, v in record.items() if k.startswith("loss")}
                        bar.set_postfix(**shown, samples_s=f"{rate:.0f}")
                self._scheduled_outputs(save_checkpoint)
        finally:
            batches.close()  # the loader's workers stop with it
            bar.close()
        return record

    def _announce_step(self) -> None:
        """Ask for gradient norms on a step that logs; tell the model the step is coming."""
        upcoming, total = self.step + 1, self.parts.total_steps
        log_every = self.train_config.log_every
        self.parts.opt.measure_grad_norm = upcoming % log_every == 0 or upcoming == total
        if self.parts.progress_hook is not None:
            self.parts.progress_hook(self.step, total)

    def _scheduled_outputs(self, save_checkpoint: Callable[[], Any]) -> None:
        """A sample grid every ``sample_every`` steps, a checkpoint every ``checkpoint_every``
        (the last step's checkpoint is the run's final one, saved after the loop)."""
        tc, step, parts = self.train_config, self.step, self.parts
        if tc.sample_every and step % tc.sample_every == 0 and parts.is_generative:
            model = self.gathered_sample_model()  # under FSDP every rank gathers
            if parts.dist.is_main:
                self.write_samples(self.run_dir / f"samples_{step}.png", model)
        if tc.checkpoint_every and step % tc.checkpoint_every == 0 and step < parts.total_steps:
            save_checkpoint()

    def micro_batches(self) -> Iterator[Any]:
        """Micro-batches on the device, from the current position, epoch after epoch."""
        tc, parts = self.train_config, self.parts
        loader = make_loader(
            parts.dataset,
            parts.sampler,
            batch_size=parts.local_batch,
            drop_last=tc.drop_last,
            num_workers=tc.num_workers,
            seed=tc.seed,
            pin_memory=parts.device.type == "cuda",
        )
        while True:
            for batch in epoch_batches(loader, self.epoch, skip=self.offset * parts.local_batch):
                self.offset += 1
                yield _to_device(batch, parts.device, tc.channels_last)
            self.epoch += 1
            self.offset = 0

    def _set_lr(self) -> float:
        tc, parts = self.train_config, self.parts
        factor = lr_factor(self.step, parts.total_steps, tc.warmup_steps, parts.lr_schedule)
        for opt in parts.optimizers.values():
            for group in opt.param_groups:
                group["lr"] = group["initial_lr"] * factor
        return tc.lr * factor

    # -- one step ------------------------------------------------------------------------------
    def train_step(self, batches: Iterator[Any]) -> dict[str, torch.Tensor]:
        """One optimizer step over ``grad_accumulation`` micro-batches; the mean of the
        scalar values the model returned."""
        accumulation, parts = self.train_config.grad_accumulation, self.parts
        totals: dict[str, torch.Tensor] = {}
        for micro in range(accumulation):
            parts.opt.micro_step = micro
            batch = next(batches)
            if parts.multi:
                with self._autocast():
                    out = _check_output(
                        parts.model.training_step(batch, parts.opt), "training_step"
                    )
            else:
                out = self._loss_step(batch, last=micro == accumulation - 1)
            for key, value in out.items():
                if isinstance(value, torch.Tensor) and value.numel() == 1:
                    v = value.detach()
                    totals[key] = totals[key] + v if key in totals else v
        parts.scaler.update()
        self.step += 1
        if parts.ema is not None:
            parts.ema.update(parts.model, self.step)
        if accumulation == 1:
            return totals
        return {k: v / accumulation for k, v in totals.items()}

    def _loss_step(self, batch: Any, *, last: bool) -> dict[str, Any]:
        """``compute_loss`` on one micro-batch and its backward; the optimizer steps on the
        ``last`` micro-batch (gradients sync across processes only then)."""
        parts = self.parts
        if parts.fsdp:
            parts.wrapped.set_requires_gradient_sync(last)
        sync = (
            parts.wrapped.no_sync()
            if parts.dist.enabled and not last and hasattr(parts.wrapped, "no_sync")
            else contextlib.nullcontext()
        )
        with sync:
            with self._autocast():
                raw = (
                    parts.wrapped(batch) if parts.dist.enabled else parts.model.compute_loss(batch)
                )
                out = _check_output(raw, "compute_loss")
            loss = out["loss"]
            if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
                raise TrainingError("compute_loss(batch)['loss'] must be a scalar tensor")
            parts.opt.backward("model", loss)
        if last:
            parts.opt.step("model")
        return out

    def _autocast(self) -> Any:
        precision = self.train_config.precision
        if precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if precision == "bf16" else torch.float16
        return torch.autocast(device_type=self.parts.device.type, dtype=dtype)

    # -- logging and images --------------------------------------------------------------------
    def _log(
        self, step_time: float, values: dict[str, torch.Tensor], lr: float, samples_per_s: float
    ) -> dict[str, Any]:
        keys = sorted(values)
        stacked = (
            mean_across(torch.stack([values[k].float().reshape(()) for k in keys]), self.parts.dist)
            if keys
            else torch.zeros(0)
        )
        record: dict[str, Any] = {"step": self.step, "epoch": self.epoch}
        record.update({k: float(v) for k, v in zip(keys, stacked.tolist())})
        record.update(
            {"lr": lr, "samples_per_s": round(samples_per_s, 2), "time": round(step_time, 3)}
        )
        norms = self.parts.opt.grad_norms
        for name, norm in norms.items():
            record[f"grad_norm/{name}" if len(norms) > 1 else "grad_norm"] = float(norm)
        if "loss" in record and not math.isfinite(record["loss"]):
            raise TrainingError(
                f"the loss became {record['loss']} at step {self.step}; lower train.lr or set train.grad_clip"
            )
        self.loggers.log_scalars({k: v for k, v in record.items() if k != "step"}, self.step)
        self.history.append(record)
        return record

    def write_samples(self, path: Path, model: torch.nn.Module | None = None) -> None:
        """A grid of ``sample.n`` samples of ``model`` (default: the sampling weights) at
        ``path``, logged once a step."""
        sc, parts = self.sample_config, self.parts
        samples = draw_samples(
            model if model is not None else self.sample_model(),
            sc.n,
            sampler=sc.sampler,
            steps=sc.steps,
            batch_size=sc.batch_size,
            seed=sc.seed,
            **({} if sc.guidance_scale is None else {"guidance_scale": sc.guidance_scale}),
        )
        value_range = getattr(parts.model, "sample_range", None) or getattr(
            parts.dataset, "value_range", None
        )
        save_samples(samples, path, value_range, nrow=sc.nrow)
        if path.is_file() and self._image_logged_at != self.step:
            self.loggers.log_image("samples", path, self.step)
            self._image_logged_at = self.step

    def write_loss_curve(self) -> None:
        """``loss.png`` from the history: ``loss``, else the first ``loss*`` value logged."""
        records = [r for r in self.history if "loss" in r]
        key = "loss"
        if not records:
            keys = sorted({k for r in self.history for k in r if k.startswith("loss")})
            if not keys:
                return
            key = keys[0]
            records = [r for r in self.history if key in r]
        save_loss_curve(
            [r["step"] for r in records],
            [r[key] for r in records],
            self.run_dir / "loss.png",
            key,
        )

    # -- checkpoints and the final model --------------------------------------------------------
    def save_checkpoint(self) -> Path | None:
        """Write ``checkpoints/step_<N>/`` (staged, then swapped in); its path on rank 0."""
        parts = self.parts
        keep = self.train_config.keep_checkpoints
        with checkpoint_directory(self.run_dir, self.step, keep, parts.dist) as staging:
            write_json(staging / f"rng_rank{parts.dist.rank}.json", rng_state())
            if parts.fsdp:  # every rank writes its shards (DCP); rank 0 the metadata
                ema_model = parts.ema.model if parts.ema is not None else None
                save_sharded(staging, parts.model, parts.optimizers, ema_model)
            barrier(parts.dist)
            if not parts.dist.is_main:
                return None
            if not parts.fsdp:
                save_weights(parts.model, staging / "model.safetensors")
                if parts.ema is not None:
                    save_weights(parts.ema.state_dict(), staging / "ema.safetensors")
                save_torch(
                    staging / "optimizer.pt",
                    {k: o.state_dict() for k, o in parts.optimizers.items()},
                )
            write_json(staging / "state.json", self._position_state())
        return self.run_dir / "checkpoints" / f"step_{self.step}"

    def _position_state(self) -> dict[str, Any]:
        """A checkpoint's ``state.json``: where the run stands and the scaler's state."""
        parts = self.parts
        return {
            "step": self.step,
            "epoch": self.epoch,
            "offset": self.offset,
            "world_size": parts.dist.world_size,
            "batch_size": self.train_config.batch_size,
            "scaler": parts.scaler.state_dict() if parts.scaler.is_enabled() else None,
            "time": time.time(),
        }

    def restore(self) -> None:
        """Continue from the run's newest complete checkpoint: weights, optimizers, position."""
        ckpt = latest_checkpoint(self.run_dir)
        if ckpt is None:
            raise TrainingError(
                f"--resume {self.run_dir}: no complete checkpoint in {self.run_dir / 'checkpoints'}"
            )
        parts = self.parts
        state = read_json(ckpt / "state.json")
        if is_sharded_checkpoint(ckpt):
            self._restore_sharded(ckpt)
        elif parts.fsdp:
            raise TrainingError(
                f"{ckpt} is a plain checkpoint (strategy ddp); resume it with train.strategy=ddp"
            )
        else:
            self._restore_plain(ckpt)
        if state.get("scaler"):
            parts.scaler.load_state_dict(state["scaler"])
        self._restore_position(state)
        rng_file = ckpt / f"rng_rank{parts.dist.rank}.json"
        if rng_file.is_file():
            set_rng_state(read_json(rng_file))

    def _restore_sharded(self, ckpt: Path) -> None:
        """Weights, EMA and optimizers from a DCP checkpoint, at any world size."""
        parts = self.parts
        ema_model = parts.ema.model if parts.ema is not None else None
        if not load_sharded(ckpt, parts.model, parts.optimizers, ema_model) and parts.ema:
            parts.ema.update(parts.model, 0)  # no EMA saved: step 0 copies the weights

    def _restore_plain(self, ckpt: Path) -> None:
        """Weights, EMA and optimizers from ``model.safetensors`` and ``optimizer.pt``."""
        parts = self.parts
        parts.model.load_state_dict(read_weights(ckpt / "model.safetensors"))
        if parts.ema is not None:
            ema_file = ckpt / "ema.safetensors"
            if ema_file.is_file():
                parts.ema.load_state_dict(read_weights(ema_file))
            else:
                parts.ema = EMA(parts.model, parts.ema.decay, parts.ema.start_step, parts.ema.every)
        opt_state = load_torch(ckpt / "optimizer.pt")
        if set(opt_state) != set(parts.optimizers):
            raise TrainingError(
                f"{ckpt}: optimizers {sorted(opt_state)} do not match the model's {sorted(parts.optimizers)}"
            )
        for name, opt in parts.optimizers.items():
            opt.load_state_dict(opt_state[name])

    def _restore_position(self, state: Mapping[str, Any]) -> None:
        self.step, self.epoch, self.offset = state["step"], state["epoch"], state["offset"]
        if (
            state.get("world_size", 1) != self.parts.dist.world_size
            or state.get("batch_size") != self.train_config.batch_size
        ):
            self.offset = 0  # data position cannot carry over; start the epoch afresh
            self.epoch += 1

    def reload_history(self) -> None:
        """The logged records up to the restored step, for the loss curve (from metrics.jsonl)."""
        metrics = self.run_dir / "metrics.jsonl"
        if not metrics.is_file():
            return
        for line in metrics.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError, AttributeError):
                record = json.loads(line)
                if record.get("step", 0) <= self.step:
                    self.history.append(record)

    def save_final(
        self, data: Any, command: str | None, model: torch.nn.Module | None = None
    ) -> None:
        """``final/``: ``model`` (default: the sampling weights) with its model card (``data``
        section, command)."""
        model = model if model is not None else self.sample_model()
        if not hasattr(model, "save_pretrained"):
            return
        meta = {
            "run": self.run_dir.name,
            "step": self.step,
            "weights": "ema" if self.parts.ema is not None else "raw",
            "data": data,
            "data_size": len(self.parts.dataset),
            "sample": self.sample_config.model_dump(mode="json"),
        }
        if command:
            meta["command"] = command
        evaluations = run_evaluations(self.run_dir)
        if evaluations:
            meta["evaluations"] = evaluations
        with atomic_directory(self.run_dir / "final", overwrite=True) as staging:
            model.save_pretrained(staging, meta=meta)


def _check_output(out: Any, what: str) -> dict[str, Any]:
    """``out`` of ``compute_loss``/``training_step`` as a dict; refused when it is not one."""
    if not isinstance(out, Mapping):
        raise TrainingError(f"{what} must return a dict, got {type(out).__name__}")
    if what == "compute_loss" and "loss" not in out:
        raise TrainingError(
            f"compute_loss(batch) must return a dict holding 'loss', got keys {sorted(out)}"
        )
    return dict(out)


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
