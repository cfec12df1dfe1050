"""Tiny models for trainer tests (registered by ``register()``; loaded by file path)."""

from __future__ import annotations

import time
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from core.base_model import BaseModel
from core.batches import unpack_batch
from core.schema import ComponentConfig, Field


class TinyConfig(ComponentConfig):
    dim: int = Field(2, ge=1, description="data dimension")
    hidden: int = Field(16, ge=1, description="hidden width")
    noise: float = Field(0.5, ge=0.0, description="noise std of the denoising loss")
    delay: float = Field(0.0, ge=0.0, description="seconds to sleep per loss (slow runs)")


class TinyDenoiser(BaseModel):
    """Predicts the noise added to x (uses the global RNG in the loss); no batch norm."""

    config_class = TinyConfig
    model_type = "tiny-denoiser"
    sample_range = None

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        self.net = nn.Sequential(nn.Linear(c.dim, c.hidden), nn.Tanh(), nn.Linear(c.hidden, c.dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def compute_loss(self, batch: Any) -> dict[str, torch.Tensor]:
        x, _ = unpack_batch(batch)
        if self.config.delay:
            time.sleep(self.config.delay)
        eps = torch.randn_like(x)
        loss = F.mse_loss(self(x + self.config.noise * eps), eps)
        return {"loss": loss, "eps_mean": eps.mean()}

    @torch.no_grad()
    def sample(self, n: int, **kwargs: Any) -> torch.Tensor:
        z = torch.randn(n, self.config.dim, device=self.device)
        return z - self.config.noise * self(z)

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor]:
        return (torch.randn(batch_size, self.config.dim),)


class TinyRegressor(BaseModel):
    """Deterministic loss (no noise): for comparing DDP with a single process."""

    config_class = TinyConfig
    model_type = "tiny-regressor"

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        self.net = nn.Sequential(nn.Linear(c.dim, c.hidden), nn.Tanh(), nn.Linear(c.hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def compute_loss(self, batch: Any) -> dict[str, torch.Tensor]:
        x, _ = unpack_batch(batch)
        target = (x[:, :1] * x[:, 1:2]).sin() if x.shape[1] > 1 else x.sin()
        return {"loss": F.mse_loss(self(x), target)}


class TinyGAN(BaseModel):
    """Two optimizers: a generator and a discriminator on 2-D points."""

    config_class = TinyConfig
    model_type = "tiny-gan"
    sample_range = None

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        self.generator = nn.Sequential(
            nn.Linear(4, c.hidden), nn.ReLU(), nn.Linear(c.hidden, c.dim)
        )
        self.discriminator = nn.Sequential(
            nn.Linear(c.dim, c.hidden), nn.ReLU(), nn.Linear(c.hidden, 1)
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z)

    def fsdp_blocks(self) -> list[nn.Module]:
        return [self.generator, self.discriminator]

    def optimizer_groups(self, train_config: Any) -> dict[str, dict[str, Any]]:
        return {
            "discriminator": {
                "params": list(self.discriminator.parameters()),
                "lr": train_config.lr,
            },
            "generator": {"params": list(self.generator.parameters()), "betas": (0.5, 0.999)},
        }

    def training_step(self, batch: Any, optimizers: Any) -> dict[str, torch.Tensor]:
        x, _ = unpack_batch(batch)
        z = torch.randn(len(x), 4, device=x.device)
        fake = self.generator(z)
        real_logits = self.discriminator(x)
        fake_logits = self.discriminator(fake.detach())
        d_loss = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
        optimizers.step("discriminator", d_loss)
        g_loss = F.softplus(-self.discriminator(fake)).mean()
        optimizers.step("generator", g_loss)
        return {"loss_d": d_loss, "loss_g": g_loss}

    @torch.no_grad()
    def sample(self, n: int, **kwargs: Any) -> torch.Tensor:
        return self.generator(torch.randn(n, 4, device=self.device))


class ImageConfig(ComponentConfig):
    size: int = Field(8, ge=4, description="image size")


class TinyImageModel(BaseModel):
    """A per-pixel denoiser on images in [-1, 1] (tests sample grids)."""

    config_class = ImageConfig
    model_type = "tiny-image"
    sample_range = (-1.0, 1.0)

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.conv = nn.Conv2d(1, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)

    def compute_loss(self, batch: Any) -> dict[str, torch.Tensor]:
        x, _ = unpack_batch(batch)
        eps = torch.randn_like(x)
        return {"loss": F.mse_loss(self(x + 0.3 * eps), x)}

    @torch.no_grad()
    def sample(self, n: int, **kwargs: Any) -> torch.Tensor:
        s = self.config.size
        self.last_kwargs = kwargs
        return self(torch.randn(n, 1, s, s, device=self.device)).clamp(-1, 1)


class NoProtocol(BaseModel):
    config_class = ImageConfig
    model_type = "no-protocol"

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.lin = nn.Linear(2, 2)


MODELS = {
    "tiny-denoiser": (TinyDenoiser, TinyConfig),
    "tiny-regressor": (TinyRegressor, TinyConfig),
    "tiny-gan": (TinyGAN, TinyConfig),
    "tiny-image": (TinyImageModel, ImageConfig),
    "no-protocol": (NoProtocol, ImageConfig),
}


def register() -> None:
    """Register the tiny models in the process-wide registry (once)."""
    from core.building import list_components, register_component

    known = set(list_components("model"))
    for name, (cls, cfg) in MODELS.items():
        if name not in known:
            register_component("model", name, cls, config=cfg)
