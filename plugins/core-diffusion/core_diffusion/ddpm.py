"""DDPM: a noise schedule, a denoising network, the training loss and sampling."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

from core import BaseModel
from core.base_model import ExportCall, ExportedNetwork
from core.batches import unpack_batch
from core.building import build
from core.errors import ConfigError, DataError
from core_diffusion.configs import DDPMConfig, check_guidance_interval
from core_diffusion.networks import check_network, data_shape, network_section

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
        schedule = {k: v for k, v in c.noise_schedule.items() if k != "num_steps"}
        schedule["timesteps"] = c.timesteps
        self.schedule = build("noise-schedule", schedule, where="model.noise_schedule")
        self.network = build("model", self._network_section(), where="model.network")
        self.ema_decay = c.ema
        self._check_guidance_setup()
        self._check_network()

    # -- construction --------------------------------------------------------------------------
    @property
    def data_shape(self) -> tuple[int, ...]:
        """Shape of one sample: (data_dim,) or (channels, image_size, image_size)."""
        return data_shape(self.config)

    def _network_section(self) -> dict[str, Any]:
        return network_section(self.config, num_timesteps=self.config.timesteps)

    def fsdp_blocks(self) -> list[torch.nn.Module]:
        """The network's blocks (a U-Net's down, middle and up blocks): ``train.strategy:
        fsdp`` shards each as a unit; the schedule and the rest stay with the root."""
        return self.network.fsdp_blocks()

    def get_config(self) -> dict[str, Any]:
        """The config; a network that resolves its options when built (diffusers-unet's
        ``pretrained``) is saved as built, so a saved copy loads without its source."""
        config = super().get_config()
        if getattr(self.network, "saves_resolved_config", False):
            config["network"] = self.network.get_config()
        return config

    def _check_guidance_setup(self) -> None:
        if self.config.label_dropout > 0 and not self.num_classes:
            raise ConfigError(
                f"model.label_dropout ({self.config.label_dropout}) drops class labels, but the "
                "network has num_classes=0; set model.network.num_classes"
            )

    def _check_network(self) -> None:
        """One dummy forward: the network must return the input's shape."""
        x = torch.zeros(1, *self.data_shape)
        t = torch.zeros(1, dtype=torch.long)
        check_network(
            self.network, self.config.network["type"], x, t, **self._dummy_conditioning(x)
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

    @property
    def null_class(self) -> int | None:
        """The label index of the unconditional prediction (None: trained without dropout)."""
        has = bool(self.network_option("null_class", False))
        return self.num_classes if has and self.num_classes else None

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
        c = self.config
        if c.label_dropout > 0 and "y" in kwargs:  # classifier-free guidance: learn p(x) too
            drop = torch.rand(x0.shape[0], device=x0.device) < c.label_dropout
            kwargs["y"] = torch.where(
                drop, torch.full_like(kwargs["y"], self.num_classes), kwargs["y"]
            )
        t = torch.randint(0, c.timesteps, (x0.shape[0],), device=x0.device)
        noise = torch.randn_like(x0)
        x_t = self.schedule.add_noise(x0, noise, t)
        target = noise if c.prediction == "epsilon" else self.schedule.velocity(x0, noise, t)
        pred = self.network(x_t, t, **kwargs)
        if c.loss_weighting == "none":
            return {"loss": F.mse_loss(pred.float(), target.float())}
        per_sample = (pred.float() - target.float()).pow(2).flatten(1).mean(1)
        ab = self.schedule.alpha_bars.to(x0.device)[t].double()
        snr = ab / (1 - ab)
        # min-SNR-gamma: min(SNR, g) / SNR on the noise, min(SNR, g) / (SNR + 1) on v
        denom = snr if c.prediction == "epsilon" else snr + 1
        weight = (snr.clamp(max=c.min_snr_gamma) / denom).float()
        loss = (weight * per_sample).mean()
        return {"loss": loss, "mse": per_sample.mean().detach()}

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
        n: int | None = None,
        sampler: Any = None,
        steps: int | None = None,
        generator: torch.Generator | None = None,
        progress: bool = False,
        x_T: torch.Tensor | None = None,
        *,
        batch_size: int | None = None,
        guidance_scale: float | None = None,
        guidance_interval: tuple[float, float] | None = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        """``n`` samples (or ``batch_size=``, the seed's name); images are clamped to [-1, 1].

        Keywords that are options of the sampler (``eta``, ``order``, ``variance``) configure
        it; ``y`` / ``cond`` condition the network. A class-conditional network given no ``y``
        draws every class in blocks (``y = arange(n) * num_classes // n``: with n = 100 and
        10 classes, row k of a 10x10 grid is class k). ``guidance_scale`` s
        (default: the model's ``guidance_scale``) applies classifier-free guidance with any
        sampler: ``eps = eps_uncond + s (eps_cond - eps_uncond)``, both from one batched call
        of the network; it needs a model trained with ``label_dropout > 0``.
        ``guidance_interval`` ``(low, high)`` (default: the model's) guides only the steps whose
        noise level ``sigma = sqrt((1 - alpha_bar) / alpha_bar)`` lies in ``(low, high]``; the
        others take the conditional prediction alone, one network batch of ``n``.
        """
        n = self._sample_count(n, batch_size)
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
        model_fn = self._guided(guidance_scale, guidance_interval, conditioning)
        images = not self.config.data_dim
        clip = 1.0 if images and self.config.clip_denoised else None
        was_training = self.training
        self.eval()
        try:
            out = instance(
                model_fn,
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

    @staticmethod
    def _sample_count(n: Any, batch_size: Any) -> int:
        if n is None:
            n = batch_size
        elif batch_size is not None and batch_size != n:
            raise ConfigError(
                f"ddpm.sample: n ({n!r}) and batch_size ({batch_size!r}) disagree; give one"
            )
        if n is None:
            raise ConfigError("ddpm.sample: give the number of samples, n (or batch_size=)")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"ddpm.sample: n must be a positive integer, got {n!r}")
        return n

    def _guided(self, scale: float | None, interval: Any, conditioning: dict[str, Any]) -> Any:
        """The network, or a classifier-free-guided wrapper of it when ``scale`` != 1."""
        scale = self.config.guidance_scale if scale is None else scale
        interval = self.config.guidance_interval if interval is None else interval
        try:
            interval = check_guidance_interval(interval)
        except ValueError as exc:
            raise ConfigError(f"ddpm.sample: guidance_interval {exc}") from None
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale < 0:
            raise ConfigError(f"ddpm.sample: guidance_scale must be a number >= 0, got {scale!r}")
        scale = float(scale)
        if scale == 1.0:
            return self.network
        if not self.num_classes:
            raise ConfigError(
                f"ddpm.sample: guidance_scale {scale:g} needs a class-conditional model; this "
                "network has num_classes=0"
            )
        null = self.null_class
        if null is None:
            raise ConfigError(
                f"ddpm.sample: guidance_scale {scale:g} needs a model trained with label "
                "dropout (model.label_dropout > 0, which gives the network its null class); "
                "this one was not, so only guidance_scale 1 works"
            )
        if "y" not in conditioning:
            raise ConfigError("ddpm.sample: classifier-free guidance needs class labels y")
        network = self.network
        alpha_bars = self.schedule.alpha_bars.double()

        def guided(x: torch.Tensor, t: torch.Tensor, y: torch.Tensor, **rest: Any) -> torch.Tensor:
            if interval is not None:
                a = alpha_bars.to(t.device)[t]
                sigma = ((1 - a) / a).sqrt()
                inside = (sigma > interval[0]) & (sigma <= interval[1])
                if not inside.any():
                    return network(x, t, y=y, **rest)
                if not inside.all():  # one call may mix noise levels: guide only those inside
                    weight = torch.where(inside, scale, 1.0).to(x.dtype)
                    return _guide(x, t, y, rest, weight.view(-1, *([1] * (x.ndim - 1))))
            return _guide(x, t, y, rest, scale)

        def _guide(x, t, y, rest, weight):
            both = {k: torch.cat([v, v]) for k, v in rest.items() if torch.is_tensor(v)}
            labels = torch.cat([y, torch.full_like(y, null)])
            out = network(torch.cat([x, x]), torch.cat([t, t]), y=labels, **{**rest, **both})
            cond, uncond = out.chunk(2)
            # linear in the output, so the same for epsilon, v and x0 predictions
            return uncond + weight * (cond - uncond)

        return guided

    def _sample_conditioning(self, n: int, kwargs: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(kwargs) - {"y", "cond"})
        if unknown:
            raise ConfigError(
                f"ddpm.sample: unknown keyword(s) {', '.join(unknown)}; sampler options or "
                "conditioning (y, cond) expected"
            )
        out = {k: v for k, v in kwargs.items() if v is not None}
        classes = getattr(getattr(self.network, "config", None), "num_classes", 0) or 0
        if "y" not in out and classes > 0:  # every class, in blocks: row k of a grid is class k
            out["y"] = torch.arange(n, device=self.device) * classes // n
        if "y" in out:
            y = torch.as_tensor(out["y"], device=self.device).long()
            out["y"] = y.expand(n) if y.ndim == 0 else y
        if "cond" in out:
            out["cond"] = out["cond"].to(self.device)
        return out

    def export_networks(self) -> dict[str, ExportedNetwork]:
        """The denoising network: ``(x, t[, y][, cond])`` -> its prediction (the noise or v, as
        ``prediction`` says), for ONNX export; the schedule and sampler stay in Python."""
        x, t = self.example_inputs()
        inputs, ranges = {"x": x, "t": t}, {"t": (0, self.timesteps - 1)}
        if self.num_classes:  # the null class (index num_classes) too when it was trained
            top = self.num_classes if self.null_class is not None else self.num_classes - 1
            inputs["y"], ranges["y"] = torch.arange(2) % (top + 1), (0, top)
        if self.network_option("cond_channels", 0):
            inputs["cond"] = self._dummy_conditioning(x)["cond"]
        keys = tuple(inputs)[2:]
        network = ExportCall(
            self.network, lambda x, t, *rest: self.network(x, t, **dict(zip(keys, rest)))
        )
        batch = {name: {0: "batch"} for name in (*inputs, "prediction")}
        exported = ExportedNetwork(
            network, tuple(inputs.values()), tuple(inputs), batch, ranges, ("prediction",)
        )
        return {"denoiser": exported}

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
        g = torch.Generator().manual_seed(0)
        x = torch.randn(batch_size, *self.data_shape, generator=g)
        t = torch.randint(0, self.config.timesteps, (batch_size,), generator=g)
        return x, t
