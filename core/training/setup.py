"""A training run's set-up: from its validated config to the parts the loop trains with."""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from core.building import build
from core.config import Config
from core.devices import resolve_device
from core.errors import ConfigError, TrainingError
from core.loggers import build_loggers
from core.training.configs import EMAConfig, SampleConfig, TrainConfig
from core.training.data import ResumableSampler
from core.training.distributed import DistInfo, setup_distributed
from core.training.ema import EMA
from core.training.lr_schedules import build_lr_schedule
from core.training.optimizers import Optimizers
from core.training.run_directory import check_logger_paths
from core.training.sections import check_run_sections, validate_evaluate_section
from core.training.sharded import shard_model
from core.validation import validate_section

__all__ = [
    "TrainingParts",
    "build_parts",
    "default_run_dir",
    "run_config",
    "validate_run_config",
]


def validate_run_config(config: Config) -> tuple[TrainConfig, SampleConfig]:
    """Check the top-level sections and validate ``train``, ``sample`` and ``evaluate``."""
    check_run_sections(config)
    source, origins, sections = config.source, config.origins, config.to_dict()
    train, sample = (
        validate_section(
            schema,
            sections.get(name) or {},
            component=f"{name} section",
            where=name,
            source=source,
            origins=origins,
        )
        for name, schema in (("train", TrainConfig), ("sample", SampleConfig))
    )
    validate_evaluate_section(sections.get("evaluate") or {}, source=source, origins=origins)
    build_lr_schedule(train, source)  # type: ignore[arg-type]
    loggers = build_loggers(train.loggers, source, origins)  # type: ignore[attr-defined]
    check_logger_paths(loggers, source, origins)
    return train, sample  # type: ignore[return-value]


def run_config(
    config: Any, overrides: Any = (), *, model: Any = None, dataset: Any = None
) -> Config:
    """``config`` with ``overrides``; a given ``model`` or ``dataset`` fills a missing section."""
    config = Config(config, overrides=overrides)
    if model is not None and "model" not in config:
        config["model"] = {"type": getattr(model, "model_type", None) or "custom"}
    if dataset is not None and "data" not in config:
        config["data"] = {"type": "custom"}
    return config


def default_run_dir(config: Config) -> Path:
    """``runs/<config stem>`` (``runs/run`` for a config that is not a file)."""
    return Path("runs") / (Path(config.source).stem if config.source else "run")


@dataclass
class TrainingParts:
    """What a run trains with, built once from its validated config by ``build_parts``."""

    device: torch.device
    dist: DistInfo
    local_batch: int  # this process's share of train.batch_size
    model: torch.nn.Module
    dataset: Any
    optimizers: dict[str, torch.optim.Optimizer]
    scaler: torch.amp.GradScaler
    opt: Optimizers
    ema: EMA | None
    wrapped: torch.nn.Module | None  # compute_loss as forward (DDP- or FSDP-wrapped under torchrun)
    sampler: ResumableSampler
    batches_per_epoch: int
    total_steps: int
    lr_schedule: Any
    logger_list: list[tuple[str, Any]]  # the train.loggers, opened by the Trainer's fit()
    multi: bool  # the model steps its own optimizers (training_step)
    progress_hook: Any  # optional: hears each step's progress (0-based step, total) before it runs
    is_generative: bool
    fsdp: bool = False  # train.strategy fsdp under torchrun: weights and optimizer states sharded
    full_model: torch.nn.Module | None = None  # fsdp, rank 0: a plain copy for grids and final/


