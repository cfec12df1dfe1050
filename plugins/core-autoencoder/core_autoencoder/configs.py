"""Configs of the autoencoder family (torch-free)."""

from __future__ import annotations

import re
from typing import Any, Literal

from core_diffusion.configs import check_diffusion_config, check_sampler, noise_schedule_section
from pydantic import BaseModel as _Pydantic
from pydantic import ConfigDict, field_validator, model_validator

from core.data.configs import max_pixels_field
from core.schema import ComponentConfig, Field, runtime

__all__ = [
    "ConvEncoderConfig",
    "HeadSpec",
    "ConvDecoderConfig",
    "RGBHeadConfig",
    "SegmentationHeadConfig",
    "ClassificationHeadConfig",
    "ReconstructionLossConfig",
    "KLDLossConfig",
    "CrossEntropyLossConfig",
    "LatentStandardizationLossConfig",
    "CompositeLossConfig",
    "AutoencoderConfig",
    "ColumnSpec",
    "ManifestConfig",
    "DerivedTargetsConfig",
    "LatentDiffusionConfig",
    "ImageAdapterConfig",
    "VectorAdapterConfig",
    "ControlNetConfig",
]

# -- encoder / decoder ------------------------------------------------------------------------


class ConvEncoderConfig(ComponentConfig):
    """Convolutional encoder: each step halves the resolution and doubles the channels."""

    in_channels: int = Field(3, ge=1, le=64, description="channels of the input image")
    latent_channels: int = Field(4, ge=1, le=1024, description="channels of the latent map")
    base_channels: int = Field(32, ge=1, le=1024, description="channels after the first step")
    downsampling_steps: int = Field(
        2, ge=0, le=6, description="stride-2 steps; the latent is H / 2**steps wide"
    )
    variational: bool = Field(False, description="predict mu and logvar instead of a latent")
    norm_groups: int = Field(
        8, ge=1, le=64, description="GroupNorm groups (reduced to a divisor of the channels)"
    )


