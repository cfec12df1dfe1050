"""Helpers shared by latent diffusion and ControlNet: loading frozen parts, sampling."""

from __future__ import annotations

from typing import Any

import torch

from core import BaseModel, build
from core.errors import ConfigError, CoreError

__all__ = ["load_source", "run_sampler", "make_sampler"]


def load_source(section: dict[str, Any], where: str) -> BaseModel:
    """A model from ``{pretrained: NAME}``, ``{checkpoint: DIR}`` or ``{config: section}``."""
    if section.get("config") is not None:
        return build("model", dict(section["config"]), where=f"{where}.config")
    reference = section.get("pretrained") or section.get("checkpoint")
    try:
        return BaseModel.from_pretrained(str(reference))
    except CoreError as exc:
        key = "pretrained" if section.get("pretrained") else "checkpoint"
        raise type(exc)(f"model.{where}.{key}: {exc}") from None


def make_sampler(name: str, where: str = "sampler") -> Any:
    """A registered sampler by name."""
    return build("sampler", {"type": name}, where=where)


def run_sampler(
    sampler: str,
    steps: int | None,
    model_fn: Any,
    shape: tuple[int, ...],
    schedule: Any,
    *,
    prediction: str,
    device: Any,
    generator: torch.Generator | None = None,
    clip_x0: float | None = None,
    x_T: torch.Tensor | None = None,
    **conditioning: Any,
) -> torch.Tensor:
    """Run a registered sampler (``ddpm``, ``ddim``, ``dpm-solver++``) from pure noise."""
    instance = make_sampler(sampler)
    if steps is not None and steps > schedule.timesteps:
        raise ConfigError(f"steps ({steps}) exceeds the schedule's {schedule.timesteps} timesteps")
    options = {"steps": steps} if steps is not None else {}
    return instance(
        model_fn,
        shape,
        schedule,
        generator=generator,
        device=device,
        prediction=prediction,
        clip_x0=clip_x0,
        x_T=x_T,
        **options,
        **conditioning,
    )