def build_parts(
    config: Config, tc: TrainConfig, *, model: Any = None, dataset: Any = None
) -> TrainingParts:
    """The device, model, data, optimizers, EMA and loggers of a run of ``config``.

    ``model`` and ``dataset``, when given, are used instead of building their sections.
    """
    lr_schedule = build_lr_schedule(tc, config.source)
    logger_list = build_loggers(tc.loggers, config.source)
    device, dist, local_batch = _placement(tc)
    if tc.threads is not None:
        torch.set_num_threads(tc.threads)
    _seed_all(tc.seed)
    if model is None:
        model = build("model", config["model"], where="model", source=config.source)
    if dataset is None:
        dataset = build("dataset", config["data"], where="data", source=config.source)
    _prepare_model(model, tc, device)
    _seed_all(tc.seed + 1_000_003 * dist.rank)  # different noise per process, same initialisation
    multi = hasattr(model, "training_step")
    fsdp = tc.strategy == "fsdp" and dist.enabled
    ema = _make_ema(model, tc)
    full_model = copy.deepcopy(model) if fsdp and dist.is_main else None
    wrapped = _distribute(model, ema, tc, dist, device, fsdp=fsdp, multi=multi)
    optimizers = _make_optimizers(model, tc, device)
    scaler = torch.amp.GradScaler(device.type, enabled=tc.precision == "fp16")
    opt = Optimizers(
        optimizers,
        scaler=scaler,
        grad_accumulation=tc.grad_accumulation,
        grad_clip=tc.grad_clip,
        dist_info=dist,
        sync_grads=multi and dist.enabled and not fsdp,
    )
    if tc.compile:
        _compile_networks(model)
    sampler = ResumableSampler(dataset, dist, shuffle=tc.shuffle, seed=tc.seed)
    batches_per_epoch, total_steps = _count_steps(len(dataset), tc, dist.world_size, local_batch)
    return TrainingParts(
        device=device,
        dist=dist,
        local_batch=local_batch,
        model=model,
        dataset=dataset,
        optimizers=optimizers,
        scaler=scaler,
        opt=opt,
        ema=ema,
        wrapped=wrapped,
        sampler=sampler,
        batches_per_epoch=batches_per_epoch,
        total_steps=total_steps,
        lr_schedule=lr_schedule,
        logger_list=logger_list,
        multi=multi,
        progress_hook=getattr(model, "on_train_progress", None),
        is_generative=hasattr(model, "sample"),
        fsdp=fsdp,
        full_model=full_model,
    )


def _distribute(
    model: Any,
    ema: Any,
    tc: TrainConfig,
    dist: DistInfo,
    device: torch.device,
    *,
    fsdp: bool,
    multi: bool,
) -> Any:
    """The module the loop calls for the loss (None for a model that steps itself): sharded with
    the model (and its EMA) under fsdp, wrapped in DDP across processes otherwise."""
    wrapped = None if multi else _LossModule(model)
    if fsdp:
        shard_model(model, tc.precision, root=wrapped)
        if ema is not None:
            shard_model(ema.model, tc.precision, root=ema.model)
    elif wrapped is not None and dist.enabled:
        ids = [device.index] if device.type == "cuda" else None
        wrapped = DistributedDataParallel(wrapped, device_ids=ids)
    return wrapped


def _placement(tc: TrainConfig) -> tuple[torch.device, DistInfo, int]:
    """The device, the process group and this process's batch; refuses what cannot run there."""
    device = resolve_device(tc.device, where="train.device")
    dist = setup_distributed(device.type, tc.dist_timeout_s)
    if dist.enabled and device.type == "cuda":
        device = torch.device("cuda", dist.local_rank)
    if tc.precision == "fp16" and device.type != "cuda":
        raise ConfigError(
            "train.precision: fp16 needs a GradScaler and CUDA; on CPU use precision: bf16"
        )
    if tc.batch_size % dist.world_size:
        raise ConfigError(
            f"train.batch_size: {tc.batch_size} is not divisible by the "
            f"{dist.world_size} processes (batch_size is global)"
        )
    return device, dist, tc.batch_size // dist.world_size


def _seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _prepare_model(model: torch.nn.Module, tc: TrainConfig, device: torch.device) -> None:
    """Move ``model`` to ``device`` (channels-last when asked), check it trains, train mode."""
    model.to(device)
    if tc.channels_last:
        model.to(memory_format=torch.channels_last)
    _check_protocol(model, tc)
    model.train()