class HeadSpec(_Pydantic):
    """One decoder head: ``{type, name, ...head parameters}`` (e.g. ``out_channels``)."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)

    type: str = Field(description="registered head name (rgb, segmentation, classification)")
    name: str | None = Field(None, description="output key (default: the head type)")
    source: Literal["features", "latent"] = Field(
        "features", description="read the decoder's last feature map or the latent"
    )


class ConvDecoderConfig(ComponentConfig):
    """Mirror of ``conv-encoder`` with transposed convolutions, ending in named heads."""

    latent_channels: int = Field(4, ge=1, le=1024, description="channels of the latent map")
    base_channels: int = Field(32, ge=1, le=1024, description="channels before the heads")
    upsampling_steps: int = Field(2, ge=0, le=6, description="stride-2 transposed-conv steps")
    norm_groups: int = Field(
        8, ge=1, le=64, description="GroupNorm groups (reduced to a divisor of the channels)"
    )
    heads: list[HeadSpec] = Field(
        default_factory=lambda: [HeadSpec(type="rgb", name="rgb")],
        min_length=1,
        description="output heads; the forward pass returns one entry per head name",
    )

    @field_validator("heads")
    @classmethod
    def _unique_names(cls, heads: list[HeadSpec]) -> list[HeadSpec]:
        names = [h.name or h.type for h in heads]
        for n in names:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", n):
                raise ValueError(f"head name {n!r} must be letters, digits, '_' or '-'")
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(
                f"head names must be unique, {', '.join(duplicated)} appears more than once "
                "(give each head a distinct 'name')"
            )
        reserved = {"latent", "mu", "logvar"} & set(names)
        if reserved:
            raise ValueError(f"head name(s) {', '.join(sorted(reserved))} are reserved")
        return heads


# -- heads ------------------------------------------------------------------------------------


class RGBHeadConfig(ComponentConfig):
    """Image head: 3x3 conv then tanh (outputs in [-1, 1])."""

    in_channels: int = Field(32, ge=1, description="channels of the features it reads")
    out_channels: int = Field(3, ge=1, le=64, description="image channels")
    activation: Literal["tanh", "sigmoid", "none"] = Field(
        "tanh", description="output activation (tanh for data in [-1, 1])"
    )


class SegmentationHeadConfig(ComponentConfig):
    """Per-pixel class logits (softmax in ``postprocess``)."""

    in_channels: int = Field(32, ge=1, description="channels of the features it reads")
    num_classes: int = Field(2, ge=2, le=4096, description="number of classes")


class ClassificationHeadConfig(ComponentConfig):
    """Global pooling then a linear layer: class logits (softmax in ``postprocess``)."""

    in_channels: int = Field(32, ge=1, description="channels of the features it reads")
    num_classes: int = Field(10, ge=2, le=100_000, description="number of classes")
    pooling: Literal["avg", "max", "avgmax"] = Field("avg", description="global pooling")
    hidden: int = Field(0, ge=0, le=65536, description="width of a hidden layer (0: none)")
    dropout: float = runtime(0.0, ge=0.0, lt=1.0, description="dropout before the last layer")


# -- losses -----------------------------------------------------------------------------------


class ReconstructionLossConfig(ComponentConfig):
    """Elementwise loss between ``outputs[key]`` and ``targets[target]``."""

    key: str = Field("rgb", min_length=1, description="model output to compare")
    target: str = Field("image", min_length=1, description="batch entry it is compared with")
    weight: float = Field(1.0, ge=0.0, description="multiplier of this loss")


class KLDLossConfig(ComponentConfig):
    """KL divergence of N(mu, exp(logvar)) from N(0, 1)."""

    key: str = Field("mu", min_length=1, description="output holding mu")
    logvar_key: str = Field("logvar", min_length=1, description="output holding logvar")
    weight: float = Field(1.0, ge=0.0, description="multiplier of this loss")
    reduction: Literal["mean", "batchmean"] = Field(
        "mean", description="mean over all elements, or sum per sample averaged over the batch"
    )


class CrossEntropyLossConfig(ComponentConfig):
    """Cross-entropy of class logits (B, C) or (B, C, H, W) against integer targets."""

    key: str = Field("segmentation", min_length=1, description="output holding the logits")
    target: str = Field("mask", min_length=1, description="batch entry holding class indices")
    weight: float = Field(1.0, ge=0.0, description="multiplier of this loss")
    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0, description="label smoothing")
    ignore_index: int = Field(-100, description="target value that is ignored")
    class_weights: list[float] | None = Field(None, description="per-class weights")


class LatentStandardizationLossConfig(ComponentConfig):
    """mean(z)^2 + (std(z) - 1)^2: keeps latents near N(0, 1)."""

    key: str = Field("latent", min_length=1, description="output holding the latent")
    weight: float = Field(1.0, ge=0.0, description="multiplier of this loss")
    per_channel: bool = Field(True, description="statistics per latent channel, then averaged")


class CompositeLossConfig(ComponentConfig):
    """Weighted sum of losses: ``parts: [{type, key, target, weight, name}]``."""

    parts: list[dict[str, Any]] = Field(min_length=1, description="the losses to add up")
    weight: float = Field(1.0, ge=0.0, description="multiplier of the total")

    @field_validator("parts")
    @classmethod
    def _parts_have_types(cls, parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for i, part in enumerate(parts):
            if not isinstance(part.get("type"), str) or not part["type"]:
                raise ValueError(f"parts[{i}] needs 'type: <loss name>', got {part!r}")
        names = [str(p.get("name") or f"{p['type']}/{p.get('key', '')}".rstrip("/")) for p in parts]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"loss part names must be unique; give 'name' to {', '.join(dup)}")
        return parts


# -- model ------------------------------------------------------------------------------------


def _with_defaults(section: dict[str, Any], schema: type[ComponentConfig]) -> dict[str, Any]:
    defaults = {k: f.default for k, f in schema.model_fields.items() if f.default_factory is None}
    return defaults | {k: v for k, v in section.items() if k in schema.model_fields}


class AutoencoderConfig(ComponentConfig):
    """An encoder, a decoder with heads, and the losses that train them."""

    encoder: dict[str, Any] = Field(
        default_factory=lambda: {"type": "conv-encoder"},
        description="encoder section ({type, ...}; also checkpoint: PATH, frozen: bool)",
    )
    decoder: dict[str, Any] = Field(
        default_factory=lambda: {"type": "conv-decoder"},
        description="decoder section ({type, heads, ...}; also checkpoint: PATH, frozen: bool)",
    )
    loss: dict[str, Any] | None = Field(
        None,
        description="loss section (default: mse per rgb head, cross-entropy per "
        "segmentation/classification head, kld when variational)",
    )
    kld_weight: float = Field(1e-3, ge=0.0, description="KL weight of the default loss")
    sample_latent: bool = runtime(
        True, description="variational: sample z in training (eval always uses mu)"
    )

    @model_validator(mode="after")
    def _parts_agree(self) -> AutoencoderConfig:
        for label, section in (("encoder", self.encoder), ("decoder", self.decoder)):
            if not isinstance(section.get("type", ""), str):
                raise ValueError(f"{label}.type must be a component name")
            if not isinstance(section.get("frozen", False), bool):
                raise ValueError(f"{label}.frozen must be true or false")
            ckpt = section.get("checkpoint")
            if ckpt is not None and not isinstance(ckpt, str):
                raise ValueError(f"{label}.checkpoint must be a path or pretrained name")
        enc, dec = dict(self.encoder), dict(self.decoder)
        if enc.get("type", "conv-encoder") != "conv-encoder":
            return self
        if dec.get("type", "conv-decoder") != "conv-decoder":
            return self
        for part in (enc, dec):
            for key in ("type", "checkpoint", "frozen"):
                part.pop(key, None)
        try:
            e = _with_defaults(enc, ConvEncoderConfig)
            d = _with_defaults(dec, ConvDecoderConfig)
        except Exception:  # detailed errors come when the parts are built
            return self
        if e["latent_channels"] != d["latent_channels"]:
            raise ValueError(
                f"decoder.latent_channels ({d['latent_channels']}) must equal "
                f"encoder.latent_channels ({e['latent_channels']})"
            )
        if e["downsampling_steps"] != d["upsampling_steps"]:
            raise ValueError(
                f"decoder.upsampling_steps ({d['upsampling_steps']}) must equal "
                f"encoder.downsampling_steps ({e['downsampling_steps']}) so outputs have the "
                "input's size"
            )
        return self


# -- datasets ---------------------------------------------------------------------------------

ColumnKind = Literal["auto", "image", "mask", "tensor", "int", "float", "str"]


class ColumnSpec(ComponentConfig):
    """How one manifest column becomes one output."""

    column: str = Field(min_length=1, description="CSV column name")
    kind: ColumnKind = Field(
        "auto",
        description="image (float tensor), mask (integer map), tensor (.pt/.safetensors), "
        "int, float, str; auto guesses from the first value",
    )
    key: str | None = Field(None, description="tensor name inside a .safetensors file")


class ManifestConfig(ComponentConfig):
    """A CSV manifest: one row per sample, columns mapped to outputs."""

    path: str = Field(min_length=1, description="CSV file")
    root: str | None = Field(None, description="base of relative paths (default: the CSV's folder)")
    columns: dict[str, str | ColumnSpec] = Field(
        min_length=1, description="output name -> column (or {column, kind, key})"
    )
    filters: dict[str, Any] = Field(
        default_factory=dict,
        description="row filters: col: value | [values], col__lt/__gt/__le/__ge/__ne: value",
    )
    drop_missing: bool = Field(False, description="drop rows with an empty mapped column")
    split: Literal["all", "train", "val"] = Field("all", description="which part to serve")
    val_fraction: float = Field(0.1, ge=0.0, lt=1.0, description="rows held out for val")
    split_column: str | None = Field(
        None, description="column naming each row's split (train/val); overrides val_fraction"
    )
    seed: int = Field(0, description="seed of the fixed train/val split")
    image_size: int | None = Field(None, ge=1, le=8192, description="resize images (square)")
    image_channels: Literal[1, 3] | None = Field(None, description="convert images to L or RGB")
    image_range: Literal["-1,1", "0,1"] = Field("-1,1", description="range of image tensors")
    output: Literal["dict", "pair"] = Field(
        "dict", description="dict of outputs, or (first, second) output pairs"
    )
    weighted_by: str | None = Field(
        None, description="output giving classes for inverse-frequency sampling weights"
    )
    cache: bool = Field(False, description="keep loaded files in memory")
    max_pixels: int = max_pixels_field()
    allow_paths_outside_root: bool = Field(
        False,
        description="also read absolute paths, ../ paths and symlinks that lead outside root",
    )

    @model_validator(mode="after")
    def _check(self) -> ManifestConfig:
        if self.output == "pair" and len(self.columns) < 1:
            raise ValueError("output: pair needs at least one column")
        if self.weighted_by is not None and self.weighted_by not in self.columns:
            raise ValueError(
                f"weighted_by '{self.weighted_by}' is not an output (outputs: "
                f"{', '.join(self.columns)})"
            )
        return self


class DerivedTargetsConfig(ComponentConfig):
    """Wraps an image dataset; adds targets derived from the image (mask, edges, low-res)."""

    base: dict[str, Any] = Field(
        default_factory=lambda: {"type": "digits", "image_size": 32},
        description="the wrapped dataset section ({type, ...}) yielding (image, label)",
    )
    targets: list[Literal["mask", "edges", "lowres"]] = Field(
        default_factory=lambda: ["mask"], description="targets to add"
    )
    mask_threshold: float = Field(
        0.0, description="foreground = pixel > threshold (mean over channels)"
    )
    edge_threshold: float = Field(0.2, ge=0.0, description="edge = gradient magnitude > value")
    lowres_factor: int = Field(4, ge=2, le=64, description="down-sampling factor of lowres")
    range_min: float = Field(-1.0, description="lowest value of the base dataset's images")


# -- latent diffusion and ControlNet ----------------------------------------------------------


def _check_source(label: str, section: dict[str, Any] | None, required: bool) -> None:
    if section is None:
        if required:
            raise ValueError(
                f"{label} is required: {{pretrained: NAME}}, {{checkpoint: DIR}} "
                "or {config: {type: ..., ...}}"
            )
        return
    given = [k for k in ("pretrained", "checkpoint", "config") if section.get(k) is not None]
    extra = sorted(set(section) - {"pretrained", "checkpoint", "config", "head"})
    if extra:
        raise ValueError(
            f"{label}: unknown key(s) {', '.join(extra)} (allowed: pretrained, "
            "checkpoint, config, head)"
        )
    if len(given) != 1:
        raise ValueError(
            f"{label} needs exactly one of pretrained, checkpoint, config; got "
            f"{', '.join(given) or 'none'}"
        )
    if "config" in given and not isinstance(section["config"], dict):
        raise ValueError(f"{label}.config must be a model section ({{type: ..., ...}})")


class LatentDiffusionConfig(ComponentConfig):
    """A diffusion U-Net over autoencoder latents, with a frozen decoder for images."""

    latent_channels: int = Field(4, ge=1, le=1024, description="channels of the latents")
    latent_size: int = Field(8, ge=1, le=1024, description="height and width of the latents")
    network: dict[str, Any] = Field(
        default_factory=lambda: {"type": "unet", "base_channels": 32, "channel_mults": [1, 2]},
        description="denoising network section (core-diffusion unet by default)",
    )
    timesteps: int = Field(1000, ge=1, le=100_000, description="diffusion steps T")
    noise_schedule: dict[str, Any] = Field(
        default_factory=lambda: {"type": "linear"},
        description="noise schedule section (linear, cosine, quadratic, sigmoid); formerly "
        "scheduler",
    )
    prediction: Literal["epsilon", "v"] = Field("epsilon", description="network target")
    decoder: dict[str, Any] | None = Field(
        None,
        description="frozen autoencoder: {pretrained: NAME} | {checkpoint: DIR} | "
        "{config: model section}; optional head: output used as the image",
    )
    sampler: str = runtime("ddim", description="default sampler: any registered sampler")
    sample_steps: int | None = runtime(50, ge=1, description="default sampling steps")
    latent_scale: float = runtime(1.0, gt=0.0, description="diffusion sees (z - shift) * scale")
    latent_shift: float = runtime(0.0, description="diffusion sees (z - shift) * scale")
    decode_samples: bool = runtime(
        False, description="sample() returns decoded images instead of latents (for grids)"
    )
    clip_latents: float | None = runtime(
        None, gt=0.0, description="clamp predicted (scaled) latents to [-v, v] while sampling"
    )

    @model_validator(mode="before")
    @classmethod
    def _aliases(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = noise_schedule_section(dict(data))
            if isinstance(data.get("decoder"), str):
                data["decoder"] = {"pretrained": data["decoder"]}
        return data

    @model_validator(mode="after")
    def _check(self) -> LatentDiffusionConfig:
        check_diffusion_config(self)
        _check_source("decoder", self.decoder, required=False)
        return self


class ImageAdapterConfig(ComponentConfig):
    """Control image -> features at the U-Net's first resolution (zero-initialised output)."""

    in_channels: int = Field(1, ge=1, le=1024, description="channels of the control image")
    out_channels: int = Field(32, ge=1, le=8192, description="channels of the U-Net's conv_in")
    hidden_channels: int = Field(16, ge=1, le=4096, description="width of the adapter convs")
    downsampling_steps: int = Field(0, ge=0, le=8, description="stride-2 steps to the U-Net size")


