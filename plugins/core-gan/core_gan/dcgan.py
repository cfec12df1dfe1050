"""DCGAN: a transposed-convolution generator and a strided-convolution discriminator."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from core import BaseModel
from core.base_model import ExportCall, ExportedNetwork
from core.batches import check_images, unpack_batch
from core.errors import ConfigError
from core_gan.configs import DCGANConfig

__all__ = ["DCGAN", "Generator", "Discriminator", "dcgan_init"]


def _levels(image_size: int) -> int:
    """Number of stride-2 layers between 4x4 and ``image_size`` (3 at 64 px)."""
    return int(math.log2(image_size)) - 2


class Generator(nn.Module):
    """``(B, latent_dim, 1, 1)`` -> ``(B, channels, size, size)`` in [-1, 1]."""

    def __init__(self, latent_dim: int, image_size: int, channels: int, ngf: int) -> None:
        super().__init__()
        hidden = _levels(image_size) - 1  # hidden stride-2 layers (3 at 64 px)
        width = ngf * 2**hidden
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, width, 4, 1, 0, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(True),
        ]
        for _ in range(hidden):
            layers += [
                nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(width // 2),
                nn.ReLU(True),
            ]
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


class Discriminator(nn.Module):
    """``(B, channels, size, size)`` -> one logit per image, shape ``(B,)``."""

    def __init__(self, image_size: int, channels: int, ndf: int) -> None:
        super().__init__()
        hidden = _levels(image_size) - 1
        width = ndf
        layers: list[nn.Module] = [
            nn.Conv2d(channels, width, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        for _ in range(hidden):
            layers += [
                nn.Conv2d(width, width * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(width * 2),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            width *= 2
        layers.append(nn.Conv2d(width, 1, 4, 1, 0, bias=False))
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).flatten(1).squeeze(1)


def dcgan_init(module: nn.Module) -> None:
    """DCGAN initialisation: conv weights N(0, 0.02), BatchNorm weights N(1, 0.02), biases 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class DCGAN(BaseModel):
    """DCGAN with the non-saturating GAN loss, trained with two Adam optimizers.

    ``model(z)`` generates images in [-1, 1]; ``discriminate(x)`` gives the probability that
    each image is real. Train on data normalised to [-1, 1].
    """

    config_class = DCGANConfig
    model_type = "dcgan"
    sample_range = (-1.0, 1.0)
    config: DCGANConfig

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        self.generator = Generator(c.latent_dim, c.image_size, c.channels, c.ngf)
        self.discriminator = Discriminator(c.image_size, c.channels, c.ndf)
        self.apply(dcgan_init)

    # -- shapes -------------------------------------------------------------------------------
    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(channels, image_size, image_size)``."""
        c = self.config
        return (c.channels, c.image_size, c.image_size)

    def _check_latent(self, z: torch.Tensor) -> torch.Tensor:
        d = self.config.latent_dim
        if not isinstance(z, torch.Tensor):
            raise ConfigError(f"dcgan: z must be a tensor, got {type(z).__name__}")
        if z.dim() == 2 and z.shape[1] == d:
            return z[:, :, None, None]
        if z.dim() == 4 and tuple(z.shape[1:]) == (d, 1, 1):
            return z
        raise ConfigError(
            f"dcgan: expected a latent of shape (B, {d}) or (B, {d}, 1, 1), got {tuple(z.shape)}"
        )

    def _check_images(self, x: torch.Tensor) -> torch.Tensor:
        return check_images(x, self.image_shape, self.model_type)

    # -- public API ---------------------------------------------------------------------------
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Images ``(B, channels, size, size)`` in [-1, 1] from latents ``(B, latent_dim[, 1, 1])``."""
        return self.generator(self._check_latent(z))

    def sample_z(
        self, batch_size: int, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Standard normal latents ``(batch_size, latent_dim, 1, 1)`` on the model's device."""
        if batch_size < 1:
            raise ConfigError(f"dcgan: batch_size must be >= 1, got {batch_size}")
        return torch.randn(
            batch_size, self.config.latent_dim, 1, 1, device=self.device, generator=generator
        )

    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        sampler: str | None = None,
        steps: int | None = None,
        **options: Any,
    ) -> torch.Tensor:
        """``n`` images in [-1, 1], in one batch, generated in eval mode (BatchNorm running
        statistics); ``core.sampling.draw_samples`` draws many in chunks, seeded.

        A GAN samples in one step: ``sampler`` and ``steps`` are accepted and ignored.
        """
        given = sorted(k for k, v in options.items() if v is not None)
        if given or n < 0:
            problem = f"unsupported option(s) {', '.join(given)}" if given else f"n = {n} < 0"
            raise ConfigError(f"dcgan.sample: {problem}")
        z = torch.randn(n, self.config.latent_dim, 1, 1, device=self.device, generator=generator)
        with _eval_mode(self.generator):
            return self.generator(z)

    def discriminator_logits(self, x: torch.Tensor) -> torch.Tensor:
        """One logit per image, shape ``(B,)`` (train on these)."""
        return self.discriminator(self._check_images(x))

    def discriminate(self, x: torch.Tensor) -> torch.Tensor:
        """Probability in [0, 1] that each image is real, shape ``(B,)``."""
        return torch.sigmoid(self.discriminator_logits(x))

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
        return (torch.randn(batch_size, self.config.latent_dim, device=self.device),)

    def export_networks(self) -> dict[str, ExportedNetwork]:
        """The generator: latents ``z`` ``(B, latent_dim)`` -> images in [-1, 1] (ONNX export;
        BatchNorm with its running statistics, as in ``sample``)."""
        z = torch.randn(2, self.config.latent_dim, device=self.device)
        batch = {"z": {0: "batch"}, "images": {0: "batch"}}
        generator = ExportCall(self.generator, lambda z: self.generator(z[:, :, None, None]))
        return {
            "generator": ExportedNetwork(generator, (z,), ("z",), batch, output_names=("images",))
        }

    # -- training protocol --------------------------------------------------------------------
    def fsdp_blocks(self) -> list[nn.Module]:
        """The generator and the discriminator: ``train.strategy: fsdp`` shards each as a unit
        (``training_step`` calls them, never one root, so together they hold every parameter)."""
        return [self.generator, self.discriminator]

    def optimizer_groups(self, train_config: Any = None) -> dict[str, dict[str, Any]]:
        """Two Adam groups, ``discriminator`` and ``generator``, from the model config.

        ``lr_generator``, ``lr_discriminator`` and ``betas`` come from the model config (DCGAN
        defaults 2e-4 and (0.5, 0.999)); weight decay is 0.
        """
        c = self.config
        return {
            "discriminator": {
                "params": list(self.discriminator.parameters()),
                "lr": c.lr_discriminator,
                "betas": tuple(c.betas),
                "weight_decay": 0.0,
            },
            "generator": {
                "params": list(self.generator.parameters()),
                "lr": c.lr_generator,
                "betas": tuple(c.betas),
                "weight_decay": 0.0,
            },
        }

    def gan_losses(self, real: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        """Discriminator loss on ``real`` and detached ``fake`` (non-saturating BCE on logits)."""
        logits_real = self.discriminator_logits(real)
        logits_fake = self.discriminator_logits(fake.detach())
        loss_real = F.binary_cross_entropy_with_logits(logits_real, torch.ones_like(logits_real))
        loss_fake = F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake))
        return {
            "loss_d": loss_real + loss_fake,
            "d_real": torch.sigmoid(logits_real.detach().float()).mean(),
            "d_fake": torch.sigmoid(logits_fake.detach().float()).mean(),
        }

    def generator_loss(self, fake: torch.Tensor) -> torch.Tensor:
        """Non-saturating generator loss ``-log D(G(z))``."""
        logits = self.discriminator_logits(fake)
        return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))

    def training_step(self, batch: Any, optimizers: Any) -> dict[str, torch.Tensor]:
        """One discriminator update then one generator update on a batch of real images.

        ``optimizers.step(name, loss)`` backpropagates ``loss`` and steps that optimizer.
        The discriminator's parameters are frozen during the generator update so no
        gradient leaks into its next step.
        """
        real, _ = unpack_batch(batch)
        real = self._check_images(real)
        fake = self.generator(self.sample_z(real.shape[0]).to(real.dtype))

        d_out = self.gan_losses(real, fake)
        optimizers.step("discriminator", d_out["loss_d"])

        with _frozen(self.discriminator):
            loss_g = self.generator_loss(fake)
            optimizers.step("generator", loss_g)

        loss_d = d_out["loss_d"].detach()
        loss_g = loss_g.detach()
        return {
            "loss": loss_d + loss_g,
            "loss_d": loss_d,
            "loss_g": loss_g,
            "d_real": d_out["d_real"],
            "d_fake": d_out["d_fake"],
        }


@contextlib.contextmanager
def _eval_mode(module: nn.Module) -> Iterator[None]:
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


@contextlib.contextmanager
def _frozen(module: nn.Module) -> Iterator[None]:
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)
