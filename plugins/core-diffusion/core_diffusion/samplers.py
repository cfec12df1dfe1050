"""Samplers: DDPM (ancestral), DDIM and DPM-Solver++(2M), usable with any schedule and network.

A sampler is called as::

    sampler(model_fn, shape, schedule, steps=None, generator=None, device=None,
            prediction="epsilon", clip_x0=None, x_T=None, **conditioning) -> Tensor

``model_fn(x, t, **conditioning)`` is the denoising network (``t`` a LongTensor (B,) of
0-based timesteps); ``prediction`` says what it returns (``epsilon``, ``v`` or ``x0``).
Keyword arguments that are fields of the sampler's config (``steps``, ``eta``, ``order``,
``variance``) override the config for that call; every other keyword is conditioning and
goes to ``model_fn``. All samplers walk the same descending grid of ``steps`` timesteps,
from T-1 down to 0 (``spacing``: ``linear`` in t, ``quadratic`` or ``logsnr``), and take
their last step from t=0 to clean data.

A new sampler subclasses :class:`Sampler`, declares ``config_class`` and implements
:meth:`Sampler.run`, the update rule (``_run``, its former name, keeps working).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable
from typing import Any

import torch

from core.component import Component
from core.errors import ConfigError
from core_diffusion.configs import (
    LAMBDA_MIN_CLIPPED,
    DDIMSamplerConfig,
    DDPMSamplerConfig,
    DPMSolverConfig,
    DPMSolverSDEConfig,
    HeunKarrasConfig,
)

__all__ = [
    "Sampler",
    "DDPMSampler",
    "DDIMSampler",
    "DPMSolverPPSampler",
    "DPMSolverPPSDESampler",
    "HeunKarrasSampler",
    "timestep_grid",
]

ModelFn = Callable[..., torch.Tensor]
#: ``predict(x, t) -> (eps, x0)``: the network's noise and clean-data estimates at timestep t.
Predict = Callable[[torch.Tensor, int], tuple[torch.Tensor, torch.Tensor]]


def timestep_grid(
    timesteps: int,
    steps: int,
    spacing: str = "linear",
    alpha_bars: list[float] | None = None,
    lambda_min: float | None = LAMBDA_MIN_CLIPPED,
    rho: float = 7.0,
) -> list[int]:
    """``steps`` strictly descending timesteps from T-1 (or the clipped top) to 0.

    ``linear``: evenly spaced in t; ``quadratic``: t ~ u^2 (denser near 0); ``logsnr``:
    evenly spaced in lambda = log(alpha/sigma); ``karras``: the EDM grid of Karras et al.
    (2022), sigma_i = (s_max^(1/rho) + i/(N-1) (s_min^(1/rho) - s_max^(1/rho)))^rho with
    sigma = exp(-lambda), each rounded to the timestep of nearest log-sigma (the last two need
    ``alpha_bars``). For those two, ``lambda_min`` clips the grid as diffusers'
    ``lambda_min_clipped`` does: it starts at the last timestep whose lambda is at least
    ``lambda_min`` (the cosine schedule's clamped last beta sends lambda from -6.5 to -9.9 at
    t = T-1, where unclipped steps pile up). None starts at T-1. ``leading`` is diffusers'
    default grid (DDIM, DDPM): the multiples of T // steps from (steps - 1) (T // steps) to 0.
    """
    if steps > timesteps:
        raise ConfigError(f"steps ({steps}) exceeds the schedule's timesteps ({timesteps})")
    if spacing not in ("linear", "quadratic", "logsnr", "karras", "leading"):
        raise ConfigError(
            f"unknown spacing '{spacing}'; expected linear, quadratic, logsnr, karras or leading"
        )
    if spacing == "leading":
        return [(steps - 1 - i) * (timesteps // steps) for i in range(steps)]
    top = timesteps - 1
    neg: list[float] = []
    if spacing in ("logsnr", "karras"):
        if alpha_bars is None:
            raise ConfigError(f"{spacing} spacing needs the schedule's alpha_bars")
        neg = [-0.5 * math.log(a / (1 - a)) for a in alpha_bars]  # -lambda = log sigma, rising
        if lambda_min is not None and neg[-1] > -lambda_min:
            top = max(bisect.bisect_right(neg, -lambda_min) - 1, steps - 1)
    if steps == 1:
        return [top]
    u = [(steps - 1 - i) / (steps - 1) for i in range(steps)]  # 1 -> 0
    if spacing == "linear":
        raw = [top * v for v in u]
    elif spacing == "quadratic":
        raw = [top * v * v for v in u]
    else:
        if spacing == "logsnr":
            targets = [neg[0] + (neg[top] - neg[0]) * v for v in u]
        else:
            lo, hi = math.exp(neg[0]) ** (1 / rho), math.exp(neg[top]) ** (1 / rho)
            targets = [rho * math.log(lo + (hi - lo) * v) for v in u]
        raw = []
        for target in targets:
            k = min(bisect.bisect_left(neg, target), top)
            raw.append(k - 1 if k and target - neg[k - 1] < neg[k] - target else k)
    # each t_i within [steps-1-i, top-i], then strictly descending even after rounding
    grid = [min(max(int(round(r)), steps - 1 - i), top - i) for i, r in enumerate(raw)]
    grid[0], grid[-1] = top, 0
    for i in range(steps - 2, -1, -1):
        grid[i] = max(grid[i], grid[i + 1] + 1)
    return grid


def _randn(shape: tuple[int, ...], generator: torch.Generator | None, device: Any, dtype: Any):
    gen_device = generator.device if generator is not None else device
    return torch.randn(shape, generator=generator, device=gen_device, dtype=dtype).to(device)


class Sampler(Component):
    """Base of the samplers: option handling, the noise draw and the prediction conversion.

    Subclasses implement :meth:`run` (the update rule) and set ``config_class``, a
    ``core.schema.ComponentConfig`` with at least ``steps`` and ``spacing``. A ``steps`` of
    None means ``default_steps``, or every timestep when that is None too.
    """

    kind = "sampler"
    config_section = "sampler"
    default_steps: int | None = None

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        self.config = self.resolve_config(config, **overrides)
        #: network evaluations of the last call.
        self.last_nfe = 0

    def __call__(
        self,
        model_fn: ModelFn,
        shape: tuple[int, ...] | list[int] | torch.Size,
        schedule: Any,
        *,
        generator: torch.Generator | None = None,
        device: Any = None,
        dtype: torch.dtype = torch.float32,
        prediction: str = "epsilon",
        clip_x0: float | None = None,
        x_T: torch.Tensor | None = None,
        progress: bool = False,
        **kwargs: Any,
    ) -> torch.Tensor:
        """Draw samples of ``shape`` from pure noise (or from ``x_T``)."""
        fields = type(self.config).model_fields
        options = {k: kwargs.pop(k) for k in list(kwargs) if k in fields}
        config = (
            self.resolve_config({**self.config.model_dump(), **options}) if options else self.config
        )
        if prediction not in ("epsilon", "v", "x0"):
            raise ConfigError(f"prediction must be epsilon, v or x0, got {prediction!r}")
        alpha_bars = getattr(schedule, "alpha_bars_f64", None)
        if alpha_bars is None:
            alpha_bars = torch.as_tensor(schedule.alpha_bars, dtype=torch.float64)
        ab = [float(a) for a in alpha_bars.cpu()]
        steps = config.steps or self.default_steps or len(ab)
        grid = timestep_grid(
            len(ab),
            steps,
            config.spacing,
            ab,
            lambda_min=getattr(config, "lambda_min_clipped", LAMBDA_MIN_CLIPPED),
            rho=getattr(config, "rho", 7.0),
        )
        shape = tuple(int(s) for s in shape)
        if device is None:
            device = x_T.device if x_T is not None else _module_device(model_fn)
        if x_T is not None:
            if tuple(x_T.shape) != shape:
                raise ConfigError(f"x_T has shape {tuple(x_T.shape)}, expected {shape}")
            x = x_T.to(device=device, dtype=dtype)
        else:
            x = _randn(shape, generator, device, dtype)
        self.last_nfe = 0

        def predict(x: torch.Tensor, t: int) -> tuple[torch.Tensor, torch.Tensor]:
            """(eps, x0) predicted at timestep t."""
            tt = torch.full((shape[0],), t, device=x.device, dtype=torch.long)
            out = model_fn(x, tt, **kwargs)
            self.last_nfe += 1
            if out.shape != x.shape:
                raise ConfigError(
                    f"the network returned shape {tuple(out.shape)} for input {tuple(x.shape)}"
                )
            a = ab[t]
            sa, s1a = math.sqrt(a), math.sqrt(1 - a)
            if prediction == "epsilon":
                eps, x0 = out, (x - s1a * out) / sa
            elif prediction == "v":
                eps, x0 = sa * out + s1a * x, sa * x - s1a * out
            else:
                eps, x0 = (x - sa * out) / s1a, out
            if clip_x0 is not None:
                x0 = x0.clamp(-clip_x0, clip_x0)
                eps = (x - sa * x0) / s1a
            return eps, x0

        iterator: Any = range(len(grid))
        if progress:
            from tqdm.auto import tqdm

            iterator = tqdm(iterator, desc=self.model_type or type(self).__name__)
        with torch.no_grad():
            return self._update_rule()(predict, x, grid, ab, config, iterator, generator)

    def run(
        self,
        predict: Predict,
        x: torch.Tensor,
        grid: list[int],
        alpha_bars: list[float],
        config: Any,
        indices: Iterable[int],
        generator: torch.Generator | None,
    ) -> torch.Tensor:
        """The update rule, which subclasses implement: walk ``grid`` from the noise ``x`` to data.

        ``predict(x, t)`` returns ``(eps, x0)`` at timestep ``t`` (an int of ``grid``), whatever
        the network predicts, with ``clip_x0`` applied; each call counts in ``last_nfe``.
        ``grid`` holds the descending timesteps (T-1 ... 0); after ``grid[-1]`` comes clean
        data, alpha_bar = 1. ``alpha_bars[t]`` is the schedule's alpha_bar at t (a float).
        ``config`` is the validated config with this call's options applied; ``indices`` the
        indexes ``0 .. len(grid) - 1`` into ``grid`` (with a progress bar when asked for);
        ``generator`` the caller's generator, for :meth:`noise_like`. Called under
        ``torch.no_grad()``; returns the samples.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement run()")

    def _run(self, predict, x, grid, alpha_bars, config, indices, generator) -> torch.Tensor:
        """Former name of :meth:`run`; calling it runs :meth:`run`."""
        return self.run(predict, x, grid, alpha_bars, config, indices, generator)

    def _update_rule(self) -> Callable[..., torch.Tensor]:
        """``run``, or ``_run`` where a subclass overrides the former name (nearest wins)."""
        for klass in type(self).__mro__:
            if "run" in vars(klass):
                return self.run
            if "_run" in vars(klass):
                return self._run
        return self.run

    @staticmethod
    def noise_like(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Standard normal noise of ``x``'s shape, device and dtype, drawn from ``generator``."""
        return _randn(tuple(x.shape), generator, x.device, x.dtype)


def _module_device(fn: Any) -> torch.device:
    for owner in (fn, getattr(fn, "__self__", None)):
        if isinstance(owner, torch.nn.Module):
            for p in (*owner.parameters(), *owner.buffers()):
                return p.device
    return torch.device("cpu")


class DDPMSampler(Sampler):
    """Ancestral sampling; with fewer steps than T the schedule is respaced."""

    config_class = DDPMSamplerConfig

    def run(self, predict, x, grid, alpha_bars, config, indices, generator):
        for i in indices:
            t = grid[i]
            a_t = alpha_bars[t]
            a_prev = alpha_bars[grid[i + 1]] if i + 1 < len(grid) else 1.0
            beta = 1 - a_t / a_prev
            _, x0 = predict(x, t)
            c_x0 = math.sqrt(a_prev) * beta / (1 - a_t)
            c_xt = math.sqrt(1 - beta) * (1 - a_prev) / (1 - a_t)
            x = c_x0 * x0 + c_xt * x
            if i + 1 < len(grid):
                var = beta * (1 - a_prev) / (1 - a_t) if config.variance == "posterior" else beta
                x = x + math.sqrt(var) * self.noise_like(x, generator)
        return x


class DDIMSampler(Sampler):
    """DDIM: deterministic at eta=0, the DDPM posterior at eta=1."""

    config_class = DDIMSamplerConfig
    default_steps = 50

    def run(self, predict, x, grid, alpha_bars, config, indices, generator):
        for i in indices:
            t = grid[i]
            a_t = alpha_bars[t]
            a_prev = alpha_bars[grid[i + 1]] if i + 1 < len(grid) else 1.0
            eps, x0 = predict(x, t)
            sigma = config.eta * math.sqrt((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev))
            x = math.sqrt(a_prev) * x0 + math.sqrt(max(1 - a_prev - sigma**2, 0.0)) * eps
            if sigma > 0:
                x = x + sigma * self.noise_like(x, generator)
        return x


class DPMSolverPPSampler(Sampler):
    """DPM-Solver++ multistep (2M by default), data prediction, first order at the end.

    ``stochastic=True`` solves the reverse SDE instead of the probability-flow ODE
    (SDE-DPM-Solver++(2M), Lu et al. 2022): each step shrinks ``x`` by an extra ``exp(-h)``,
    weights the data prediction by ``1 - exp(-2h)`` and adds noise of scale
    ``sigma_s sqrt(1 - exp(-2h))``.
    """

    config_class = DPMSolverConfig
    default_steps = 20

    def run(self, predict, x, grid, alpha_bars, config, indices, generator):
        prev_x0: torch.Tensor | None = None
        prev_h = 0.0
        for i in indices:
            t = grid[i]
            _, x0 = predict(x, t)
            if i + 1 == len(grid):  # to clean data: sigma = 0, the first-order step gives x0
                x = x0
                break
            s = grid[i + 1]
            alpha_t, sigma_t = math.sqrt(alpha_bars[t]), math.sqrt(1 - alpha_bars[t])
            alpha_s, sigma_s = math.sqrt(alpha_bars[s]), math.sqrt(1 - alpha_bars[s])
            h = math.log(alpha_s / sigma_s) - math.log(alpha_t / sigma_t)
            d = x0
            last_step = i + 2 == len(grid) and len(grid) < 15 and config.lower_order_final
            if config.order == 2 and prev_x0 is not None and not last_step:
                r = prev_h / h
                d = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * prev_x0
            if config.stochastic:
                x = (sigma_s / sigma_t) * math.exp(-h) * x - alpha_s * math.expm1(-2 * h) * d
                noise = self.noise_like(x, generator)
                x = x + sigma_s * math.sqrt(-math.expm1(-2 * h)) * noise
            else:
                x = (sigma_s / sigma_t) * x - alpha_s * math.expm1(-h) * d
            prev_x0, prev_h = x0, h
        return x


class DPMSolverPPSDESampler(DPMSolverPPSampler):
    """SDE-DPM-Solver++(2M): ``dpm-solver++`` with ``stochastic=True`` by default."""

    config_class = DPMSolverSDEConfig


class HeunKarrasSampler(Sampler):
    """Heun's 2nd-order solver of the probability-flow ODE on the Karras sigma grid (EDM).

    Karras et al. (2022), Algorithm 1 without churn: in the variance-exploding variable
    ``x / alpha`` with ``sigma = sqrt((1 - alpha_bar) / alpha_bar)``, each step from sigma_i to
    sigma_(i+1) is an Euler step ``d = (x - D(x)) / sigma`` corrected by the slope at its end
    point; the step to sigma = 0 is Euler alone (which gives D). ``steps`` noise levels
    evaluate the network ``2 steps - 1`` times. The levels are the Karras grid rounded to the
    model's timesteps, so the network is always evaluated at a sigma it was trained on.
    """

    config_class = HeunKarrasConfig
    default_steps = 10

    def run(self, predict, x, grid, alpha_bars, config, indices, generator):
        def sigma(t: int) -> float:
            return math.sqrt((1 - alpha_bars[t]) / alpha_bars[t])

        def denoise(x_ve: torch.Tensor, t: int) -> torch.Tensor:
            return predict(x_ve * math.sqrt(alpha_bars[t]), t)[1]

        x = x / math.sqrt(alpha_bars[grid[0]])  # to the variance-exploding variable
        for i in indices:
            t = grid[i]
            s_t = sigma(t)
            d = (x - denoise(x, t)) / s_t
            if i + 1 == len(grid):  # Euler to sigma = 0: x - s_t d = D(x)
                x = x - s_t * d
                break
            s = grid[i + 1]
            s_s = sigma(s)
            x_euler = x + (s_s - s_t) * d
            d_end = (x_euler - denoise(x_euler, s)) / s_s
            x = x + (s_s - s_t) * 0.5 * (d + d_end)
        return x
