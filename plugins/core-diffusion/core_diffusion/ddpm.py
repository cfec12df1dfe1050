"""DDPM: a noise schedule, a denoising network, the training loss and sampling."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

from core import BaseModel
from core.batches import unpack_batch
from core.components import build, get_entry
from core.errors import ConfigError, CoreError, DataError
from core_diffusion.configs import DDPMConfig

__all__ = ["DDPM"]


class DDPM(BaseModel):
    """Denoising diffusion model (Ho et al. 2020) around any registered denoising network.

    ``compute_loss(batch)`` is the MSE between the network's output and its target (the
    noise, or v) at uniform random timesteps; ``sample(n, sampler=..., steps=...)`` draws
    samples with any registered sampler.
    """

    config_class = DDPMConfig
    sample_range = (-1.0, 1.0)

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        schedule = {k: v for k, v in c.scheduler.items() if k != "num_steps"}
        schedule["timesteps"] = c.timesteps
        self.schedule = build("scheduler", schedule, where="model.scheduler")
        self.network = build("model", self._network_section(), where="model.network")
        self.ema_decay = c.ema
        self._check_network()

    # -- construction --------------------------------------------------------------------------
    @property
    def data_shape(self) -> tuple[int, ...]:
        """Shape of one sample: (data_dim,) or (channels, image_size, image_size)."""
        c = self.config
        return (c.data_dim,) if c.data_dim else (c.channels, c.image_size, c.image_size)

    def _network_section(self) -> dict[str, Any]:
        c = self.config
        section = dict(c.network or {})
        try:
            entry = get_entry("model", section["type"])
            schema = entry.load_config()
        except CoreError as exc:
            raise ConfigError(f"model.network.type: {exc}") from None
        fields = set(getattr(schema, "model_fields", {}) or {})
        fill: dict[str, Any] = {}
        if c.data_dim:
            fill["data_dim"] = c.data_dim
        else:
            fill.update(in_channels=c.channels, out_channels=c.channels, image_size=c.image_size)
        fill["num_timesteps"] = c.timesteps  # networks that normalise t by T
        for key, value in fill.items():
            if key in fields and section.get(key) is None:
                section[key] = value
        return section

    def _check_network(self) -> None:
        """One dummy forward: the network must return the input's shape."""
        x = torch.zeros(1, *self.data_shape)
        t = torch.zeros(1, dtype=torch.long)
        kwargs = self._dummy_conditioning(x)
        was_training = self.network.training
        self.network.eval()
        try:
            with torch.no_grad():
                out = self.network(x, t, **kwargs)
        except CoreError as exc:
            raise ConfigError(f"model.network ({self.config.network['type']}): {exc}") from None
        except (RuntimeError, ValueError, TypeError) as exc:
            raise ConfigError(
                f"model.network ({self.config.network['type']}) fails on a "
                f"{tuple(x.shape)} input: {exc}"
            ) from None
        finally:
            self.network.train(was_training)
        if tuple(out.shape) != tuple(x.shape):
            raise ConfigError(
                f"model.network ({self.config.network['type']}) returns shape "
                f"{tuple(out.shape)} for an input of shape {tuple(x.shape)}; a denoising "
                "network must return its input's shape (check channels/image_size/data_dim)"
            )

    def _dummy_conditioning(self, x: torch.Tensor) -> dict[str, Any]:
        cond_channels = self.network_option("cond_channels", 0)
        if cond_channels:
            return {"cond": torch.zeros(x.shape[0], cond_channels, *x.shape[2:])}
        return {}

    def network_option(self, key: str, default: Any = None) -> Any:
        """An option of the network's validated config."""
        return getattr(getattr(self.network, "config", None), key, default) or default

    @property
    def num_classes(self) -> int:
        return int(self.network_option("num_classes", 0) or 0)

    @property
    def timesteps(self) -> int:
        return self.config.timesteps

    # -- forward / training --------------------------------------------------------------------
    def forward(self, x: torch.Tensor, t: torch.Tensor, **conditioning: Any) -> torch.Tensor:
        """The network's prediction at noisy input x and timesteps t."""
        return self.network(x, t, **conditioning)

    def q_sample(
        self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor | None = None
    ) -> torch.Tensor:
        """x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) noise."""
        if noise is None:
            noise = torch.randn_like(x0)
        return self.schedule.add_noise(x0, noise, t)

    def _check_data(self, x: torch.Tensor) -> None:
        if tuple(x.shape[1:]) != self.data_shape:
            raise DataError(
                f"ddpm: expected data of shape (B, {', '.join(map(str, self.data_shape))}), "
                f"got {tuple(x.shape)}"
            )

    def _conditioning(self, batch: Any, labels: Any) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if self.num_classes and labels is not None:
            kwargs["y"] = torch.as_tensor(labels, device=self.device).long()
        if isinstance(batch, Mapping) and batch.get("cond") is not None:
            kwargs["cond"] = batch["cond"]
        return kwargs

    def compute_loss(self, batch: Any) -> dict[str, torch.Tensor]:
        """MSE between the network output and the noise (or v) at uniform random t."""
        x0, labels = unpack_batch(batch)
        x0 = x0.to(self.device)
        self._check_data(x0)
        kwargs = self._conditioning(batch, labels)
        t = torch.randint(0, self.config.timesteps, (x0.shape[0],), device=x0.device)
        noise = torch.randn_like(x0)
        x_t = self.schedule.add_noise(x0, noise, t)
        target = (
            noise if self.config.prediction == "epsilon" else self.schedule.velocity(x0, noise, t)
        )
        pred = self.network(x_t, t, **kwargs)
        loss = F.mse_loss(pred.float(), target.float())
        return {"loss": loss}

    # -- sampling ------------------------------------------------------------------------------
    def get_sampler(self, sampler: Any = None, **options: Any) -> Any:
        """A sampler instance from a name (``ddpm``, ``ddim``, ``dpm-solver++``) or an instance."""
        sampler = sampler or self.config.sampler
        if not isinstance(sampler, str):
            return sampler
        return build("sampler", {"type": sampler, **options}, where="sampler")

    @torch.no_grad()
    def sample(
        self,
        n: int,
        sampler: Any = None,
        steps: int | None = None,
        generator: torch.Generator | None = None,
        progress: bool = False,
        x_T: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        """``n`` samples; images are clamped to [-1, 1].

        Keywords that are options of the sampler (``eta``, ``order``, ``variance``) configure
        it; ``y`` / ``cond`` condition the network. A class-conditional network given no ``y``
        draws the classes in turn (``y = arange(n) % num_classes``).
        """
        if not isinstance(n, int) or n < 1:
            raise ConfigError(f"ddpm.sample: n must be a positive integer, got {n!r}")
        steps = steps if steps is not None else self.config.sample_steps
        if steps is not None and (steps < 1 or steps > self.config.timesteps):
            raise ConfigError(
                f"ddpm.sample: steps must lie in [1, {self.config.timesteps}] (the model's "
                f"timesteps), got {steps}"
            )
        instance = self.get_sampler(sampler)
        fields = set(type(instance.config).model_fields)
        options = {k: kwargs.pop(k) for k in list(kwargs) if k in fields}
        if steps is not None:
            options["steps"] = steps
        conditioning = self._sample_conditioning(n, kwargs)
        images = not self.config.data_dim
        clip = 1.0 if images and self.config.clip_denoised else None
        was_training = self.training
        self.eval()
        try:
            out = instance(
                self.network,
                (n, *self.data_shape),
                self.schedule,
                generator=generator,
                device=self.device,
                prediction=self.config.prediction,
                clip_x0=clip,
                x_T=x_T,
                progress=progress,
                **options,
                **conditioning,
            )
        finally:
            self.train(was_training)
        self.last_nfe = instance.last_nfe
        return out.clamp(-1.0, 1.0) if images else out

    def _sample_conditioning(self, n: int, kwargs: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(kwargs) - {"y", "cond"})
        if unknown:
            raise ConfigError(
                f"ddpm.sample: unknown keyword(s) {', '.join(unknown)}; sampler options or "
                "conditioning (y, cond) expected"
            )
        out = {k: v for k, v in kwargs.items() if v is not None}
        classes = getattr(getattr(self.network, "config", None), "num_classes", 0) or 0
        if "y" not in out and classes > 0:  # a class-conditional network draws every class in turn
            out["y"] = torch.arange(n, device=self.device) % classes
        if "y" in out:
            y = torch.as_tensor(out["y"], device=self.device).long()
            out["y"] = y.expand(n) if y.ndim == 0 else y
        if "cond" in out:
            out["cond"] = out["cond"].to(self.device)
        return out

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
        g = torch.Generator().manual_seed(0)
        x = torch.randn(batch_size, *self.data_shape, generator=g)
        t = torch.randint(0, self.config.timesteps, (batch_size,), generator=g)
        return x, t
