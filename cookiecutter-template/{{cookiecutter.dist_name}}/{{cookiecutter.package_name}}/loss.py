"""The example loss: the negative ELBO of a VAE, returned with its parts."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from core import Component
from core.errors import ConfigError

__all__ = ["ELBOLoss"]


class ELBOLoss(Component):
    """``loss(logits, target, mu, logvar)`` -> ``{"loss", "recon", "kl"}``, each per image."""

    kind = "loss"
    config_section = "loss"

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        self.config = self.resolve_config(config, **overrides)

    def __call__(
        self, logits: torch.Tensor, target: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        if logits.shape != target.shape:
            raise ConfigError(
                f"{self.describe()}: logits {tuple(logits.shape)} and target "
                f"{tuple(target.shape)} must have the same shape"
            )
        if mu.shape != logvar.shape:
            raise ConfigError(
                f"{self.describe()}: mu {tuple(mu.shape)} and logvar {tuple(logvar.shape)} "
                "must have the same shape"
            )
        batch = target.shape[0]
        if self.config.reconstruction == "bce":
            recon = F.binary_cross_entropy_with_logits(logits, target, reduction="sum")
        else:
            recon = F.mse_loss(logits, target, reduction="sum")
        recon = recon / batch
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / batch
        return {"loss": recon + self.config.beta * kl, "recon": recon, "kl": kl}
