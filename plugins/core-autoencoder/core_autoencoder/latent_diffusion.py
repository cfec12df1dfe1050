"""``latent-diffusion``: a core-diffusion U-Net over autoencoder latents, frozen decoder for images."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

from core import BaseModel, build
from core.errors import ConfigError, DataError
from core_autoencoder._diffusion import load_source, run_sampler
from core_autoencoder._util import as_targets, freeze
from core_autoencoder.configs import LatentDiffusionConfig

__all__ = ["LatentDiffusion"]


class LatentDiffusion(BaseModel):
    """Diffusion on latents: ``compute_loss`` on (pre-embedded) latents, ``sample`` -> latents.

    Batches hold ``latent`` (e.g. from the ``manifest`` of ``core embed``) or images, which
    the frozen autoencoder encodes. ``decode_to_image(latents)`` runs the frozen decoder.
    """

    config_class = LatentDiffusionConfig

    @property
    def sample_range(self) -> tuple[float, float] | None:
        """(-1, 1) when ``sample`` decodes to images; latents are unbounded."""
        return (-1.0, 1.0) if self.config.decode_samples else None

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        schedule = {
            k: v for k, v in c.noise_schedule.items() if k not in ("timesteps", "num_steps")
        }
        self.schedule = build(
            "noise-schedule", {**schedule, "timesteps": c.timesteps}, where="model.noise_schedule"
        )
        network = dict(c.network)
        network.setdefault("in_channels", c.latent_channels)
        network.setdefault("image_size", c.latent_size)
        if network.get("in_channels") != c.latent_channels:
            raise ConfigError(
                f"model.network.in_channels ({network['in_channels']}) must equal "
                f"latent_channels ({c.latent_channels})"
            )
        self.network = build("model", network, where="model.network")
        self.autoencoder: BaseModel | None = None
        self.image_head: str | None = None
        if c.decoder is not None:
            self.autoencoder = freeze(load_source(c.decoder, "decoder")).eval()
            self._check_autoencoder()

    def _check_autoencoder(self) -> None:
        ae, c = self.autoencoder, self.config
        if not hasattr(ae, "decode"):
            raise ConfigError(f"model.decoder: a '{ae.model_type}' model has no decode()")
        channels = getattr(ae, "latent_channels", c.latent_channels)
        if channels != c.latent_channels:
            raise ConfigError(
                f"model.decoder: the autoencoder's latents have {channels} channels, "
                f"latent_channels is {c.latent_channels}"
            )
        heads = ae.decoder.head_types() if hasattr(ae.decoder, "head_types") else {}
        wanted = c.decoder.get("head")
        if wanted is not None and wanted not in heads:
            raise ConfigError(f"model.decoder.head '{wanted}' is not a head ({', '.join(heads)})")
        rgb = [n for n, t in heads.items() if t in ("rgb", "RGBHead")]
        self.image_head = wanted or (rgb[0] if rgb else next(iter(heads), None))

    def get_config(self) -> dict[str, Any]:
        """The config, with the decoder given by its architecture (weights live in this model)."""
        config = super().get_config()
        if self.autoencoder is not None:
            section = {"config": self.autoencoder.get_config()}
            if self.config.decoder.get("head"):
                section["head"] = self.config.decoder["head"]
            config["decoder"] = section
        return config

    def train(self, mode: bool = True) -> LatentDiffusion:
        super().train(mode)
        if self.autoencoder is not None:
            self.autoencoder.eval()
        return self

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        c = self.config
        return (c.latent_channels, c.latent_size, c.latent_size)

    # -- latents ------------------------------------------------------------------------------
    def normalize(self, z: torch.Tensor) -> torch.Tensor:
        """Latents as the diffusion sees them: (z - shift) * scale."""
        return (z - self.config.latent_shift) * self.config.latent_scale

    def denormalize(self, z: torch.Tensor) -> torch.Tensor:
        return z / self.config.latent_scale + self.config.latent_shift

    @torch.no_grad()
    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        """Latents of images through the frozen autoencoder."""
        if self.autoencoder is None:
            raise ConfigError(
                f"{self.describe()}: got images but no decoder/autoencoder is configured; "
                "train on pre-embedded latents (core embed) or set decoder"
            )
        return self.autoencoder.encode(images.to(self.device))["latent"]

    def latents_from_batch(self, batch: Any) -> tuple[torch.Tensor, Any]:
        """(raw latents, labels) from a batch of latents or images."""
        if isinstance(batch, torch.Tensor):
            batch = (
                {"latent": batch}
                if tuple(batch.shape[1:]) == self.latent_shape
                else {"image": batch}
            )
        targets = as_targets(batch) if not isinstance(batch, Mapping) else dict(batch)
        labels = targets.get("label", targets.get("y"))
        if "latent" in targets:
            z = torch.as_tensor(targets["latent"]).to(self.device)
        elif "image" in targets:
            image = targets["image"]
            if tuple(image.shape[1:]) == self.latent_shape:
                z = image.to(self.device)
            else:
                z = self.encode_images(image)
        else:
            raise DataError(
                f"{self.describe()}: the batch needs 'latent' or 'image' (entries: "
                f"{', '.join(map(str, targets))})"
            )
        if tuple(z.shape[1:]) != self.latent_shape:
            raise DataError(
                f"{self.describe()}: expected latents of shape (B, {', '.join(map(str, self.latent_shape))}), "
                f"got {tuple(z.shape)}"
            )
        return z, labels

    def conditioning(self, labels: Any) -> dict[str, Any]:
        if getattr(self.network.config, "num_classes", 0) and labels is not None:
            return {"y": torch.as_tensor(labels, device=self.device).long()}
        return {}

    # -- training -----------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, t: torch.Tensor, **conditioning: Any) -> torch.Tensor:
        """The network's prediction for noisy (normalised) latents ``x`` at timesteps ``t``."""
        return self.network(x, t, **conditioning)

    def compute_loss(self, batch: Any) -> dict[str, torch.Tensor]:
        z, labels = self.latents_from_batch(batch)
        z0 = self.normalize(z.float())
        t = torch.randint(0, self.config.timesteps, (z0.shape[0],), device=z0.device)
        noise = torch.randn_like(z0)
        x_t = self.schedule.add_noise(z0, noise, t)
        target = (
            noise if self.config.prediction == "epsilon" else self.schedule.velocity(z0, noise, t)
        )
        pred = self.network(x_t, t, **self.conditioning(labels))
        return {"loss": F.mse_loss(pred.float(), target.float())}

    # -- sampling -----------------------------------------------------------------------------
    @torch.no_grad()
    def sample(
        self,
        batch_size: int,
        sampler: str | None = None,
        steps: int | None = None,
        generator: torch.Generator | None = None,
        y: Any = None,
        decode: bool | None = None,
        x_T: torch.Tensor | None = None,
        model_fn: Any = None,
        **conditioning: Any,
    ) -> torch.Tensor:
        """``batch_size`` latents (raw scale); with ``decode=True`` images from the decoder.

        ``decode`` defaults to the ``decode_samples`` option.
        """
        if decode is None:
            decode = self.config.decode_samples
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"sample: batch_size must be a positive integer, got {batch_size!r}")
        c = self.config
        if y is not None:
            y = torch.as_tensor(y, device=self.device).long()
            conditioning["y"] = y.expand(batch_size) if y.ndim == 0 else y
        was_training = self.training
        self.eval()
        try:
            z = run_sampler(
                sampler or c.sampler,
                steps if steps is not None else c.sample_steps,
                model_fn or self.network,
                (batch_size, *self.latent_shape),
                self.schedule,
                prediction=c.prediction,
                device=self.device,
                generator=generator,
                clip_x0=c.clip_latents,
                x_T=x_T,
                **conditioning,
            )
        finally:
            self.train(was_training)
        z = self.denormalize(z)
        return self.decode_to_image(z) if decode else z

    @torch.no_grad()
    def decode_to_image(self, latents: torch.Tensor, head: str | None = None) -> torch.Tensor:
        """Images (the decoder's image head, in [-1, 1]) from raw latents."""
        if self.autoencoder is None:
            raise ConfigError(
                f"{self.describe()}: no decoder configured (set decoder: {{pretrained: NAME}})"
            )
        outputs = self.autoencoder.decode(latents.to(self.device))
        name = head or self.image_head
        if name not in outputs:
            raise ConfigError(f"decode_to_image: no head '{name}' (heads: {', '.join(outputs)})")
        return outputs[name]

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
        g = torch.Generator().manual_seed(0)
        x = torch.randn(batch_size, *self.latent_shape, generator=g)
        t = torch.randint(0, self.config.timesteps, (batch_size,), generator=g)
        return x, t
