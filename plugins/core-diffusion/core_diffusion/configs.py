"""Configs of the diffusion components (torch-free)."""

from __future__ import annotations

import warnings
from typing import Any, Literal

from pydantic import AliasChoices, field_validator, model_validator

from core.schema import ComponentConfig, Field, runtime

__all__ = [
    "ScheduleConfig",
    "LinearScheduleConfig",
    "QuadraticScheduleConfig",
    "SigmoidScheduleConfig",
    "CosineScheduleConfig",
    "UNetConfig",
    "DDPMUNetConfig",
    "DiffusersUNetConfig",
    "DiffusersExporterConfig",
    "DDPMConfig",
    "DDPMSamplerConfig",
    "DDIMSamplerConfig",
    "DPMSolverConfig",
    "DPMSolverSDEConfig",
    "HeunKarrasConfig",
    "check_sampler",
    "noise_schedule_section",
    "check_noise_schedule",
    "check_diffusion_config",
]


def check_guidance_interval(value: Any) -> tuple[float, float] | None:
    """``(low, high)`` noise levels with ``0 <= low < high``, or None; ValueError otherwise."""
    if value is None:
        return None
    try:
        if isinstance(value, (str, bytes)):
            raise TypeError
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"needs two numbers [low, high], got {value!r}") from None
    if not 0.0 <= low < high:
        raise ValueError(f"needs 0 <= low < high, got [{low:g}, {high:g}]")
    return low, high


def noise_schedule_section(data: dict[str, Any]) -> dict[str, Any]:
    """``noise_schedule`` of a model section as a section: a bare name is ``{type: name}``.

    ``scheduler``, its former name, still works for a release, with a DeprecationWarning.
    """
    if "scheduler" in data:
        if "noise_schedule" in data:
            raise ValueError("give noise_schedule only (scheduler is its former name)")
        warnings.warn(
            "the model key 'scheduler' is now 'noise_schedule' (the kind noise-schedule); "
            "'scheduler' will stop working in the next release",
            DeprecationWarning,
            stacklevel=2,
        )
        data["noise_schedule"] = data.pop("scheduler")
    if isinstance(data.get("noise_schedule"), str):
        data["noise_schedule"] = {"type": data["noise_schedule"]}
    return data


def check_noise_schedule(section: dict[str, Any], timesteps: int) -> None:
    """A ``noise_schedule`` section has a type and no other number of timesteps."""
    if not section.get("type"):
        raise ValueError("noise_schedule must be a section with a 'type'")
    steps = section.get("timesteps", section.get("num_steps"))
    if steps is not None and steps != timesteps:
        raise ValueError(
            f"noise_schedule.timesteps ({steps}) disagrees with timesteps ({timesteps}); "
            "set timesteps only"
        )


def check_sampler(name: str) -> str:
    """``name`` if a registered sampler (of any plugin) answers to it, else a ValueError."""
    from core.building import get_entry
    from core.errors import UnknownComponentError

    try:
        get_entry("sampler", name)
    except UnknownComponentError as exc:
        raise ValueError(str(exc)) from None
    return name


def check_diffusion_config(config: Any) -> None:
    """A diffusion model's shared checks: a network section with a type, its noise schedule,
    a registered sampler and ``sample_steps`` at most ``timesteps``."""
    if not isinstance(config.network, dict) or not config.network.get("type"):
        raise ValueError("network must be a section with a 'type'")
    check_noise_schedule(config.noise_schedule, config.timesteps)
    check_sampler(config.sampler)
    if config.sample_steps is not None and config.sample_steps > config.timesteps:
        raise ValueError(
            f"sample_steps ({config.sample_steps}) exceeds timesteps ({config.timesteps})"
        )


# -- noise schedules ---------------------------------------------------------------------------
class ScheduleConfig(ComponentConfig):
    """Common to every noise schedule."""

    timesteps: int = Field(
        1000,
        ge=1,
        le=100_000,
        description="number of diffusion steps T (alias: num_steps)",
        validation_alias=AliasChoices("timesteps", "num_steps"),
    )


