"""A ``ddpm`` as a diffusers pipeline folder (``model_index.json``, ``unet/``, ``scheduler/``).

``write_pipeline(model, folder)`` fills a folder that ``diffusers.DDPMPipeline.from_pretrained``
loads offline; ``export_diffusers(model, target)`` writes it as one unit (``core.atomic``).
The network becomes a ``UNet2DModel``: a ``diffusers-unet`` as it is, core-diffusion's ``unet``
by copying its weights where the architecture maps (outputs checked equal); the noise schedule
becomes a ``DDPMScheduler`` with the same betas. What has no equivalent is refused in one
``ExportError`` naming it.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any

import torch

from core.atomic import atomic_directory
from core.errors import ExportError
from core.exporters.base import Exporter
from core_diffusion.configs import DiffusersExporterConfig
from core_diffusion.diffusers_unet import DiffusersUNet, require_diffusers
from core_diffusion.unet import UNet

__all__ = [
    "scheduler_options",
    "unet_from_network",
    "write_pipeline",
    "export_diffusers",
    "DiffusersExporter",
    "PREDICTIONS",
]

#: our prediction -> diffusers' prediction_type.
PREDICTIONS = {"epsilon": "epsilon", "v": "v_prediction"}
#: our noise schedule -> diffusers' beta_schedule, with the options that must hold for it.
_SCHEDULES: dict[str, tuple[str, dict[str, float]]] = {
    "linear": ("linear", {}),
    "quadratic": ("scaled_linear", {}),
    "cosine": ("squaredcos_cap_v2", {"s": 0.008, "max_beta": 0.999}),
    "sigmoid": ("sigmoid", {"sigmoid_range": 6.0}),
}
#: largest difference accepted between our betas and the exported scheduler's (float32).
_BETA_TOLERANCE = 1e-6


def scheduler_options(model: Any) -> dict[str, Any]:
    """``DDPMScheduler`` options giving ``model``'s betas, prediction type and sampling."""
    schedule = model.schedule
    name = str(schedule.model_type)
    if name not in _SCHEDULES:
        known = ", ".join(_SCHEDULES)
        raise ExportError(
            f"noise schedule '{name}' has no diffusers beta_schedule (those that map: {known})"
        )
    beta_schedule, required = _SCHEDULES[name]
    for field, value in required.items():
        if getattr(schedule.config, field) != value:
            raise ExportError(
                f"noise_schedule.{field} is {getattr(schedule.config, field)}; diffusers' "
                f"{beta_schedule} schedule fixes it at {value}"
            )
    prediction = model.config.prediction
    if prediction not in PREDICTIONS:
        raise ExportError(f"prediction '{prediction}' has no diffusers prediction_type")
    options: dict[str, Any] = {
        "num_train_timesteps": schedule.timesteps,
        "beta_schedule": beta_schedule,
        "prediction_type": PREDICTIONS[prediction],
        "clip_sample": bool(model.config.clip_denoised),
        "clip_sample_range": 1.0,
        "variance_type": "fixed_small",
        "timestep_spacing": "leading",
    }
    if hasattr(schedule.config, "beta_start"):
        options.update(beta_start=schedule.config.beta_start, beta_end=schedule.config.beta_end)
    return options


def unet_from_network(network: Any, tolerance: float = 1e-4) -> Any:
    """A ``UNet2DModel`` computing what ``network`` computes (a copy; never shared)."""
    require_diffusers()
    if isinstance(network, DiffusersUNet):
        return copy.deepcopy(network.unet).eval()
    if not isinstance(network, UNet):
        name = getattr(network, "model_type", None) or type(network).__name__
        raise ExportError(
            f"network '{name}' has no UNet2DModel equivalent (only unet and diffusers-unet "
            "networks map; ddpm-unet's ReLU blocks and max-pool downsampling do not)"
        )
    return _mapped_unet(network, tolerance)


