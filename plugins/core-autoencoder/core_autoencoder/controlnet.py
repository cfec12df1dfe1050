"""``controlnet-diffusion``: a trainable copy of a frozen base U-Net's encoder path.

The copy starts from the base weights; its features enter the base's skip connections (and
middle block) through zero-initialised layers, so at step 0 the output equals the base's.
Only the U-Net's public API is used: ``encoder_copy``, ``encode``, ``decode``,
``skip_channels``, ``middle_channels``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from core import BaseModel, build
from core.errors import ConfigError, DataError
from core_autoencoder._diffusion import load_source, run_sampler
from core_autoencoder._util import as_targets, freeze
from core_autoencoder.configs import ControlNetConfig, ImageAdapterConfig, VectorAdapterConfig

__all__ = ["ControlNetDiffusion", "ImageAdapter", "VectorAdapter", "Fusion", "FUSIONS"]

FUSIONS = ("add", "scaled-add", "learned", "film", "concat", "gated")


def _zero(module: nn.Module) -> nn.Module:
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class ImageAdapter(BaseModel):
    """Control image -> (B, out_channels, H / 2**steps, W / 2**steps); last conv zero-initialised."""

    config_class = ImageAdapterConfig
    config_section = "layer"
    kind = "layer"

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        layers: list[nn.Module] = [
            nn.Conv2d(c.in_channels, c.hidden_channels, 3, padding=1),
            nn.SiLU(),
        ]
        for _ in range(c.downsampling_steps):
            layers += [
                nn.Conv2d(c.hidden_channels, c.hidden_channels, 3, stride=2, padding=1),
                nn.SiLU(),
            ]
        layers += [nn.Conv2d(c.hidden_channels, c.hidden_channels, 3, padding=1), nn.SiLU()]
        self.body = nn.Sequential(*layers)
        self.out = _zero(nn.Conv2d(c.hidden_channels, c.out_channels, 3, padding=1))

    def forward(self, control: torch.Tensor) -> torch.Tensor:
        c = self.config
        factor = 2**c.downsampling_steps
        if control.dim() != 4 or control.shape[1] != c.in_channels or control.shape[2] % factor:
            raise ConfigError(
                f"image-adapter: expected a control image of shape (B, {c.in_channels}, H, W) "
                f"with H, W multiples of {factor}, got {tuple(control.shape)}"
            )
        return self.out(self.body(control))

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
        size = 4 * 2**self.config.downsampling_steps
        return (torch.randn(batch_size, self.config.in_channels, size, size),)


class VectorAdapter(BaseModel):
    """Control vector (B, in_features) -> (B, out_features); last layer zero-initialised."""

    config_class = VectorAdapterConfig
    config_section = "layer"
    kind = "layer"

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        self.body = nn.Sequential(nn.Linear(c.in_features, c.hidden), nn.SiLU())
        self.out = _zero(nn.Linear(c.hidden, c.out_features))

    def forward(self, vector: torch.Tensor) -> torch.Tensor:
        if vector.dim() != 2 or vector.shape[1] != self.config.in_features:
            raise ConfigError(
                f"vector-adapter: expected a control vector of shape (B, "
                f"{self.config.in_features}), got {tuple(vector.shape)}"
            )
        return self.out(self.body(vector))

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
        return (torch.randn(batch_size, self.config.in_features),)


class Fusion(nn.Module):
    """Joins control features into one base skip; every mode is the identity at init."""

    def __init__(self, mode: str, channels: int) -> None:
        super().__init__()
        self.mode = mode
        if mode in ("add", "scaled-add", "gated"):
            self.zero = _zero(nn.Conv2d(channels, channels, 1))
        if mode == "scaled-add":
            self.scale = nn.Parameter(torch.ones(1))
        if mode == "gated":
            self.gate = nn.Conv2d(channels, channels, 1)
        if mode == "learned":
            self.gamma = _zero(nn.Conv2d(channels, channels, 1))
            self.beta = _zero(nn.Conv2d(channels, channels, 1))
        if mode == "film":
            self.film = _zero(nn.Linear(channels, 2 * channels))
        if mode == "concat":
            self.mix = _zero(nn.Conv2d(2 * channels, channels, 1))

    def forward(self, skip: torch.Tensor, control: torch.Tensor, strength: float) -> torch.Tensor:
        mode = self.mode
        if mode == "add":
            return skip + strength * self.zero(control)
        if mode == "scaled-add":
            return skip + strength * self.scale * self.zero(control)
        if mode == "gated":
            return skip + strength * torch.sigmoid(self.gate(control)) * self.zero(control)
        if mode == "learned":
            return skip * (1 + strength * self.gamma(control)) + strength * self.beta(control)
        if mode == "film":
            gamma, beta = self.film(control.mean(dim=(2, 3))).chunk(2, dim=1)
            return skip * (1 + strength * gamma[..., None, None]) + strength * beta[..., None, None]
        return skip + strength * self.mix(torch.cat([skip, control], dim=1))  # concat


class ControlNetDiffusion(BaseModel):
    """A frozen base diffusion model steered by a control image and/or vector."""

    config_class = ControlNetConfig

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        self.base = freeze(load_source(c.base, "base")).eval()
        unet = getattr(self.base, "network", None)
        from core_diffusion.unet import UNet

        if not isinstance(unet, UNet):
            found = type(unet).__name__ if unet is not None else "no network"
            raise ConfigError(
                f"model.base: ControlNet needs a diffusion model whose network is a "
                f"core-diffusion 'unet' (ddpm or latent-diffusion), got {found}"
            )
        self.latent = hasattr(self.base, "latent_shape")
        self.data_shape = tuple(self.base.latent_shape if self.latent else self.base.data_shape)
        # the trainable copy of the encoder path, initialised from the base weights
        self.control = unet.encoder_copy()
        for p in self.control.parameters():
            p.requires_grad_(True)
        if c.control_channels:
            size = self.data_shape[-1]
            control_size = c.control_size or self._default_control_size()
            ratio = control_size / size
            steps = int(round(math.log2(ratio))) if ratio >= 1 else -1
            if steps < 0 or 2**steps * size != control_size:
                raise ConfigError(
                    f"model.control_size ({control_size}) must be the U-Net input size ({size}) "
                    "times a power of two"
                )
            adapter = {
                **c.image_adapter,
                "in_channels": c.control_channels,
                "out_channels": unet.config.base_channels,
                "downsampling_steps": steps,
            }
            self.control_size = control_size
            self.image_adapter = build("layer", adapter, where="model.image_adapter")
        if c.vector_dim:
            adapter = {
                **c.vector_adapter,
                "in_features": c.vector_dim,
                "out_features": unet.time_dim,
            }
            self.vector_adapter = build("layer", adapter, where="model.vector_adapter")
        self.fusions = nn.ModuleList(Fusion(c.fusion, ch) for ch in unet.skip_channels)
        self.mid_fusion = Fusion(c.fusion, unet.middle_channels)

    def _default_control_size(self) -> int:
        size = self.data_shape[-1]
        if self.latent and getattr(self.base, "autoencoder", None) is not None:
            return size * int(self.base.autoencoder.factor)
        return size

    @property
    def unet(self) -> nn.Module:
        return self.base.network

    def get_config(self) -> dict[str, Any]:
        """The config, with the base given by its architecture (weights live in this model)."""
        config = super().get_config()
        config["base"] = {"config": self.base.get_config()}
        return config

    def train(self, mode: bool = True) -> ControlNetDiffusion:
        super().train(mode)
        self.base.eval()
        return self

    # -- forward ------------------------------------------------------------------------------
    def _check_control(self, x: torch.Tensor, control: Any, vector: Any) -> None:
        c = self.config
        if c.control_channels:
            expected = (x.shape[0], c.control_channels, self.control_size, self.control_size)
            if (
                control is None
                or not isinstance(control, torch.Tensor)
                or tuple(control.shape) != expected
            ):
                got = tuple(control.shape) if isinstance(control, torch.Tensor) else control
                raise ConfigError(f"controlnet: control must have shape {expected}, got {got}")
        elif control is not None:
            raise ConfigError("controlnet: got a control image but control_channels is 0")
        if c.vector_dim:
            if vector is None or tuple(vector.shape) != (x.shape[0], c.vector_dim):
                got = tuple(vector.shape) if isinstance(vector, torch.Tensor) else vector
                raise ConfigError(
                    f"controlnet: vector must have shape ({x.shape[0]}, {c.vector_dim}), got {got}"
                )
        elif vector is not None:
            raise ConfigError("controlnet: got a control vector but vector_dim is 0")

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        control: torch.Tensor | None = None,
        vector: torch.Tensor | None = None,
        y: torch.Tensor | None = None,
        cond: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The controlled prediction: the base U-Net decodes its features fused with the copy's.

        Without any control signal (``control`` and ``vector`` both None) this is the base
        model's prediction.
        """
        from core_diffusion import UNetFeatures
        from core_diffusion.inputs import check_network_inputs

        unet = self.unet
        if control is None and vector is None:
            kwargs = {k: v for k, v in (("y", y), ("cond", cond)) if v is not None}
            return unet(x, t, **kwargs)
        t, y, cond = check_network_inputs(
            "controlnet", unet.config, unet.downsample_factor, x, t, y, cond
        )
        self._check_control(x, control, vector)
        c = self.config
        # control branch (the trainable copy), its signals added to its input and embedding
        controls = self.control(
            x,
            t,
            y,
            cond,
            input_residual=self.image_adapter(control.to(x.dtype)) if c.control_channels else None,
            embedding_residual=self.vector_adapter(vector.to(x.dtype)) if c.vector_dim else None,
        )
        # frozen base, its skips and middle fused with the control features
        features = unet.encode(x, t, y, cond)
        strength = c.control_scale
        fused = UNetFeatures(
            skips=tuple(
                fusion(skip, control_skip, strength)
                for fusion, skip, control_skip in zip(self.fusions, features.skips, controls.skips)
            ),
            middle=self.mid_fusion(features.middle, controls.middle, strength),
            embedding=features.embedding,
        )
        return unet.decode(fused)

    # -- training -----------------------------------------------------------------------------
    def _batch(self, batch: Any) -> tuple[torch.Tensor, dict[str, Any]]:
        targets = as_targets(batch) if not isinstance(batch, Mapping) else dict(batch)
        c = self.config
        if self.latent:
            z, labels = self.base.latents_from_batch(targets)
            x0 = self.base.normalize(z.float())
        else:
            if "image" not in targets:
                raise DataError(
                    f"controlnet: the batch needs 'image' (entries: {', '.join(targets)})"
                )
            x0 = torch.as_tensor(targets["image"]).to(self.device).float()
            labels = targets.get("label")
            if tuple(x0.shape[1:]) != self.data_shape:
                raise DataError(
                    f"controlnet: expected images of shape (B, {', '.join(map(str, self.data_shape))}), "
                    f"got {tuple(x0.shape)}"
                )
        kwargs: dict[str, Any] = {}
        for enabled, key, name in (
            (c.control_channels, c.control_key, "control"),
            (c.vector_dim, c.vector_key, "vector"),
        ):
            if not enabled:
                continue
            if key not in targets:
                raise DataError(
                    f"controlnet: the batch has no '{key}' entry for the {name} signal "
                    f"(entries: {', '.join(map(str, targets))})"
                )
            value = torch.as_tensor(targets[key]).to(self.device).float()
            if name == "control" and value.dim() == 3:
                value = value[:, None]
            kwargs[name] = value
        if self.unet.config.num_classes and labels is not None:
            kwargs["y"] = torch.as_tensor(labels, device=self.device).long()
        return x0, kwargs

    def compute_loss(self, batch: Any) -> dict[str, torch.Tensor]:
        x0, kwargs = self._batch(batch)
        schedule = self.base.schedule
        t = torch.randint(0, schedule.timesteps, (x0.shape[0],), device=x0.device)
        noise = torch.randn_like(x0)
        x_t = schedule.add_noise(x0, noise, t)
        prediction = self.base.config.prediction
        target = noise if prediction == "epsilon" else schedule.velocity(x0, noise, t)
        pred = self(x_t, t, **kwargs)
        return {"loss": F.mse_loss(pred.float(), target.float())}

    # -- sampling -----------------------------------------------------------------------------
    @torch.no_grad()
    def sample(
        self,
        n: int,
        control: torch.Tensor | None = None,
        vector: torch.Tensor | None = None,
        y: Any = None,
        sampler: str | None = None,
        steps: int | None = None,
        generator: torch.Generator | None = None,
        decode: bool = True,
        x_T: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``n`` samples under ``control`` / ``vector`` (images; latents when ``decode=False``).

        Without a control signal the samples come from the base model alone.
        """
        if not isinstance(n, int) or n < 1:
            raise ConfigError(f"controlnet.sample: n must be a positive integer, got {n!r}")
        c = self.config
        control = control.to(self.device).float() if control is not None else None
        if control is not None and control.dim() == 3:
            control = control[:, None]
        vector = vector.to(self.device).float() if vector is not None else None
        conditioning: dict[str, Any] = {}
        if y is not None:
            y = torch.as_tensor(y, device=self.device).long()
            conditioning["y"] = y.expand(n) if y.ndim == 0 else y

        def model_fn(x: torch.Tensor, t: torch.Tensor, **kw: Any) -> torch.Tensor:
            return self(x, t, control=control, vector=vector, **kw)

        base = self.base
        sampler = sampler or c.sampler or base.config.sampler
        steps = steps or c.sample_steps or base.config.sample_steps
        was_training = self.training
        self.eval()
        try:
            if self.latent:
                return base.sample(
                    n,
                    sampler=sampler,
                    steps=steps,
                    generator=generator,
                    decode=decode,
                    x_T=x_T,
                    model_fn=model_fn,
                    **conditioning,
                )
            out = run_sampler(
                sampler,
                steps,
                model_fn,
                (n, *self.data_shape),
                base.schedule,
                prediction=base.config.prediction,
                device=self.device,
                generator=generator,
                clip_x0=1.0 if base.config.clip_denoised else None,
                x_T=x_T,
                **conditioning,
            )
            return out.clamp(-1.0, 1.0)
        finally:
            self.train(was_training)

    def example_inputs(self, batch_size: int = 2) -> tuple[Any, ...]:
        g = torch.Generator().manual_seed(0)
        c = self.config
        x = torch.randn(batch_size, *self.data_shape, generator=g)
        t = torch.randint(0, self.base.schedule.timesteps, (batch_size,), generator=g)
        control = (
            torch.rand(
                batch_size, c.control_channels, self.control_size, self.control_size, generator=g
            )
            if c.control_channels
            else None
        )
        vector = torch.randn(batch_size, c.vector_dim, generator=g) if c.vector_dim else None
        return x, t, control, vector