def _check_protocol(model: Any, tc: TrainConfig) -> None:
    """Refuse a model the Trainer cannot train with ``tc``, naming what it lacks."""
    name = getattr(model, "model_type", None) or type(model).__name__
    if not (hasattr(model, "compute_loss") or hasattr(model, "training_step")):
        raise TrainingError(
            f"model '{name}' cannot be trained: it has neither compute_loss(batch) -> dict "
            "nor training_step(batch, optimizers) -> dict"
        )
    if hasattr(model, "training_step") and not hasattr(model, "optimizer_groups"):
        raise TrainingError(
            f"model '{name}' has training_step but no optimizer_groups(train_config) "
            "giving its optimizers"
        )
    if tc.sample_every and not hasattr(model, "sample"):
        raise TrainingError(
            f"train.sample_every is set but model '{name}' has no sample(n, ...) method"
        )


def _make_optimizers(
    model: torch.nn.Module, tc: TrainConfig, device: torch.device
) -> dict[str, torch.optim.Optimizer]:
    """One AdamW per group of ``model.optimizer_groups(tc)`` (else one, ``model``)."""
    defaults = {
        "lr": tc.lr,
        "betas": tuple(tc.betas),
        "weight_decay": tc.weight_decay,
        "eps": tc.eps,
    }
    if hasattr(model, "optimizer_groups"):
        groups = model.optimizer_groups(tc)
        if not isinstance(groups, Mapping) or not groups:
            raise TrainingError("optimizer_groups(train_config) must return a non-empty dict")
    else:
        groups = {"model": {"params": [p for p in model.parameters() if p.requires_grad]}}
    optimizers = {}
    for name, group in groups.items():
        settings = {**defaults, **{k: v for k, v in dict(group).items() if k != "params"}}
        params = [p for p in group["params"] if p.requires_grad]
        if not params:
            raise TrainingError(f"optimizer '{name}' has no trainable parameters")
        settings["betas"] = tuple(settings["betas"])
        if device.type == "cuda":
            settings["fused"] = True
        opt = torch.optim.AdamW(params, **settings)
        for g in opt.param_groups:
            g["initial_lr"] = g["lr"]
        optimizers[name] = opt
    return optimizers


def _make_ema(model: torch.nn.Module, tc: TrainConfig) -> EMA | None:
    """The EMA ``train.ema`` asks for, else the one the model's config asks for (ddpm's ema)."""
    ema = tc.ema
    model_ema = getattr(getattr(model, "config", None), "ema", None)
    if ema is None and isinstance(model_ema, float) and 0.0 < model_ema < 1.0:
        ema = EMAConfig(decay=model_ema)
    return EMA(model, ema.decay, ema.start_step, ema.every) if ema else None


def _compile_networks(model: torch.nn.Module) -> None:
    """``torch.compile`` the forward of each submodule of ``model`` that holds trainable
    weights, in place: names in the state dict, checkpoints and the EMA copy are unchanged."""
    for child in model.children():
        if any(p.requires_grad for p in child.parameters()):
            child.compile()


class _LossModule(torch.nn.Module):
    """Routes ``forward`` to ``compute_loss`` so DDP (or FSDP's root unit) sees the call."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: Any) -> Any:
        return self.model.compute_loss(batch)


def _count_steps(size: int, tc: TrainConfig, world_size: int, local_batch: int) -> tuple[int, int]:
    """Batches per epoch of ``size`` items and the run's optimizer steps (train.steps or epochs)."""
    per_epoch = math.ceil(size / world_size)
    batches = per_epoch // local_batch if tc.drop_last else math.ceil(per_epoch / local_batch)
    if batches == 0:
        raise TrainingError(
            f"the dataset has {size} items, fewer than one batch of "
            f"{tc.batch_size} (set train.batch_size lower or train.drop_last: false)"
        )
    return batches, tc.steps or max(1, (tc.epochs * batches) // tc.grad_accumulation)
