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
from core.batches import check_images, check_labels, unpack_batch
from core.errors import ConfigError, DataError
from core_gan.augment import diff_augment
from core_gan.configs import DCGANConfig

__all__ = ["DCGAN", "Generator", "Discriminator", "dcgan_init", "mode_seeking_penalty"]


def _levels(image_size: int) -> int:
    """Number of stride-2 layers between 4x4 and ``image_size`` (3 at 64 px)."""
    return int(math.log2(image_size)) - 2


class Generator(nn.Module):
    """``(B, latent_dim, 1, 1)`` -> ``(B, channels, size, size)`` in [-1, 1].

    With ``num_classes``, a label embedding of ``latent_dim`` is concatenated to ``z``.
    """

    def __init__(
        self, latent_dim: int, image_size: int, channels: int, ngf: int, num_classes: int = 0
    ) -> None:
        super().__init__()
        hidden = _levels(image_size) - 1  # hidden stride-2 layers (3 at 64 px)
        width = ngf * 2**hidden
        self.label_embedding = nn.Embedding(num_classes, latent_dim) if num_classes else None
        inputs = latent_dim * (2 if num_classes else 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(inputs, width, 4, 1, 0, bias=False),
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

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.label_embedding is not None:
            z = torch.cat([z, self.label_embedding(y)[:, :, None, None].to(z.dtype)], 1)
        return self.main(z)


class Discriminator(nn.Module):
    """``(B, channels, size, size)`` -> one logit per image, shape ``(B,)``.

    With ``num_classes``, the logit adds the projection term of Miyato & Koyama (2018): the
    inner product of a class embedding with the last feature map summed over space.
    """

    def __init__(self, image_size: int, channels: int, ndf: int, num_classes: int = 0) -> None:
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
        self.projection = nn.Embedding(num_classes, width) if num_classes else None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.projection is None:
            return self.main(x).flatten(1).squeeze(1)
        features = self.main[:-1](x)
        logits = self.main[-1](features).flatten(1).squeeze(1)
        return logits + (self.projection(y).to(x.dtype) * features.sum((2, 3))).sum(1)


def dcgan_init(module: nn.Module) -> None:
    """DCGAN initialisation: conv weights N(0, 0.02), BatchNorm weights N(1, 0.02), biases 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, 0.0, 0.02)


class DCGAN(BaseModel):
    """DCGAN trained with two Adam optimizers: the non-saturating or hinge loss, optional
    DiffAugment, R1 and mode seeking; class-conditional with ``num_classes``.

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
        self.generator = Generator(c.latent_dim, c.image_size, c.channels, c.ngf, c.num_classes)
        self.discriminator = Discriminator(c.image_size, c.channels, c.ndf, c.num_classes)
        self.apply(dcgan_init)
        if self.generator.label_embedding is not None:
            nn.init.normal_(self.generator.label_embedding.weight)  # the scale of z

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

    @property
    def num_classes(self) -> int:
        """Class labels the model is conditioned on (0: unconditional)."""
        return self.config.num_classes

    def _check_labels(self, y: Any, batch_size: int) -> torch.Tensor | None:
        """``y`` as ``(batch_size,)`` class indices on the model's device; None when
        unconditional (where labels are refused)."""
        return check_labels(y, batch_size, self.num_classes, self.model_type, self.device)

    # -- public API ---------------------------------------------------------------------------
    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Images ``(B, channels, size, size)`` in [-1, 1] from latents ``(B, latent_dim[, 1, 1])``
        (and class labels ``y`` ``(B,)`` when class-conditional)."""
        z = self._check_latent(z)
        return self.generator(z, self._check_labels(y, z.shape[0]))

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
        y: torch.Tensor | None = None,
        temperature: float | None = None,
        sampler: str | None = None,
        steps: int | None = None,
        **options: Any,
    ) -> torch.Tensor:
        """``n`` images in [-1, 1] from ``z ~ N(0, temperature^2 I)`` (default: the config's
        ``sample_temperature``), in one batch, generated in eval mode (BatchNorm running
        statistics); ``core.sampling.draw_samples`` draws many in chunks, seeded.

        A class-conditional model draws classes ``y`` ``(n,)``, uniform at random when None.
        A GAN samples in one step: ``sampler`` and ``steps`` are accepted and ignored.
        """
        given = sorted(k for k, v in options.items() if v is not None)
        if given or n < 0:
            problem = f"unsupported option(s) {', '.join(given)}" if given else f"n = {n} < 0"
            raise ConfigError(f"dcgan.sample: {problem}")
        if temperature is None:
            temperature = self.config.sample_temperature
        z = torch.randn(n, self.config.latent_dim, 1, 1, device=self.device, generator=generator)
        z = z * temperature
        if y is None and self.num_classes:
            y = torch.randint(self.num_classes, (n,), device=self.device, generator=generator)
        y = self._check_labels(y, n)
        with _eval_mode(self.generator):
            return self.generator(z, y)

    def discriminator_logits(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """One logit per image, shape ``(B,)`` (train on these); ``y`` as in ``forward``."""
        x = self._check_images(x)
        return self.discriminator(x, self._check_labels(y, x.shape[0]))

    def discriminate(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Probability in [0, 1] that each image is real, shape ``(B,)``."""
        return torch.sigmoid(self.discriminator_logits(x, y))

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
        z = torch.randn(batch_size, self.config.latent_dim, device=self.device)
        if not self.num_classes:
            return (z,)
        return (z, torch.arange(batch_size, device=self.device) % self.num_classes)

    def export_networks(self) -> dict[str, ExportedNetwork]:
        """The generator: latents ``z`` ``(B, latent_dim)`` (and labels ``y`` ``(B,)`` when
        class-conditional) -> images in [-1, 1] (ONNX export; BatchNorm with its running
        statistics, as in ``sample``)."""
        inputs = self.example_inputs()
        names = ("z", "y")[: len(inputs)]
        batch = {name: {0: "batch"} for name in (*names, "images")}
        generator = ExportCall(
            self.generator, lambda z, *y: self.generator(z[:, :, None, None], *y)
        )
        return {
            "generator": ExportedNetwork(generator, inputs, names, batch, output_names=("images",))
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

    def _judge(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """The discriminator's logits of ``x`` after the config's DiffAugment transforms."""
        return self.discriminator(diff_augment(x, self.config.augment), y)

    def gan_losses(
        self, real: torch.Tensor, fake: torch.Tensor, y: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """Discriminator loss on ``real`` and detached ``fake`` (``loss``: non-saturating BCE
        on logits, or hinge), plus the R1 penalty on ``real`` when ``r1_gamma > 0``."""
        real, fake = self._check_images(real), self._check_images(fake)
        return self._discriminator_loss(real, fake, self._check_labels(y, real.shape[0]))

    def _discriminator_loss(
        self, real: torch.Tensor, fake: torch.Tensor, y: torch.Tensor | None
    ) -> dict[str, torch.Tensor]:
        """``gan_losses`` on inputs already checked."""
        penalise = self.config.r1_gamma > 0 and torch.is_grad_enabled()
        if penalise:
            real = real.detach().requires_grad_(True)
        logits_real = self._judge(real, y)
        logits_fake = self._judge(fake.detach(), y)
        if self.config.loss == "hinge":
            loss = F.relu(1 - logits_real).mean() + F.relu(1 + logits_fake).mean()
        else:
            loss = F.binary_cross_entropy_with_logits(
                logits_real, torch.ones_like(logits_real)
            ) + F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake))
        out = {
            "d_real": torch.sigmoid(logits_real.detach().float()).mean(),
            "d_fake": torch.sigmoid(logits_fake.detach().float()).mean(),
        }
        if penalise:
            (grad,) = torch.autograd.grad(logits_real.sum(), real, create_graph=True)
            r1 = grad.float().pow(2).flatten(1).sum(1).mean()
            loss = loss + 0.5 * self.config.r1_gamma * r1
            out["r1"] = r1.detach()
        return {"loss_d": loss, **out}

    def generator_loss(self, fake: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The generator's loss: ``-log D(G(z))`` (non-saturating) or ``-D(G(z))`` (hinge)."""
        fake = self._check_images(fake)
        return self._generator_loss(fake, self._check_labels(y, fake.shape[0]))

    def _generator_loss(self, fake: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """``generator_loss`` on inputs already checked."""
        logits = self._judge(fake, y)
        if self.config.loss == "hinge":
            return -logits.mean()
        return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))

    def training_step(self, batch: Any, optimizers: Any) -> dict[str, torch.Tensor]:
        """One discriminator update then one generator update on a batch of real images
        (with their labels when class-conditional; fakes are drawn for the same labels).

        ``optimizers.step(name, loss)`` backpropagates ``loss`` and steps that optimizer.
        The discriminator's parameters are frozen during the generator update so no
        gradient leaks into its next step.
        """
        real, labels = unpack_batch(batch)
        real = self._check_images(real)
        if self.num_classes and labels is None:
            raise DataError(
                f"dcgan: num_classes={self.num_classes} needs labelled batches (x, y); the "
                "dataset gave images only"
            )
        y = self._check_labels(labels if self.num_classes else None, real.shape[0])
        half = real.shape[0] // 2
        if self.config.mode_seeking > 0 and y is not None:
            y = torch.cat([y[:half], y[:half], y[2 * half :]])  # pairs share their class
        z = self.sample_z(real.shape[0]).to(real.dtype)
        fake = self.generator(z, y)

        d_out = self._discriminator_loss(real, fake, y)  # real and y checked once, above
        optimizers.step("discriminator", d_out["loss_d"])

        with _frozen(self.discriminator):
            loss_g = self._generator_loss(fake, y)
            if self.config.mode_seeking > 0 and half:
                spread = mode_seeking_penalty(
                    fake[:half], fake[half : 2 * half], z[:half], z[half : 2 * half]
                )
                loss_g = loss_g + self.config.mode_seeking * spread
            optimizers.step("generator", loss_g)

        loss_d = d_out.pop("loss_d").detach()
        loss_g = loss_g.detach()
        return {"loss": loss_d + loss_g, "loss_d": loss_d, "loss_g": loss_g, **d_out}


def mode_seeking_penalty(
    images_a: torch.Tensor, images_b: torch.Tensor, z_a: torch.Tensor, z_b: torch.Tensor
) -> torch.Tensor:
    """``1 / (|G(z_a) - G(z_b)| / |z_a - z_b|)`` with mean absolute differences (Mao et al.
    2019): large when two latents give close images."""
    ratio = (images_a - images_b).abs().mean() / (z_a - z_b).abs().mean()
    return 1.0 / (ratio + 1e-5)


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
