"""Configs of the ``train`` and ``sample`` sections of a run config (torch-free)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import field_validator, model_validator

from core.schema import ComponentConfig, Field

__all__ = [
    "EMAConfig",
    "TrainConfig",
    "SampleConfig",
    "EvaluateConfig",
    "LRScheduleConfig",
    "CosineLRConfig",
    "LinearLRConfig",
    "RUN_SECTIONS",
]

#: top-level sections a run config may hold.
RUN_SECTIONS = ("model", "data", "train", "sample", "evaluate")


class EMAConfig(ComponentConfig):
    """Exponential moving average of the weights, used for sampling and saved with the run."""

    decay: float = Field(0.999, gt=0.0, lt=1.0, description="EMA decay per optimizer step")
    start_step: int = Field(0, ge=0, description="copy the weights until this step, then average")
    every: int = Field(1, ge=1, description="update the average every N optimizer steps")


class LRScheduleConfig(ComponentConfig):
    """An LR schedule without parameters (``constant``)."""


class CosineLRConfig(LRScheduleConfig):
    """Cosine decay after warm-up."""

    min_ratio: float = Field(0.0, ge=0.0, le=1.0, description="final LR as a fraction of lr")


class LinearLRConfig(LRScheduleConfig):
    """Linear decay after warm-up."""

    min_ratio: float = Field(0.0, ge=0.0, le=1.0, description="final LR as a fraction of lr")


class TrainConfig(ComponentConfig):
    """How a model is trained: optimisation, precision, EMA, checkpoints and logging."""

    steps: int | None = Field(
        None, ge=1, description="optimizer steps to train (give steps or epochs)"
    )
    epochs: int | None = Field(
        None, ge=1, description="passes over the data (used when steps is not given)"
    )
    batch_size: int = Field(
        64, ge=1, description="global micro-batch size (split across processes under torchrun)"
    )
    lr: float = Field(2e-4, gt=0.0, description="AdamW learning rate (peak, after warm-up)")
    betas: tuple[float, float] = Field((0.9, 0.999), description="AdamW betas")
    eps: float = Field(1e-8, gt=0.0, description="AdamW epsilon")
    weight_decay: float = Field(0.0, ge=0.0, description="AdamW decoupled weight decay")
    warmup_steps: int = Field(0, ge=0, description="linear LR warm-up from 0 over this many steps")
    lr_schedule: str | dict[str, Any] = Field(
        "cosine",
        description="after warm-up: an lr-schedule name or section (core components list "
        "lr-schedule): cosine, linear, constant or a plugin's",
    )
    min_lr_ratio: float | None = Field(
        None, ge=0.0, le=1.0, description="shorthand for lr_schedule's min_ratio (final LR / lr)"
    )
    grad_clip: float | None = Field(
        None, gt=0.0, description="clip the global gradient norm to this value (none: off)"
    )
    grad_accumulation: int = Field(
        1, ge=1, description="micro-batches per optimizer step (the loss is divided by it)"
    )
    precision: Literal["fp32", "bf16", "fp16"] = Field(
        "fp32", description="autocast: bf16 (CPU or CUDA) or fp16 with a GradScaler (CUDA only)"
    )
    strategy: Literal["ddp", "fsdp"] = Field(
        "ddp",
        description="under torchrun: ddp (replicated weights) or fsdp (FSDP2: weights, "
        "gradients and optimizer states sharded, checkpoints saved with DCP)",
    )
    dist_timeout_s: float = Field(
        1800.0,
        gt=0.0,
        le=86400.0,
        description="under torchrun: seconds the process group's store or one collective may "
        "wait before it fails (torchrun --max-restarts then restarts the workers)",
    )
    channels_last: bool = Field(
        False,
        description="4-D weights and image batches in channels-last layout (faster convolutions)",
    )
    compile: bool = Field(
        False,
        description="torch.compile each of the model's networks (its submodules with trainable "
        "weights); compiled against eager: docs/scaling.md",
    )
    ema: EMAConfig | None = Field(None, description="EMA of the weights (none: off)")
    ema_decay: float | None = Field(
        None, gt=0.0, lt=1.0, description="shorthand for ema: {decay: ...}"
    )
    seed: int = Field(0, ge=0, description="seed of initialisation, data order and noise")
    shuffle: bool = Field(True, description="reshuffle the data every epoch")
    drop_last: bool = Field(True, description="drop the last incomplete batch of an epoch")
    checkpoint_every: int | None = Field(
        None,
        ge=1,
        description="write a checkpoint every N steps (one is always written at the end)",
    )
    keep_checkpoints: int = Field(2, ge=1, description="how many step checkpoints to keep")
    sample_every: int | None = Field(
        None, ge=1, description="write samples_<step>.png every N steps (generative models)"
    )
    log_every: int = Field(10, ge=1, description="send scalars to the loggers every N steps")
    loggers: list[str | dict[str, Any]] = Field(
        default_factory=lambda: ["jsonl"],
        description="loggers the run sends its config, scalars and sample grids to: names or "
        "sections (core components list logger); [] logs nothing",
    )
    num_workers: int = Field(0, ge=0, description="DataLoader worker processes")
    threads: int | None = Field(
        None, ge=1, le=1024, description="torch CPU threads (none: torch's default)"
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="auto: CUDA when available, else CPU"
    )

    @field_validator("betas")
    @classmethod
    def _check_betas(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not all(0.0 <= b < 1.0 for b in value):
            raise ValueError(f"betas must lie in [0, 1), got {list(value)}")
        return value

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        if self.steps is None and self.epochs is None:
            raise ValueError("give train.steps or train.epochs")
        if self.steps is not None and self.epochs is not None:
            raise ValueError(
                f"give train.steps ({self.steps}) or train.epochs ({self.epochs}), not both"
            )
        if self.ema is not None and self.ema_decay is not None:
            raise ValueError("give ema: {decay: ...} or ema_decay, not both")
        if self.ema_decay is not None:
            object.__setattr__(self, "ema", EMAConfig(decay=self.ema_decay))
            object.__setattr__(self, "ema_decay", None)
        return self


class SampleConfig(ComponentConfig):
    """How samples are drawn for grids, ``core sample`` and ``core evaluate``."""

    n: int = Field(64, ge=1, le=100_000, description="number of samples in a grid")
    sampler: str | None = Field(None, description="sampler name passed to model.sample (optional)")
    steps: int | None = Field(None, ge=1, description="sampling steps passed to model.sample")
    batch_size: int = Field(256, ge=1, description="samples drawn per model.sample call")
    seed: int = Field(0, ge=0, description="seed of the sampling noise")
    nrow: int | None = Field(None, ge=1, description="images per grid row (default: about sqrt(n))")
    guidance_scale: float | None = Field(
        None,
        ge=0.0,
        description="classifier-free guidance scale passed to model.sample (diffusion models "
        "trained with label dropout; None = the model's default)",
    )


class EvaluateConfig(ComponentConfig):
    """Defaults of ``core evaluate`` for a run."""

    metric: str = Field("feature-fid", description="metric name (core components list metric)")
    n: int = Field(1000, ge=2, description="number of generated samples")
    split: Literal["train", "test"] = Field("test", description="reference split of the data")
