"""Convolutional VAE and beta-VAE."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from core import BaseModel
from core.base_model import ExportCall, ExportedNetwork
from core.batches import check_images, unpack_batch
from core.errors import ConfigError, DataError
from core_vae.configs import BetaVAEConfig, VAEConfig

__all__ = ["VAE", "BetaVAE", "kl_divergence"]

#: slack allowed outside [0, 1] before a batch is called out of range.
_RANGE_TOLERANCE = 1e-3


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per row, summed over latent dimensions."""
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1)


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
        self.fc_mu = nn.Linear(features, c.latent_dim)
        self.fc_logvar = nn.Linear(features, c.latent_dim)

        self.decoder_input = nn.Linear(c.latent_dim, features)
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
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, logvar)``, each ``(B, latent_dim)``, of images ``(B, C, H, W)`` in [0, 1]."""
        x = self._check_images(x)
        if any(self._pad):
            left, right = self._pad
            x = F.pad(x, (left, right, left, right))
        h = self.encoder(x).flatten(1)
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

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Pre-Sigmoid decoder output ``(B, C, H, W)``."""
        z = self._check_latent(z)
        h = self.decoder_input(z).view(z.shape[0], *self._feature_shape)
        out = self.decoder(h)
        if any(self._pad):
            left = self._pad[0]
            size = self.config.image_size
            out = out[:, :, left : left + size, left : left + size]
        return out

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images ``(B, C, H, W)`` in [0, 1] from latents ``(B, latent_dim)``."""
        return torch.sigmoid(self.decode_logits(z))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(recon, mu, logvar)``; ``recon`` decodes a sample ``z ~ q(z | x)``."""
        mu, logvar = self.encode(x)
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Deterministic reconstruction: decode the posterior mean."""
        mu, _ = self.encode(x)
        return self.decode(mu)

    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
        sampler: str | None = None,
        steps: int | None = None,
        **options: Any,
    ) -> torch.Tensor:
        """``n`` images in [0, 1] decoded from ``z ~ N(0, temperature^2 I)``, in one batch;
        ``core.sampling.draw_samples`` draws many in chunks, seeded.

        A VAE samples in one step: ``sampler`` and ``steps`` are accepted and ignored.
        """
        given = sorted(k for k, v in options.items() if v is not None)
        if given or n < 0:
            problem = f"unsupported option(s) {', '.join(given)}" if given else f"n = {n} < 0"
            raise ConfigError(f"{self.model_type}.sample: {problem}")
        z = torch.randn(n, self.config.latent_dim, device=self.device, generator=generator)
        return self.decode(z * temperature)

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
        return (torch.rand(batch_size, *self.image_shape, device=self.device),)

    def export_networks(self) -> dict[str, ExportedNetwork]:
        """The decoder: latents ``z`` ``(B, latent_dim)`` -> images in [0, 1] (ONNX export)."""
        z = torch.randn(2, self.config.latent_dim, device=self.device)
        batch = {"z": {0: "batch"}, "images": {0: "batch"}}
        decoder = ExportCall(self, self.decode)
        return {"decoder": ExportedNetwork(decoder, (z,), ("z",), batch, output_names=("images",))}

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

        ``recon_loss`` (binary cross-entropy or squared error, per ``reconstruction``) and
        ``kl_loss`` (KL of q(z|x) from N(0, I)) are summed over each image's pixels and latent
        dimensions and averaged over the batch. Call as ``compute_loss(batch)`` (the model
        runs itself; the Trainer does this) or ``compute_loss(x, recon, mu, logvar)``.
        Images must be in [0, 1]; a batch clearly outside that range is a ``DataError``.
        """
        x, _ = unpack_batch(batch)
        x = self._check_images(x)
        self._check_range(x)
        given = [v is not None for v in (recon, mu, logvar)]
        if any(given) and not all(given):
            raise ConfigError(
                f"{self.model_type}.compute_loss: pass recon, mu and logvar together, or none"
            )
        logits = None
        if recon is None:
            mu, logvar = self.encode(x)
            logits = self.decode_logits(self.reparameterize(mu, logvar))
        else:
            self._check_images(recon, "recon")
            for name, value in (("mu", mu), ("logvar", logvar)):
                if tuple(value.shape) != (x.shape[0], self.config.latent_dim):
                    raise ConfigError(
                        f"{self.model_type}.compute_loss: expected {name} of shape "
                        f"({x.shape[0]}, {self.config.latent_dim}), got {tuple(value.shape)}"
                    )
        assert mu is not None and logvar is not None
        batch_size = x.shape[0]
        with torch.autocast(device_type=x.device.type, enabled=False):
            target = x.float()
            if self.config.reconstruction == "bce":
                if logits is not None:
                    rec = F.binary_cross_entropy_with_logits(
                        logits.float(), target, reduction="sum"
                    )
                else:
                    rec = F.binary_cross_entropy(recon.float(), target, reduction="sum")
            else:
                out = torch.sigmoid(logits.float()) if logits is not None else recon.float()
                rec = F.mse_loss(out, target, reduction="sum")
            recon_loss = rec / batch_size
            kl_loss = kl_divergence(mu.float(), logvar.float()).mean()
        loss = recon_loss + self.config.beta * kl_loss
        return {"loss": loss, "recon_loss": recon_loss.detach(), "kl_loss": kl_loss.detach()}


class BetaVAE(VAE):
    """The VAE with ``beta = 4`` by default: a more disentangled, blurrier latent space."""

    config_class = BetaVAEConfig
    model_type = "beta-vae"
    config: BetaVAEConfig
