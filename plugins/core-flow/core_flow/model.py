"""Flow matching: a velocity network on the linear path from data to noise, and its sampling."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from core import BaseModel
from core.batches import unpack_batch
from core.building import build
from core.errors import ConfigError, DataError
from core_diffusion.configs import check_guidance_interval
from core_diffusion.networks import check_network, data_shape, network_section

from core_flow.configs import FlowConfig
from core_flow.samplers import FlowSampler

__all__ = ["Flow"]


class Flow(BaseModel):
    """Flow matching (Lipman et al. 2023; Liu et al. 2023) around a registered network.

    ``x_t = (1 - t) x_0 + t e`` with ``e ~ N(0, I)`` and ``t ~ U(0, 1)``; the network
    ``v(x_t, t * time_scale[, y])`` learns the velocity ``e - x_0`` (``compute_loss``: the
    MSE). ``sample`` integrates dx/dt = v from t = 1 to 0 with a flow sampler.
    """

    config_class = FlowConfig
    sample_range = (-1.0, 1.0)

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.network = build("model", self._network_section(), where="model.network")
        if self.config.label_dropout > 0 and not self.num_classes:
            raise ConfigError(
                f"model.label_dropout ({self.config.label_dropout}) drops class labels, but the "
                "network has num_classes=0; set model.network.num_classes"
            )
        self._check_network()

    # -- construction --------------------------------------------------------------------------
    @property
    def data_shape(self) -> tuple[int, ...]:
        """Shape of one sample: (data_dim,) or (channels, image_size, image_size)."""
        return data_shape(self.config)

    def _network_section(self) -> dict[str, Any]:
        """``network``, with the data's shape, the time range and the null class filled in."""
        return network_section(self.config, num_timesteps=max(1, round(self.config.time_scale)))

    def _check_network(self) -> None:
        """One dummy forward: the network must return the input's shape."""
        x = torch.zeros(1, *self.data_shape)
        check_network(self.network, self.config.network["type"], x, torch.zeros(1))

    @property
    def num_classes(self) -> int:
        return int(getattr(self.network.config, "num_classes", 0) or 0)

    @property
    def null_class(self) -> int | None:
        """The label index of the unconditional prediction (None: trained without dropout)."""
        has = bool(getattr(self.network.config, "null_class", False))
        return self.num_classes if has and self.num_classes else None

    def fsdp_blocks(self) -> list[torch.nn.Module]:
        """The network's blocks (``train.strategy: fsdp``'s units)."""
        return self.network.fsdp_blocks()

    # -- training ------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, t: torch.Tensor, **conditioning: Any) -> torch.Tensor:
        """The velocity at x and flow times t in [0, 1]."""
        return self.network(x, t * self.config.time_scale, **conditioning)

    def compute_loss(self, batch: Any) -> dict[str, torch.Tensor]:
        """MSE between v(x_t, t) and e - x_0 at t ~ U(0, 1); labels dropped to the null class
        with probability ``label_dropout``."""
        x0, labels = unpack_batch(batch)
        x0 = x0.to(self.device)
        if tuple(x0.shape[1:]) != self.data_shape:
            raise DataError(
                f"flow: expected data of shape (B, {', '.join(map(str, self.data_shape))}), "
                f"got {tuple(x0.shape)}"
            )
        kwargs = {}
        if self.num_classes and labels is not None:
            y = torch.as_tensor(labels, device=self.device).long()
            if self.config.label_dropout > 0:
                drop = torch.rand(y.shape[0], device=y.device) < self.config.label_dropout
                y = torch.where(drop, torch.full_like(y, self.num_classes), y)
            kwargs["y"] = y
        t = torch.rand(x0.shape[0], device=x0.device, dtype=x0.dtype)
        noise = torch.randn_like(x0)
        return {"loss": F.mse_loss(*self.velocity_and_target(x0, noise, t, **kwargs))}

    def velocity_and_target(
        self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor, **conditioning: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The network's velocity at ``x_t = (1 - t) x0 + t noise`` and its target noise - x0."""
        tb = t.view(-1, *([1] * (x0.ndim - 1)))
        x_t = (1 - tb) * x0 + tb * noise
        return self(x_t, t, **conditioning).float(), (noise - x0).float()

    # -- sampling ------------------------------------------------------------------------------
    def get_sampler(self, sampler: Any = None) -> FlowSampler:
        """A flow sampler from a name (``flow-euler``, ``flow-heun``, ``flow-midpoint``)."""
        sampler = sampler or self.config.sampler
        if isinstance(sampler, str):
            sampler = build("sampler", {"type": sampler}, where="sampler")
        if not isinstance(sampler, FlowSampler):
            raise ConfigError(
                f"flow: sampler {type(sampler).__name__} is not a flow sampler; use flow-euler, "
                "flow-heun or flow-midpoint"
            )
        return sampler

    @torch.no_grad()
    def sample(
        self,
        n: int | None = None,
        sampler: Any = None,
        steps: int | None = None,
        generator: torch.Generator | None = None,
        progress: bool = False,
        x_T: torch.Tensor | None = None,
        *,
        batch_size: int | None = None,
        y: Any = None,
        guidance_scale: float | None = None,
        guidance_interval: tuple[float, float] | None = None,
        **options: Any,
    ) -> torch.Tensor:
        """``n`` samples (images clamped to [-1, 1]); ``steps`` solver steps (NFE = steps for
        Euler, 2 steps for Heun and midpoint; ``last_nfe`` says). A class-conditional network
        given no ``y`` draws every class in blocks (row k of a 10x10 grid is class k).
        ``guidance_scale`` s: ``v = v_uncond + s (v_cond - v_uncond)`` (a model trained with
        ``label_dropout > 0``), only where sigma = t / (1 - t) lies in ``guidance_interval``
        ``(low, high]`` when one is given. ``options``: the sampler's (``shift``)."""
        n = batch_size if n is None else n
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"flow.sample: n must be a positive integer, got {n!r}")
        instance = self.get_sampler(sampler)
        unknown = sorted(set(options) - set(type(instance.config).model_fields))
        if unknown:
            raise ConfigError(
                f"flow.sample: unknown keyword(s) {', '.join(unknown)}; sampler options "
                f"({', '.join(type(instance.config).model_fields)}) or y expected"
            )
        steps = steps if steps is not None else self.config.sample_steps
        if steps is not None:
            options["steps"] = steps
        conditioning = self._labels(n, y)
        velocity = self._guided(guidance_scale, guidance_interval, conditioning)
        was_training = self.training
        self.eval()
        try:
            out = instance(
                velocity,
                (n, *self.data_shape),
                generator=generator,
                device=self.device,
                x_T=x_T,
                **options,
                **conditioning,
            )
        finally:
            self.train(was_training)
        self.last_nfe = instance.last_nfe
        return out if self.config.data_dim else out.clamp(-1.0, 1.0)

    def _labels(self, n: int, y: Any) -> dict[str, torch.Tensor]:
        if y is None and self.num_classes:  # every class, in blocks
            y = torch.arange(n, device=self.device) * self.num_classes // n
        if y is None:
            return {}
        y = torch.as_tensor(y, device=self.device).long()
        return {"y": y.expand(n) if y.ndim == 0 else y}

    def _guided(self, scale: Any, interval: Any, conditioning: dict[str, Any]) -> Any:
        """The velocity, or its classifier-free-guided mix when ``scale`` != 1."""
        c = self.config
        scale = c.guidance_scale if scale is None else scale
        try:
            interval = check_guidance_interval(
                c.guidance_interval if interval is None else interval
            )
        except ValueError as exc:
            raise ConfigError(f"flow.sample: guidance_interval {exc}") from None
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale < 0:
            raise ConfigError(f"flow.sample: guidance_scale must be a number >= 0, got {scale!r}")
        if scale == 1.0:
            return self.forward
        if self.null_class is None or "y" not in conditioning:
            raise ConfigError(
                f"flow.sample: guidance_scale {scale:g} needs a class-conditional model trained "
                "with label dropout (model.label_dropout > 0); only guidance_scale 1 works here"
            )
        null = self.null_class

        def guided(x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            weight = torch.full_like(t, float(scale))
            if interval is not None:
                sigma = t / (1 - t).clamp(min=1e-12)
                inside = (sigma > interval[0]) & (sigma <= interval[1])
                if not inside.any():
                    return self(x, t, y=y)
                weight = torch.where(inside, weight, torch.ones_like(weight))
            labels = torch.cat([y, torch.full_like(y, null)])
            cond, uncond = self(torch.cat([x, x]), torch.cat([t, t]), y=labels).chunk(2)
            return uncond + weight.view(-1, *([1] * (x.ndim - 1))) * (cond - uncond)

        return guided

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
        g = torch.Generator().manual_seed(0)
        return torch.randn(batch_size, *self.data_shape, generator=g), torch.rand(
            batch_size, generator=g
        )
