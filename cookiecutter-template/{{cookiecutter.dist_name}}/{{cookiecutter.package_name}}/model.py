"""The example model: a tiny MLP variational autoencoder (Kingma & Welling, 2014)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from core import BaseModel
from core.batches import unpack_batch
from core.errors import ConfigError, DataError
from torch import nn

__all__ = ["{{ cookiecutter.__class_name }}"]

_ACTIVATIONS = {"silu": nn.SiLU, "relu": nn.ReLU, "gelu": nn.GELU}


class {{ cookiecutter.__class_name }}(BaseModel):
    """Encodes an image to a Gaussian latent and decodes it back; samples from the prior.

    ``forward(x)`` returns ``{"recon", "mu", "logvar"}`` (the mean latent is decoded, so the
    output is deterministic); ``compute_loss(batch)`` is the negative ELBO used by
    ``core train``; ``sample(n)`` draws images in [0, 1].
    """

    sample_range = (0.0, 1.0)

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        pixels = c.channels * c.image_size**2
        act = _ACTIVATIONS[c.activation]
        self.encoder = nn.Sequential(
            nn.Linear(pixels, c.hidden), act(), nn.Linear(c.hidden, c.hidden), act()
        )
        self.to_stats = nn.Linear(c.hidden, 2 * c.latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(c.latent_dim, c.hidden),
            act(),
            nn.Linear(c.hidden, c.hidden),
            act(),
            nn.Linear(c.hidden, pixels),
        )

    # -- the model ---------------------------------------------------------------------------
    def _check_images(self, x: Any) -> torch.Tensor:
        c = self.config
        expected = (c.channels, c.image_size, c.image_size)
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or tuple(x.shape[1:]) != expected:
            given = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ConfigError(
                f"{self.describe()}: expected images of shape (batch, {c.channels}, "
                f"{c.image_size}, {c.image_size}), got {given}"
            )
        return x

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z | x), each (batch, latent_dim)."""
        h = self.encoder(self._check_images(x).flatten(1))
        mu, logvar = self.to_stats(h).chunk(2, dim=1)
        return mu, logvar.clamp(-10.0, 10.0)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Pixel logits (batch, channels, size, size) of latent codes (batch, latent_dim)."""
        c = self.config
        if z.dim() != 2 or z.shape[1] != c.latent_dim:
            raise ConfigError(
                f"{self.describe()}: expected latents of shape (batch, {c.latent_dim}), "
                f"got {tuple(z.shape)}"
            )
        return self.decoder(z).view(-1, c.channels, c.image_size, c.image_size)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        mu, logvar = self.encode(x)
        return {"recon": torch.sigmoid(self.decode_logits(mu)), "mu": mu, "logvar": logvar}

    # -- the core training and sampling protocol ---------------------------------------------
    def compute_loss(self, batch: Any) -> dict[str, torch.Tensor]:
        """Negative ELBO per image: BCE reconstruction + beta * KL(q(z|x) || N(0, I))."""
        x, _ = unpack_batch(batch)
        x = self._check_images(x)
        low, high = float(x.min()), float(x.max())
        if low < 0.0 or high > 1.0:
            raise DataError(
                f"{self.describe()}: expects pixels in [0, 1] (data.value_range: [0, 1]), "
                f"got values in [{low:.3g}, {high:.3g}]"
            )
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        logits = self.decode_logits(z)
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.shape[0]
        return {"loss": recon + self.config.beta * kl, "recon": recon.detach(), "kl": kl.detach()}

    @torch.no_grad()
    def sample(self, n: int, temperature: float | None = None, **_: Any) -> torch.Tensor:
        """``n`` images (n, channels, size, size) in [0, 1] decoded from prior samples."""
        if n < 1:
            raise ConfigError(f"{self.describe()}: sample needs n >= 1, got {n}")
        scale = self.config.temperature if temperature is None else temperature
        z = torch.randn(n, self.config.latent_dim, device=self.device) * scale
        return torch.sigmoid(self.decode_logits(z))

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
        c = self.config
        return (torch.rand(batch_size, c.channels, c.image_size, c.image_size),)
