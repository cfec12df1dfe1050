"""Flow matching: a velocity network on the linear path from data to noise, and its sampling."""

from __future__ import annotations

import inspect
from typing import Any

import torch
from core import BaseModel
from core.batches import unpack_batch
from core.building import build
from core.errors import ConfigError, DataError
from core_diffusion.configs import check_guidance_interval
from core_diffusion.layers import sinusoidal_embedding
from core_diffusion.networks import check_network, data_shape, network_section

from core_flow.configs import FlowConfig
from core_flow.objectives import (
    interval_embedding,
    mean_flow_errors,
    sample_times,
    shortcut_errors,
)
from core_flow.samplers import FlowSampler

__all__ = ["Flow"]


class Flow(BaseModel):
    """Flow matching (Lipman et al. 2023; Liu et al. 2023) around a registered network.

    ``x_t = (1 - t) x_0 + t e`` with ``e ~ N(0, I)``; the network ``v(x_t, t * time_scale[,
    y])`` learns the velocity ``e - x_0`` (``compute_loss``: the MSE). With ``objective:
    mean-flow`` it also takes the interval t - r (an embedding added to its time embedding)
    and learns the average velocity over [r, t] (``core_flow.objectives``), so one Euler step
    of any size is exact; ``objective: shortcut`` learns the same quantity from self-consistency
    (one step over [r, t] equals two half steps). ``sample`` integrates from t = 1 to 0 with a flow sampler.
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
        self.interval_mlp = None
        if self.config.objective != "flow-matching":
            self.interval_mlp = interval_embedding(self._embedding_width())
        self._check_network()

    # -- construction --------------------------------------------------------------------------
    @property
    def data_shape(self) -> tuple[int, ...]:
        """Shape of one sample: (data_dim,) or (channels, image_size, image_size)."""
        return data_shape(self.config)

    def _network_section(self) -> dict[str, Any]:
        """``network``, with the data's shape, the time range and the null class filled in."""
        return network_section(self.config, num_timesteps=max(1, round(self.config.time_scale)))

    def _embedding_width(self) -> int:
        """The network's time-embedding width; the few-step objectives add the interval's
        embedding to it."""
        width = getattr(self.network, "time_dim", None)
        accepts = "embedding_residual" in inspect.signature(self.network.forward).parameters
        if not (isinstance(width, int) and accepts):
            raise ConfigError(
                f"model.objective: {self.config.objective} adds an interval embedding to the "
                f"network's time embedding, which {self.config.network['type']} does not take; "
                "use ddpm-unet, unet or mlp-denoiser"
            )
        return width

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
    def forward(
        self, x: torch.Tensor, t: torch.Tensor, r: torch.Tensor | None = None, **conditioning: Any
    ) -> torch.Tensor:
        """The velocity at x and flow times t in [0, 1]; a mean-flow or shortcut model gives
        the average velocity over [r, t] (r = None: r = t, the velocity at t)."""
        extra = {}
        if self.interval_mlp is not None:
            # t - r in [0, 1] unscaled: slow features keep du/dt, fed back by the target, small
            width = t - (t if r is None else r)
            features = sinusoidal_embedding(width, self.network.time_dim)
            extra["embedding_residual"] = self.interval_mlp(features.to(x.dtype))
        return self.network(x, t * self.config.time_scale, **conditioning, **extra)

    def compute_loss(self, batch: Any) -> dict[str, torch.Tensor]:
        """The squared error of the velocity (rows with r = t) and of the mean-flow or shortcut
        target (rows with r < t), per sample, weighted by ``loss_weight_power``; labels dropped to
        the null class with probability ``label_dropout``."""
        c = self.config
        x0, conditioning = self._training_batch(batch)
        t, r = sample_times(
            x0.shape[0],
            distribution=c.time_distribution,
            logit_mean=c.logit_mean,
            logit_std=c.logit_std,
            interval_share=c.interval_share if self.interval_mlp is not None else 0.0,
            device=x0.device,
            dtype=x0.dtype,
        )
        noise = torch.randn_like(x0)
        tb = t.view(-1, *([1] * (x0.ndim - 1)))
        z, v = (1 - tb) * x0 + tb * noise, noise - x0
        errors = []
        plain = r == t
        if plain.any():
            given = {key: value[plain] for key, value in conditioning.items()}
            errors.append(self(z[plain], t[plain], **given).float() - v[plain].float())
        if not plain.all():
            errors.append(self._interval_errors(z, v, t, r, conditioning, ~plain))
        losses = torch.cat([e.square().flatten(1).mean(1) for e in errors])
        weight = (losses.detach() + 1e-3) ** -c.loss_weight_power if c.loss_weight_power else 1.0
        return {"loss": (weight * losses).mean(), "mse": losses.detach().mean()}

    def _interval_errors(
        self,
        z: torch.Tensor,
        v: torch.Tensor,
        t: torch.Tensor,
        r: torch.Tensor,
        conditioning: dict[str, torch.Tensor],
        rows: torch.Tensor,
    ) -> torch.Tensor:
        """The shortcut or mean-flow errors of the ``rows`` with r < t."""
        given = {key: value[rows] for key, value in conditioning.items()}

        def average_velocity(z: torch.Tensor, t: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
            return self(z, t, r, **given)

        if self.config.objective == "shortcut":
            return shortcut_errors(average_velocity, z[rows], t[rows], r[rows])
        return mean_flow_errors(average_velocity, z[rows], v[rows], t[rows], r[rows])

    def _training_batch(self, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The batch's data on the model's device, and its labels (some dropped)."""
        x0, labels = unpack_batch(batch)
        x0 = x0.to(self.device)
        if tuple(x0.shape[1:]) != self.data_shape:
            raise DataError(
                f"flow: expected data of shape (B, {', '.join(map(str, self.data_shape))}), "
                f"got {tuple(x0.shape)}"
            )
        if not (self.num_classes and labels is not None):
            return x0, {}
        y = torch.as_tensor(labels, device=self.device).long()
        if self.config.label_dropout > 0:
            drop = torch.rand(y.shape[0], device=y.device) < self.config.label_dropout
            y = torch.where(drop, torch.full_like(y, self.num_classes), y)
        return x0, {"y": y}

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

        def guided(x: torch.Tensor, t: torch.Tensor, r: torch.Tensor, y: torch.Tensor) -> Any:
            weight = torch.full_like(t, float(scale))
            if interval is not None:
                sigma = t / (1 - t).clamp(min=1e-12)
                inside = (sigma > interval[0]) & (sigma <= interval[1])
                if not inside.any():
                    return self(x, t, r, y=y)
                weight = torch.where(inside, weight, torch.ones_like(weight))
            labels = torch.cat([y, torch.full_like(y, null)])
            both = (torch.cat([x, x]), torch.cat([t, t]), torch.cat([r, r]))
            cond, uncond = self(*both, y=labels).chunk(2)
            return uncond + weight.view(-1, *([1] * (x.ndim - 1))) * (cond - uncond)

        return guided

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
        g = torch.Generator().manual_seed(0)
        return torch.randn(batch_size, *self.data_shape, generator=g), torch.rand(
            batch_size, generator=g
        )