class VectorAdapterConfig(ComponentConfig):
    """Control vector -> time-embedding offset (zero-initialised output)."""

    in_features: int = Field(8, ge=1, le=1_000_000, description="length of the control vector")
    out_features: int = Field(128, ge=1, le=65536, description="the U-Net's time-embedding width")
    hidden: int = Field(64, ge=1, le=65536, description="hidden width")


class ControlNetConfig(ComponentConfig):
    """ControlNet: a trainable copy of a frozen base U-Net's encoder feeding its skips."""

    base: dict[str, Any] = Field(
        description="base diffusion model (ddpm or latent-diffusion with a unet): "
        "{pretrained: NAME} | {checkpoint: DIR} | {config: model section}"
    )
    control_channels: int = Field(
        1, ge=0, le=1024, description="channels of the control image (0: none)"
    )
    control_size: int | None = Field(
        None, ge=1, le=8192, description="control image size (default: the base data size)"
    )
    vector_dim: int = Field(
        0, ge=0, le=1_000_000, description="length of a control vector (0: none)"
    )
    image_adapter: dict[str, Any] = Field(
        default_factory=lambda: {"type": "image-adapter"},
        description="adapter of the control image (a registered layer)",
    )
    vector_adapter: dict[str, Any] = Field(
        default_factory=lambda: {"type": "vector-adapter"},
        description="adapter of the control vector (a registered layer)",
    )
    fusion: Literal["add", "scaled-add", "learned", "film", "concat", "gated"] = Field(
        "add", description="how control features join the base skips (each identity at init)"
    )
    control_key: str = Field("control", description="batch entry holding the control image")
    vector_key: str = Field("control_vector", description="batch entry holding the vector")
    control_scale: float = runtime(1.0, ge=0.0, description="multiplier of the control residuals")
    sampler: str | None = runtime(None, description="sampler (default: the base's)")
    sample_steps: int | None = runtime(None, ge=1, description="sampling steps (default: base's)")

    @model_validator(mode="before")
    @classmethod
    def _aliases(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("base"), str):
            data = {**data, "base": {"pretrained": data["base"]}}
        return data

    @model_validator(mode="after")
    def _check(self) -> ControlNetConfig:
        _check_source("base", self.base, required=True)
        if not self.control_channels and not self.vector_dim:
            raise ValueError("give control_channels and/or vector_dim (both are 0)")
        if self.sampler is not None:
            check_sampler(self.sampler)
        return self
