"""Configs of core-flow's components (pydantic, torch-free).

Every field has a default, bounds and a one-line description: ``core info NAME`` and
``core schema NAME`` show them. Fields made with ``runtime(...)`` are safe to change on
loaded weights; every other field is structural (it defines the weights).
"""

from __future__ import annotations

from typing import Any, Literal

from core.schema import ComponentConfig, Field, runtime
from core_diffusion.configs import check_guidance_interval
from pydantic import field_validator, model_validator

__all__ = ["FlowConfig", "FlowSamplerConfig"]


class FlowConfig(ComponentConfig):
    """Flow matching (linear path x_t = (1 - t) x_0 + t e, velocity target e - x_0) around
    any registered denoising network."""

    image_size: int = Field(32, ge=1, le=4096, description="image height and width")
    channels: int = Field(3, ge=1, le=4096, description="image channels")
    data_dim: int = Field(
        0, ge=0, description="> 0: data are vectors (B, data_dim) instead of images"
    )
    network: dict[str, Any] = Field(
        default_factory=lambda: {"type": "ddpm-unet", "base_channels": 64},
        description="velocity network section (type + options), any registered denoising "
        "network; default ddpm-unet, base 64",
    )
    time_scale: float = Field(
        1000.0,
        gt=0.0,
        le=1e6,
        description="the network sees t * time_scale (t in [0, 1]): the timestep range its "
        "time embedding was made for (a DDPM's T)",
    )
    objective: Literal["flow-matching", "mean-flow", "shortcut"] = Field(
        "flow-matching",
        description="flow-matching: the velocity at t (samplers need 4-20 steps); mean-flow: "
        "the average velocity over [r, t] (MeanFlow, Geng et al. 2025: 1-4 steps); shortcut: "
        "the same, learned by self-consistency (Frans et al. 2025)",
    )
    interval_share: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="mean-flow, shortcut: share of each batch trained on an interval r < t "
        "(the rest has r = t, plain flow matching)",
    )
    time_distribution: Literal["uniform", "logit-normal"] = Field(
        "uniform",
        description="training times: t ~ U(0, 1), or sigmoid of N(logit_mean, logit_std^2)",
    )
    logit_mean: float = Field(
        -0.4, ge=-10.0, le=10.0, description="logit-normal times: mean of the normal"
    )
    logit_std: float = Field(
        1.0, gt=0.0, le=10.0, description="logit-normal times: std of the normal"
    )
    loss_weight_power: float = Field(
        0.0,
        ge=0.0,
        le=2.0,
        description="adaptive loss weight 1 / (loss + 1e-3)^p per sample, without gradient "
        "(MeanFlow uses p = 1); 0 = the plain mean squared error",
    )
    label_dropout: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="probability of replacing a class label by the null class in training "
        "(classifier-free guidance; > 0 gives the network its null class)",
    )
    sampler: str = runtime("flow-euler", description="default sampler: a flow sampler")
    sample_steps: int | None = runtime(
        None, ge=1, description="default sampling steps (None = the sampler's default)"
    )
    guidance_scale: float = runtime(
        1.0,
        ge=0.0,
        le=100.0,
        description="default classifier-free guidance scale of sample() (1 = none; needs "
        "label_dropout > 0 otherwise)",
    )
    guidance_interval: tuple[float, float] | None = runtime(
        None,
        description="guide only at noise levels sigma = t / (1 - t) in (low, high], the "
        "conditional prediction alone elsewhere; None guides every step",
    )

    @field_validator("guidance_interval")
    @classmethod
    def _interval(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        return check_guidance_interval(value)

    @model_validator(mode="before")
    @classmethod
    def _network_type(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("network"), dict):
            data = {**data, "network": {"type": "ddpm-unet", **data["network"]}}
        return data


class FlowSamplerConfig(ComponentConfig):
    """An ODE solver for dx/dt = v(x, t) from t = 1 (noise) to t = 0 (data)."""

    steps: int | None = runtime(
        20, ge=1, le=10_000, description="solver steps (heun and midpoint: 2 evaluations each)"
    )
    shift: float = runtime(
        1.0,
        gt=0.0,
        le=1000.0,
        description="time grid t' = s t / (1 + (s - 1) t) of a uniform t: 1 = uniform, > 1 "
        "denser near the noise end (t = 1)",
    )