class LinearScheduleConfig(ScheduleConfig):
    """beta rises linearly from beta_start to beta_end."""

    beta_start: float = Field(1e-4, gt=0.0, lt=1.0, description="beta at the first step")
    beta_end: float = Field(0.02, gt=0.0, lt=1.0, description="beta at the last step")

    @model_validator(mode="after")
    def _ordered(self) -> LinearScheduleConfig:
        if self.beta_end < self.beta_start:
            raise ValueError(
                f"beta_end ({self.beta_end}) must be >= beta_start ({self.beta_start})"
            )
        return self


class QuadraticScheduleConfig(LinearScheduleConfig):
    """sqrt(beta) rises linearly from sqrt(beta_start) to sqrt(beta_end)."""


class SigmoidScheduleConfig(LinearScheduleConfig):
    """beta = sigmoid(linspace(-range, range, T)) scaled into [beta_start, beta_end]."""

    sigmoid_range: float = Field(6.0, gt=0.0, le=50.0, description="half-width of the logit grid")


class CosineScheduleConfig(ScheduleConfig):
    """Nichol & Dhariwal (2021): alpha_bar follows a squared cosine."""

    s: float = Field(0.008, ge=0.0, le=1.0, description="offset that keeps beta small near t=0")
    max_beta: float = Field(0.999, gt=0.0, lt=1.0, description="betas are clipped at this value")