def _mapped_unet(network: Any, tolerance: float) -> Any:
    """core-diffusion's ``unet`` as a ``UNet2DModel`` with its weights, outputs checked."""
    diffusers = require_diffusers()
    unet = diffusers.UNet2DModel(**_unet_options(network.config))
    state = _translated_state(network.state_dict())
    missing, unexpected = unet.load_state_dict(state, strict=False)
    if missing or unexpected:  # a mapping bug, not the user's: say which weights
        raise ExportError(
            f"unet -> UNet2DModel: weights without a place: missing {sorted(missing)[:3]}, "
            f"unexpected {sorted(unexpected)[:3]}"
        )
    unet = unet.to(next(network.parameters()).device).eval()
    _check_outputs(network, unet, tolerance)
    return unet


def _unet_options(c: Any) -> dict[str, Any]:
    """UNet2DModel options of a ``unet`` config, or the field that has no equivalent."""
    if c.cond_channels:
        raise ExportError(
            f"unet.cond_channels is {c.cond_channels}; UNet2DModel takes no conditioning image"
        )
    if c.num_classes:
        raise ExportError(
            f"unet.num_classes is {c.num_classes}; the unet adds its label embedding after the "
            "time MLP's last SiLU, UNet2DModel's class embedding before it (train a "
            "diffusers-unet network to export a class-conditional model)"
        )
    if c.channel_mults[0] != 1:
        raise ExportError(
            f"unet.channel_mults starts at {c.channel_mults[0]}; UNet2DModel's first level "
            "has the input conv's channels (a first multiplier of 1)"
        )
    channels = [c.base_channels * m for m in c.channel_mults]
    for ch in channels:
        if ch % c.norm_groups:
            raise ExportError(
                f"unet.norm_groups ({c.norm_groups}) does not divide {ch} channels; "
                "UNet2DModel's GroupNorm needs it to (the unet falls back to fewer groups)"
            )
    sizes = [c.image_size // 2**level for level in range(len(channels))]
    attention = [size in c.attention_resolutions for size in sizes]
    widths = {ch // _heads(ch, c.attention_heads) for ch, a in zip(channels, attention) if a}
    if any(attention):
        widths.add(channels[-1] // _heads(channels[-1], c.attention_heads))
    if len(widths) > 1:
        raise ExportError(
            f"unet.attention_heads ({c.attention_heads}) gives attention heads of "
            f"{sorted(widths)} channels; UNet2DModel has one attention_head_dim"
        )
    down = ["AttnDownBlock2D" if a else "DownBlock2D" for a in attention]
    return {
        "sample_size": c.image_size,
        "in_channels": c.in_channels,
        "out_channels": c.out_channels or c.in_channels,
        "block_out_channels": channels,
        "layers_per_block": c.num_res_blocks,
        "down_block_types": down,
        "up_block_types": [b.replace("Down", "Up") for b in reversed(down)],
        "attention_head_dim": widths.pop() if widths else 8,
        "norm_num_groups": c.norm_groups,
        "dropout": c.dropout,
        "time_embedding_dim": c.time_dim or 4 * c.base_channels,
        "flip_sin_to_cos": False,  # our sinusoidal embedding: [sin, cos], frequencies over half - 1
        "freq_shift": 1,
        "add_attention": any(attention),
    }


def _heads(channels: int, heads: int) -> int:
    return heads if channels % heads == 0 else 1  # as unet.SelfAttention


#: key prefixes of the unet -> UNet2DModel's, in order (the first match applies).
_PREFIXES = (
    (r"time_mlp\.0\.", "time_embedding.linear_1."),
    (r"time_mlp\.2\.", "time_embedding.linear_2."),
    (r"norm_out\.", "conv_norm_out."),
    (r"mid1\.", "mid_block.resnets.0."),
    (r"mid2\.", "mid_block.resnets.1."),
    (r"mid_attn\.", "mid_block.attentions.0."),
    (r"(down|up)\.(\d+)\.blocks\.(\d+)\.", r"\1_blocks.\2.resnets.\3."),
    (r"(down|up)\.(\d+)\.attn\.(\d+)\.", r"\1_blocks.\2.attentions.\3."),
    (r"down\.(\d+)\.downsample\.", r"down_blocks.\1.downsamplers.0.conv."),
    (r"up\.(\d+)\.upsample\.", r"up_blocks.\1.upsamplers.0.conv."),
)
#: layer names inside a residual block or an attention layer.
_LAYERS = {
    "time": "time_emb_proj",
    "skip": "conv_shortcut",
    "norm": "group_norm",
    "proj": "to_out.0",
}


def _translated_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The unet's state dict under UNet2DModel's keys (qkv split into to_q, to_k, to_v)."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        for pattern, replacement in _PREFIXES:
            if re.match(pattern, key):
                key = re.sub(pattern, replacement, key, count=1)
                break
        *path, layer, leaf = key.split(".")
        head = ".".join(path)
        if "attentions" in head and layer in ("qkv", "proj") and value.ndim == 4:
            value = value.flatten(1)  # 1x1 conv -> linear
        if "attentions" in head and layer == "qkv":
            for name, part in zip(("to_q", "to_k", "to_v"), value.chunk(3)):
                out[f"{head}.{name}.{leaf}"] = part
            continue
        if "resnets" in head or "attentions" in head:
            key = f"{head}.{_LAYERS.get(layer, layer)}.{leaf}"
        out[key] = value
    return out


def _check_outputs(network: Any, unet: Any, tolerance: float) -> None:
    """Refuse a copy whose outputs differ from the network's on random inputs."""
    c = network.config
    g = torch.Generator().manual_seed(0)
    device = next(network.parameters()).device
    x = torch.randn(2, c.in_channels, c.image_size, c.image_size, generator=g).to(device)
    t = torch.tensor([10, 900], device=device)
    was_training = network.training
    network.eval()
    try:
        with torch.no_grad():
            diff = (network(x, t) - unet(x, t).sample).abs().max().item()
    finally:
        network.train(was_training)
    if not diff <= tolerance:
        raise ExportError(
            f"unet -> UNet2DModel: outputs differ by {diff:.3g} (> {tolerance:g}) after the "
            "weight copy"
        )


def write_pipeline(model: Any, directory: str | os.PathLike[str], tolerance: float = 1e-4) -> str:
    """Fill ``directory`` with a ``DDPMPipeline`` of ``model`` (a ``ddpm``); a summary line."""
    diffusers = require_diffusers()
    if getattr(model.config, "data_dim", 0):
        raise ExportError(
            f"ddpm.data_dim is {model.config.data_dim}; a diffusers pipeline denoises images "
            "(UNet2DModel), not vectors"
        )
    options = scheduler_options(model)
    scheduler = diffusers.DDPMScheduler(**options)
    ours = model.schedule.betas.detach().double().cpu()
    diff = (scheduler.betas.double() - ours).abs().max().item()
    if not diff <= _BETA_TOLERANCE:
        raise ExportError(f"the {options['beta_schedule']} betas differ from ours by {diff:.3g}")
    unet = unet_from_network(model.network, tolerance).cpu()
    if any(p.dtype != torch.float32 for p in unet.parameters()):
        unet = unet.float()  # a half-precision run is exported in float32
    pipeline = diffusers.DDPMPipeline(unet=unet, scheduler=scheduler)
    pipeline.save_pretrained(Path(directory), safe_serialization=True)
    classes = unet.config.num_class_embeds
    labels = f", {classes} class embeddings" if classes else ""
    return (
        f"DDPMPipeline: UNet2DModel of {sum(p.numel() for p in unet.parameters()):,} "
        f"parameters{labels}; DDPMScheduler {options['beta_schedule']}, "
        f"{options['prediction_type']}"
    )


def export_diffusers(
    model: Any,
    target: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    tolerance: float = 1e-4,
) -> str:
    """Write ``model`` as a diffusers pipeline folder ``target``, as one unit; a summary line."""
    with atomic_directory(target, overwrite=overwrite) as staging:
        return write_pipeline(model, staging, tolerance)


class DiffusersExporter(Exporter):
    """``core export RUN --format diffusers -o DIR``: a ``ddpm`` as a ``DDPMPipeline`` folder."""

    config_class = DiffusersExporterConfig
    accepts = ("ddpm",)

    def check_ready(self) -> None:
        """Refuse before the model is loaded when diffusers is not installed."""
        require_diffusers()

    def export(self, model: Any, directory: Path, **context: Any) -> str:
        return write_pipeline(model, directory, self.config.tolerance)
