"""Hook implementations of core-autoencoder (no torch import here)."""

from __future__ import annotations

from typing import Any

from core import hookimpl

_C = "core_autoencoder.configs"


@hookimpl
def register_encoders(register: Any) -> None:
    register(
        "conv-encoder",
        "core_autoencoder.encoder:ConvEncoder",
        config=f"{_C}:ConvEncoderConfig",
        description="conv encoder: stride-2 steps to a latent map (optionally variational)",
        aliases=["ConvEncoder"],
    )


@hookimpl
def register_decoders(register: Any) -> None:
    register(
        "conv-decoder",
        "core_autoencoder.decoder:ConvDecoder",
        config=f"{_C}:ConvDecoderConfig",
        description="conv decoder (mirror of conv-encoder) ending in named heads",
        aliases=["ConvDecoder"],
        former_kinds=["encoder"],
    )


@hookimpl
def register_heads(register: Any) -> None:
    register(
        "rgb",
        "core_autoencoder.heads:RGBHead",
        config=f"{_C}:RGBHeadConfig",
        description="image head: 3x3 conv + tanh",
        aliases=["RGBHead"],
    )
    register(
        "segmentation",
        "core_autoencoder.heads:SegmentationHead",
        config=f"{_C}:SegmentationHeadConfig",
        description="per-pixel class logits (softmax at inference)",
        aliases=["SegmentationHead"],
    )
    register(
        "classification",
        "core_autoencoder.heads:ClassificationHead",
        config=f"{_C}:ClassificationHeadConfig",
        description="global pooling + linear class logits",
        aliases=["ClassificationHead"],
    )


@hookimpl
def register_losses(register: Any) -> None:
    m = "core_autoencoder.losses"
    register(
        "mse",
        f"{m}:MSELoss",
        config=f"{_C}:ReconstructionLossConfig",
        description="mean squared error between an output and a batch entry",
    )
    register(
        "l1",
        f"{m}:L1Loss",
        config=f"{_C}:ReconstructionLossConfig",
        description="mean absolute error between an output and a batch entry",
    )
    register(
        "kld",
        f"{m}:KLDLoss",
        config=f"{_C}:KLDLossConfig",
        description="KL divergence of N(mu, exp(logvar)) from N(0, 1)",
    )
    register(
        "cross-entropy",
        f"{m}:CrossEntropyLoss",
        config=f"{_C}:CrossEntropyLossConfig",
        description="cross-entropy of class logits (per pixel or per image)",
    )
    register(
        "latent-standardization",
        f"{m}:LatentStandardizationLoss",
        config=f"{_C}:LatentStandardizationLossConfig",
        description="keeps latents near N(0, 1): mean^2 + (std - 1)^2",
    )
    register(
        "composite",
        f"{m}:CompositeLoss",
        config=f"{_C}:CompositeLossConfig",
        description="weighted sum of losses, parts logged by name",
    )


@hookimpl
def register_models(register: Any) -> None:
    register(
        "autoencoder",
        "core_autoencoder.model:Autoencoder",
        config=f"{_C}:AutoencoderConfig",
        description="encoder + decoder with rgb / segmentation / classification heads",
        aliases=["Autoencoder"],
    )
    register(
        "latent-diffusion",
        "core_autoencoder.latent_diffusion:LatentDiffusion",
        config=f"{_C}:LatentDiffusionConfig",
        description="core-diffusion U-Net over autoencoder latents, frozen decoder for images",
        aliases=["LatentDiffusion"],
    )
    register(
        "controlnet-diffusion",
        "core_autoencoder.controlnet:ControlNetDiffusion",
        config=f"{_C}:ControlNetConfig",
        description="ControlNet: trainable U-Net encoder copy into a frozen base via zero convs",
        aliases=["ControlNet"],
    )


@hookimpl
def register_layers(register: Any) -> None:
    register(
        "image-adapter",
        "core_autoencoder.controlnet:ImageAdapter",
        config=f"{_C}:ImageAdapterConfig",
        description="ControlNet adapter: control image -> first U-Net features (zero-init)",
    )
    register(
        "vector-adapter",
        "core_autoencoder.controlnet:VectorAdapter",
        config=f"{_C}:VectorAdapterConfig",
        description="ControlNet adapter: control vector -> time-embedding offset (zero-init)",
    )


@hookimpl
def register_datasets(register: Any) -> None:
    register(
        "manifest",
        "core_autoencoder.manifest:ManifestDataset",
        config=f"{_C}:ManifestConfig",
        description="CSV manifest: images, latents, labels, masks; filters; split; weighting",
    )
    register(
        "derived-targets",
        "core_autoencoder.derived:DerivedTargets",
        config=f"{_C}:DerivedTargetsConfig",
        description="wraps an image dataset, adding foreground mask / edge map / low-res targets",
    )


@hookimpl
def register_commands(cli: Any) -> None:
    from core_autoencoder.cli import embed

    cli.add_command(embed)
