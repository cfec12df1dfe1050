"""Convolutional VAE and beta-VAE."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from core import BaseModel
from core.base_model import ExportCall, ExportedNetwork
from core.batches import check_images, check_labels, unpack_batch
from core.errors import ConfigError, DataError
from core_vae.configs import BetaVAEConfig, VAEConfig

__all__ = ["VAE", "BetaVAE", "kl_divergence", "kl_divergence_per_dimension"]

#: slack allowed outside [0, 1] before a batch is called out of range.
_RANGE_TOLERANCE = 1e-3


def kl_divergence_per_dimension(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, 1)) of each latent dimension, shape of ``mu``."""
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per row, summed over latent dimensions."""
    return kl_divergence_per_dimension(mu, logvar).sum(1)


class VAE(BaseModel):
    """Convolutional VAE on images in [0, 1].

    Encoder: one conv4x4/stride 2 + ReLU per width of ``hidden_channels``, then ``fc_mu`` and
    ``fc_logvar``. Decoder: a Linear back to the feature map, transposed conv4x4/stride 2 + ReLU
    through the widths in reverse, and a last transposed conv to ``channels`` with a Sigmoid.
    Images whose side does not halve evenly ``len(hidden_channels)`` times (28 px MNIST) are
    zero-padded on the way in and cropped on the way out, so reconstructions match the input.
    """

    config_class = VAEConfig
    model_type = "vae"
    sample_range = (0.0, 1.0)
    config: VAEConfig

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        widths = list(c.hidden_channels)
        depth = len(widths)
        factor = 2**depth
        self._padded_size = -(-c.image_size // factor) * factor
        pad = self._padded_size - c.image_size
        self._pad = (pad // 2, pad - pad // 2)
        self._feature_shape = (widths[-1], self._padded_size // factor, self._padded_size // factor)
        features = widths[-1] * self._feature_shape[1] * self._feature_shape[2]

        layers: list[nn.Module] = []
        in_ch = c.channels
        for width in widths:
            layers += [nn.Conv2d(in_ch, width, 4, 2, 1), nn.ReLU(True)]
            in_ch = width
        self.encoder = nn.Sequential(*layers)
        self.fc_mu = nn.Linear(features + c.num_classes, c.latent_dim)
        self.fc_logvar = nn.Linear(features + c.num_classes, c.latent_dim)

        self.decoder_input = nn.Linear(c.latent_dim + c.num_classes, features)
        layers = []
        reverse = widths[::-1]
        for w_in, w_out in zip(reverse[:-1], reverse[1:]):
            layers += [nn.ConvTranspose2d(w_in, w_out, 4, 2, 1), nn.ReLU(True)]
        layers.append(nn.ConvTranspose2d(reverse[-1], c.channels, 4, 2, 1))
        self.decoder = nn.Sequential(*layers)

    # -- shapes -------------------------------------------------------------------------------
    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(channels, image_size, image_size)``."""
        c = self.config
        return (c.channels, c.image_size, c.image_size)

    def _check_images(self, x: Any, what: str = "images") -> torch.Tensor:
        return check_images(x, self.image_shape, self.model_type, what)

    @property
    def num_classes(self) -> int:
        """Class labels the model is conditioned on (0: unconditional)."""
        return self.config.num_classes

    def _one_hot(self, y: Any, inputs: torch.Tensor) -> torch.Tensor | None:
        """Checked labels ``y`` of ``inputs`` (one per row, on their device) as one-hot rows
        ``(B, num_classes)``; None when unconditional."""
        batch_size, device = inputs.shape[0], inputs.device
        y = check_labels(y, batch_size, self.num_classes, self.model_type, device)
        return None if y is None else F.one_hot(y, self.num_classes)

    @staticmethod
    def _with_labels(h: torch.Tensor, one_hot: torch.Tensor | None) -> torch.Tensor:
        """``h`` ``(B, F)`` with the one-hot labels appended (conditional), else ``h``."""
        return h if one_hot is None else torch.cat([h, one_hot.to(h.dtype)], 1)

    def _check_latent(self, z: Any) -> torch.Tensor:
        d = self.config.latent_dim
        if not isinstance(z, torch.Tensor):
            raise ConfigError(f"{self.model_type}: z must be a tensor, got {type(z).__name__}")
        if z.dim() != 2 or z.shape[1] != d:
            raise ConfigError(
                f"{self.model_type}: expected a latent of shape (B, {d}), got {tuple(z.shape)}"
            )
        return z

    def fsdp_blocks(self) -> list[nn.Module]:
        """The convolutional encoder and decoder (``train.strategy: fsdp``'s units; the linear
        layers between them stay with the root)."""
        return [self.encoder, self.decoder]

    # -- public API ---------------------------------------------------------------------------
    def encode(self, x: torch.Tensor, y: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, logvar)``, each ``(B, latent_dim)``, of images ``(B, C, H, W)`` in [0, 1]
        (and their labels ``y`` ``(B,)`` when class-conditional)."""
        x = self._check_images(x)
        return self._encode(x, self._one_hot(y, x))

    def _encode(
        self, x: torch.Tensor, one_hot: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``encode`` of checked images and one-hot labels."""
        if any(self._pad):
            left, right = self._pad
            x = F.pad(x, (left, right, left, right))
        h = self._with_labels(self.encoder(x).flatten(1), one_hot)
        return self.fc_mu(h), self.fc_logvar(h)

    def reparameterize(
        self,
        mu: torch.Tensor,
        logvar: torch.Tensor,
        *,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``z = mu + sigma * eps`` with ``eps ~ N(0, I)``."""
        eps = torch.randn(mu.shape, device=mu.device, dtype=mu.dtype, generator=generator)
        return mu + torch.exp(0.5 * logvar) * eps

    def decode_logits(self, z: torch.Tensor, y: Any = None) -> torch.Tensor:
        """Pre-Sigmoid decoder output ``(B, C, H, W)``."""
        z = self._check_latent(z)
        return self._decode_logits(z, self._one_hot(y, z))

    def _decode_logits(self, z: torch.Tensor, one_hot: torch.Tensor | None) -> torch.Tensor:
        """``decode_logits`` of checked latents and one-hot labels."""
        h = self.decoder_input(self._with_labels(z, one_hot))
        out = self.decoder(h.view(z.shape[0], *self._feature_shape))
        if any(self._pad):
            left = self._pad[0]
            size = self.config.image_size
            out = out[:, :, left : left + size, left : left + size]
        return out

    def decode(self, z: torch.Tensor, y: Any = None) -> torch.Tensor:
        """Images ``(B, C, H, W)`` in [0, 1] from latents ``(B, latent_dim)`` (and labels)."""
        return torch.sigmoid(self.decode_logits(z, y))

    def forward(
        self, x: torch.Tensor, y: Any = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(recon, mu, logvar)``; ``recon`` decodes a sample ``z ~ q(z | x)``."""
        x = self._check_images(x)
        one_hot = self._one_hot(y, x)
        mu, logvar = self._encode(x, one_hot)
        recon = torch.sigmoid(self._decode_logits(self.reparameterize(mu, logvar), one_hot))
        return recon, mu, logvar

    def reconstruct(self, x: torch.Tensor, y: Any = None) -> torch.Tensor:
        """Deterministic reconstruction: decode the posterior mean."""
        x = self._check_images(x)
        one_hot = self._one_hot(y, x)
        mu, _ = self._encode(x, one_hot)
        return torch.sigmoid(self._decode_logits(mu, one_hot))

    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        y: Any = None,
        temperature: float | None = None,
        sampler: str | None = None,
        steps: int | None = None,
        **options: Any,
    ) -> torch.Tensor:
        """``n`` images in [0, 1] decoded from ``z ~ N(0, temperature^2 I)`` (default: the
        config's ``sample_temperature``), in one batch; ``core.sampling.draw_samples`` draws
        many in chunks, seeded. A class-conditional model draws classes ``y`` ``(n,)``, uniform
        at random when None.

        A VAE samples in one step: ``sampler`` and ``steps`` are accepted and ignored.
        """
        given = sorted(k for k, v in options.items() if v is not None)
        if given or n < 0:
            problem = f"unsupported option(s) {', '.join(given)}" if given else f"n = {n} < 0"
            raise ConfigError(f"{self.model_type}.sample: {problem}")
        if temperature is None:
            temperature = self.config.sample_temperature
        z = torch.randn(n, self.config.latent_dim, device=self.device, generator=generator)
        if y is None and self.num_classes:
            y = torch.randint(self.num_classes, (n,), device=self.device, generator=generator)
        return self.decode(z * temperature, y)

    def _example_labels(self, batch_size: int) -> tuple[torch.Tensor, ...]:
        """``(y,)`` of a class-conditional model, else ``()``."""
        if not self.num_classes:
            return ()
        return (torch.arange(batch_size, device=self.device) % self.num_classes,)

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
        x = torch.rand(batch_size, *self.image_shape, device=self.device)
        return (x, *self._example_labels(batch_size))

    def export_networks(self) -> dict[str, ExportedNetwork]:
        """The decoder: latents ``z`` ``(B, latent_dim)`` (and labels ``y`` ``(B,)`` when
        class-conditional) -> images in [0, 1] (ONNX export)."""
        inputs = (torch.randn(2, self.config.latent_dim, device=self.device),)
        inputs += self._example_labels(2)
        names = ("z", "y")[: len(inputs)]
        batch = {name: {0: "batch"} for name in (*names, "images")}
        decoder = ExportCall(self, self.decode)
        return {"decoder": ExportedNetwork(decoder, inputs, names, batch, output_names=("images",))}

    # -- loss -----------------------------------------------------------------------------------
    def _check_range(self, x: torch.Tensor) -> None:
        lo, hi = torch.aminmax(x.detach())
        lo, hi = float(lo), float(hi)
        if lo < -_RANGE_TOLERANCE or hi > 1 + _RANGE_TOLERANCE:
            raise DataError(
                f"{self.model_type}: expected images in [0, 1] (Sigmoid decoder), got values in "
                f"[{lo:.3g}, {hi:.3g}]; normalise the dataset to [0, 1] "
                "(data.value_range: [0, 1] in the run config)"
            )

    def compute_loss(
        self,
        batch: Any,
        recon: torch.Tensor | None = None,
        mu: torch.Tensor | None = None,
        logvar: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Negative ELBO: ``loss = recon_loss + beta * kl_loss``.

        ``recon_loss`` (per ``reconstruction``: binary cross-entropy, squared error, or the
        Gaussian negative log-likelihood whose variance is the batch's mean squared error) and
        ``kl_loss`` (KL of q(z|x) from N(0, I)) are summed over each image's pixels and latent
        dimensions and averaged over the batch; with ``free_bits`` the loss floors each latent
        dimension's batch-mean KL at that many nats (``kl_loss`` reports the true KL). Call as
        ``compute_loss(batch)`` (the model runs itself, with the batch's labels when
        class-conditional; the Trainer does this) or ``compute_loss(x, recon, mu, logvar)``.
        Images must be in [0, 1]; a batch clearly outside that range is a ``DataError``.
        """
        x, labels = unpack_batch(batch)
        x = self._check_images(x)
        self._check_range(x)
        given = [v is not None for v in (recon, mu, logvar)]
        if any(given) and not all(given):
            raise ConfigError(
                f"{self.model_type}.compute_loss: pass recon, mu and logvar together, or none"
            )
        logits = None
        if recon is None:
            if self.num_classes and labels is None:
                raise DataError(
                    f"{self.model_type}: num_classes={self.num_classes} needs labelled batches "
                    "(x, y); the dataset gave images only"
                )
            y = labels if self.num_classes else None
            one_hot = self._one_hot(y, x)
            mu, logvar = self._encode(x, one_hot)
            logits = self._decode_logits(self.reparameterize(mu, logvar), one_hot)
        else:
            self._check_images(recon, "recon")
            for name, value in (("mu", mu), ("logvar", logvar)):
                if tuple(value.shape) != (x.shape[0], self.config.latent_dim):
                    raise ConfigError(
                        f"{self.model_type}.compute_loss: expected {name} of shape "
                        f"({x.shape[0]}, {self.config.latent_dim}), got {tuple(value.shape)}"
                    )
        assert mu is not None and logvar is not None
        with torch.autocast(device_type=x.device.type, enabled=False):
            recon_loss = self._reconstruction_loss(x.float(), recon, logits)
            kl = kl_divergence_per_dimension(mu.float(), logvar.float())
            kl_loss = kl.sum(1).mean()
            pushed = kl_loss
            if self.config.free_bits > 0:
                pushed = kl.mean(0).clamp(min=self.config.free_bits).sum()
        loss = recon_loss + self.config.beta * pushed
        return {"loss": loss, "recon_loss": recon_loss.detach(), "kl_loss": kl_loss.detach()}

    def _reconstruction_loss(
        self, target: torch.Tensor, recon: torch.Tensor | None, logits: torch.Tensor | None
    ) -> torch.Tensor:
        """The config's reconstruction loss, summed over pixels and averaged over the batch."""
        kind = self.config.reconstruction
        if kind == "bce" and logits is not None:
            total = F.binary_cross_entropy_with_logits(logits.float(), target, reduction="sum")
            return total / target.shape[0]
        out = torch.sigmoid(logits.float()) if logits is not None else recon.float()
        if kind == "bce":
            return F.binary_cross_entropy(out, target, reduction="sum") / target.shape[0]
        squared = (out - target).pow(2)
        if kind == "mse":
            return squared.sum() / target.shape[0]
        # gaussian: N(out, s^2) per pixel with s^2 the batch's mean squared error (sigma-VAE)
        pixels = target[0].numel()
        return (
            0.5 * pixels * (torch.log(squared.mean().clamp_min(1e-8)) + 1 + math.log(2 * math.pi))
        )


class BetaVAE(VAE):
    """The VAE with ``beta = 4`` by default: a more disentangled, blurrier latent space."""

    config_class = BetaVAEConfig
    model_type = "beta-vae"
    config: BetaVAEConfig