# -- networks ----------------------------------------------------------------------------------
class UNetConfig(ComponentConfig):
    """A time-conditioned U-Net with GroupNorm/SiLU residual blocks and optional attention."""

    in_channels: int = Field(3, ge=1, le=4096, description="channels of the noisy input")
    out_channels: int | None = Field(
        None, ge=1, le=4096, description="channels of the prediction (None = in_channels)"
    )
    base_channels: int = Field(64, ge=1, le=4096, description="channels of the first level")
    channel_mults: list[int] | None = Field(
        None,
        min_length=1,
        max_length=8,
        description="channel multiplier per resolution level (default (1, 2, 2, 2))",
    )
    depth: int | None = Field(
        None,
        ge=1,
        le=8,
        description="number of levels; sets channel_mults to (1, 2, 4, 4, ...) when they are not given",
    )
    num_res_blocks: int = Field(2, ge=1, le=16, description="residual blocks per level")
    attention_resolutions: list[int] = Field(
        default_factory=list,
        description="feature-map sizes (pixels) that get self-attention, e.g. [16]",
    )
    attention_heads: int = Field(4, ge=1, le=64, description="heads of each attention layer")
    image_size: int = Field(
        32, ge=1, le=4096, description="input size, used to place attention layers"
    )
    time_dim: int | None = Field(
        None, ge=2, le=16384, description="time-embedding width (None = 4 * base_channels)"
    )
    norm_groups: int = Field(32, ge=1, le=1024, description="GroupNorm groups (at most)")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout inside residual blocks")
    cond_channels: int = Field(
        0, ge=0, le=4096, description="channels of a conditioning image concatenated to the input"
    )
    num_classes: int = Field(0, ge=0, description="class labels y for conditioning (0 = none)")
    null_class: bool = Field(
        False,
        description="one more label embedding (index num_classes) for the unconditional "
        "prediction of classifier-free guidance; ddpm sets it when label_dropout > 0",
    )

    @model_validator(mode="after")
    def _levels(self) -> UNetConfig:
        if self.channel_mults is None:
            depth = self.depth or 4
            mults = [min(2**i, 4) for i in range(depth)] if self.depth else [1, 2, 2, 2]
            object.__setattr__(self, "channel_mults", mults)
        elif self.depth is not None and self.depth != len(self.channel_mults):
            raise ValueError(
                f"depth ({self.depth}) disagrees with channel_mults {self.channel_mults} "
                f"({len(self.channel_mults)} levels); give one of them"
            )
        if any(m < 1 for m in self.channel_mults):
            raise ValueError(f"channel_mults must be positive, got {self.channel_mults}")
        object.__setattr__(self, "depth", len(self.channel_mults))
        factor = 2 ** (len(self.channel_mults) - 1)
        if self.image_size % factor:
            raise ValueError(
                f"image_size {self.image_size} is not divisible by {factor}, the U-Net's "
                f"downsampling factor with {len(self.channel_mults)} levels"
            )
        sizes = [self.image_size // 2**i for i in range(len(self.channel_mults))]
        unused = sorted(set(self.attention_resolutions) - set(sizes))
        if unused:
            raise ValueError(
                f"attention_resolutions {unused} match no level; the levels of a "
                f"{self.image_size}px input have sizes {sizes}"
            )
        return self


class DDPMUNetConfig(ComponentConfig):
    """The Frameworm DDPM U-Net: three levels, ReLU residual blocks, max-pool down, nearest up."""

    in_channels: int = Field(3, ge=1, le=4096, description="image channels")
    out_channels: int | None = Field(
        None, ge=1, le=4096, description="channels of the prediction (None = in_channels)"
    )
    base_channels: int = Field(128, ge=1, le=4096, description="channels of the first level")
    time_dim: int = Field(128, ge=2, le=16384, description="time-embedding width (even)")
    num_classes: int = Field(0, ge=0, description="class labels y for conditioning (0 = none)")
    null_class: bool = Field(
        False,
        description="one more label embedding (index num_classes) for the unconditional "
        "prediction of classifier-free guidance; ddpm sets it when label_dropout > 0",
    )

    @field_validator("time_dim")
    @classmethod
    def _even(cls, value: int) -> int:
        if value % 2:
            raise ValueError(f"time_dim must be even, got {value}")
        return value


def _block_types(description: str) -> Any:
    """An optional list of diffusers block class names, one per level."""
    return Field(None, min_length=1, max_length=8, description=description)


class DiffusersUNetConfig(ComponentConfig):
    """diffusers' ``UNet2DModel`` as a denoising network (the extra ``core-diffusion[diffusers]``).

    Options left unset come from ``pretrained`` when it is given, else from the defaults in
    their descriptions; given ones must agree with a ``pretrained`` folder.
    """

    in_channels: int | None = Field(
        None, ge=1, le=4096, description="channels of the noisy input (ddpm fills it)"
    )
    out_channels: int | None = Field(
        None, ge=1, le=4096, description="channels of the prediction (None = in_channels)"
    )
    image_size: int | None = Field(
        None, ge=1, le=4096, description="UNet2DModel's sample_size (ddpm fills it)"
    )
    block_out_channels: list[int] | None = Field(
        None, min_length=1, max_length=8, description="channels per level (default [32, 64, 64])"
    )
    layers_per_block: int | None = Field(
        None, ge=1, le=16, description="residual blocks per level (default 2)"
    )
    down_block_types: list[str] | None = _block_types(
        "diffusers' block per level, e.g. DownBlock2D or AttnDownBlock2D "
        "(default DownBlock2D at every level)"
    )
    up_block_types: list[str] | None = _block_types(
        "diffusers' up block per level, deepest first (default: down_block_types mirrored, "
        "AttnDownBlock2D -> AttnUpBlock2D)"
    )
    attention_head_dim: int | None = Field(
        None, ge=1, le=4096, description="channels per attention head (default 8)"
    )
    norm_num_groups: int | None = Field(
        None,
        ge=1,
        le=1024,
        description="GroupNorm groups; divides every level's channels (default 8)",
    )
    dropout: float | None = Field(
        None, ge=0.0, lt=1.0, description="dropout inside residual blocks (default 0)"
    )
    num_classes: int = Field(
        0, ge=0, description="class labels y, through num_class_embeds (0 = none)"
    )
    null_class: bool = Field(
        False,
        description="one more class embedding (index num_classes) for the unconditional "
        "prediction of classifier-free guidance; ddpm sets it when label_dropout > 0",
    )
    pretrained: str | None = Field(
        None,
        description="a local UNet2DModel folder saved by diffusers (config.json and weights) "
        "to start from; read once, when the network is first built",
    )


class DiffusersExporterConfig(ComponentConfig):
    """``diffusers``: a ``ddpm`` as a pipeline folder ``DDPMPipeline.from_pretrained`` loads."""

    tolerance: float = Field(
        1e-4,
        gt=0,
        description="largest max-abs difference accepted between the exported UNet2DModel and "
        "the network it was copied from (checked on random inputs at every export)",
    )


# -- samplers ----------------------------------------------------------------------------------
Spacing = Literal["linear", "quadratic", "logsnr", "karras", "leading"]
_SPACING = (
    "timestep grid: linear in t, quadratic in t, uniform in log-SNR, the Karras sigma grid, "
    "or leading (diffusers' default: multiples of T // steps down to 0)"
)
#: diffusers' lambda_min_clipped value for the cosine schedule; no-op for linear (-5.06 at T).
LAMBDA_MIN_CLIPPED = -5.1


class DDPMSamplerConfig(ComponentConfig):
    """Ancestral DDPM sampling (Ho et al. 2020)."""

    spacing: Spacing = runtime("linear", description=_SPACING)

    steps: int | None = runtime(
        None, ge=1, description="network evaluations (None = every timestep; fewer = respaced)"
    )
    variance: Literal["posterior", "beta"] = runtime(
        "posterior", description="noise variance: posterior beta_tilde or beta"
    )


class DDIMSamplerConfig(ComponentConfig):
    """DDIM (Song et al. 2021); eta=0 is deterministic, eta=1 matches DDPM."""

    spacing: Spacing = runtime("linear", description=_SPACING)

    steps: int | None = runtime(50, ge=1, description="network evaluations (None = every step)")
    eta: float = runtime(0.0, ge=0.0, le=10.0, description="stochasticity (0 = deterministic)")


_STOCHASTIC = "SDE-DPM-Solver++: fresh noise every step (the reverse SDE, not the ODE)"


class DPMSolverConfig(ComponentConfig):
    """DPM-Solver++ (Lu et al. 2022), multistep, data prediction."""

    spacing: Spacing = runtime("logsnr", description=_SPACING)

    steps: int | None = runtime(20, ge=1, description="network evaluations (10-25 is typical)")
    order: Literal[1, 2] = runtime(2, description="1 = DDIM-like, 2 = DPM-Solver++(2M)")
    stochastic: bool = runtime(
        False,
        description=_STOCHASTIC,
    )
    lower_order_final: bool = runtime(
        True,
        description="first order on the last step when steps < 15 (diffusers' default); "
        "false stays second order to the end",
    )
    lambda_min_clipped: float | None = runtime(
        LAMBDA_MIN_CLIPPED,
        description="logsnr/karras grids start where log-SNR falls below this (None = at T-1)",
    )


class DPMSolverSDEConfig(DPMSolverConfig):
    """SDE-DPM-Solver++(2M) (Lu et al. 2022): DPM-Solver++ on the reverse SDE."""

    stochastic: bool = runtime(
        True,
        description=_STOCHASTIC,
    )


class HeunKarrasConfig(ComponentConfig):
    """Heun's 2nd-order ODE solver on the Karras et al. (2022) sigma grid (EDM sampler)."""

    spacing: Spacing = runtime("karras", description=_SPACING)
    steps: int | None = runtime(
        10, ge=1, description="noise levels N; the network is evaluated 2N - 1 times"
    )
    rho: float = runtime(7.0, gt=0.0, le=100.0, description="Karras grid exponent (EDM: 7)")
    lambda_min_clipped: float | None = runtime(
        LAMBDA_MIN_CLIPPED,
        description="the grid starts where log-SNR falls below this (None = at T-1)",
    )


# -- the DDPM model ----------------------------------------------------------------------------
class DDPMConfig(ComponentConfig):
    """A denoising diffusion model around any registered denoising network."""

    timesteps: int = Field(
        1000,
        ge=1,
        le=100_000,
        description="diffusion steps T (alias: num_steps)",
        validation_alias=AliasChoices("timesteps", "num_steps"),
    )
    image_size: int = Field(32, ge=1, le=4096, description="image height and width")
    channels: int = Field(3, ge=1, le=4096, description="image channels")
    data_dim: int = Field(
        0, ge=0, description="> 0: data are vectors (B, data_dim) instead of images"
    )
    network: dict[str, Any] | None = Field(
        None,
        description="denoising network section (type + options); default ddpm-unet, base 128",
    )
    base_channels: int | None = Field(
        None, ge=1, description="flat form: base_channels of the default ddpm-unet network"
    )
    noise_schedule: dict[str, Any] = Field(
        default_factory=lambda: {"type": "linear"},
        description="noise schedule section (type: linear, cosine, quadratic or sigmoid); "
        "formerly scheduler",
    )
    prediction: Literal["epsilon", "v"] = Field(
        "epsilon", description="what the network predicts: the noise or v"
    )
    loss_weighting: Literal["none", "min-snr"] = Field(
        "none",
        description="per-timestep loss weight: none, or min-SNR-gamma (Hang et al. 2023)",
    )
    min_snr_gamma: float = Field(
        5.0, gt=0.0, le=1000.0, description="gamma of loss_weighting: min-snr"
    )
    label_dropout: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="probability of replacing a class label by the null class in training "
        "(classifier-free guidance; > 0 gives the network its null class)",
    )
    ema: float = runtime(
        0.0,
        ge=0.0,
        lt=1.0,
        description="intended EMA decay, recorded only: the trainer's EMA is train.ema_decay",
    )
    sampler: str = runtime("ddpm", description="default sampler: any registered sampler")
    sample_steps: int | None = runtime(
        None, ge=1, description="default sampling steps (None = the sampler's default)"
    )
    clip_denoised: bool = runtime(
        True, description="clamp each predicted x0 to [-1, 1] while sampling images"
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
        description="guide only at noise levels sigma = sqrt((1 - alpha_bar) / alpha_bar) in "
        "(low, high], the conditional prediction alone elsewhere (Kynkaanniemi et al. 2024); "
        "None guides every step",
    )

    @field_validator("guidance_interval")
    @classmethod
    def _interval(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        return check_guidance_interval(value)

    @model_validator(mode="before")
    @classmethod
    def _flat_form(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        base = data.pop("base_channels", None)
        network = data.get("network")
        if network is None:
            network = {"type": "ddpm-unet", "base_channels": 128 if base is None else base}
        elif isinstance(network, dict):
            network = dict(network)
            network.setdefault("type", "ddpm-unet")
            if base is not None:
                if network.get("base_channels", base) != base:
                    raise ValueError(
                        f"base_channels ({base}) disagrees with network.base_channels "
                        f"({network['base_channels']}); give it once"
                    )
                network["base_channels"] = base
        data["network"] = network
        return noise_schedule_section(data)

    @model_validator(mode="after")
    def _checks(self) -> DDPMConfig:
        check_diffusion_config(self)
        if self.network.get("type") in ("ddpm-unet", "unet") and not self.data_dim:
            factor = _downsampling(self.network)
            if self.image_size % factor:
                raise ValueError(
                    f"image_size {self.image_size} is not divisible by {factor}, the "
                    f"downsampling factor of network '{self.network['type']}'"
                )
        return self


def _downsampling(network: dict[str, Any]) -> int:
    if network.get("type") == "ddpm-unet":
        return 8
    mults = network.get("channel_mults")
    levels = len(mults) if isinstance(mults, list) else network.get("depth") or 4
    return 2 ** (int(levels) - 1)
