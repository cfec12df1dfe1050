"""Samplers against an analytic Gaussian case, with every schedule, and their errors."""

from __future__ import annotations

import math

import pytest
import torch
from core_diffusion.samplers import timestep_grid

import core
from core.testing import check_component

MU, STD = 0.5, 0.3


def gaussian_eps(schedule, mu=MU, std=STD):
    """The optimal noise predictor E[eps | x_t] for data N(mu, std^2)."""
    ab = schedule.alpha_bars.double()

    def model_fn(x, t):
        a = ab[t].view(-1, *([1] * (x.ndim - 1))).to(x.dtype)
        return (1 - a).sqrt() * (x - a.sqrt() * mu) / (a * std**2 + 1 - a)

    return model_fn


def sample(name, schedule, n=2000, seed=0, **kw):
    sampler = core.build("sampler", {"type": name})
    if kw.get("x_T") is not None:
        n = kw["x_T"].shape[0]
    g = torch.Generator().manual_seed(seed)
    x = sampler(gaussian_eps(schedule), (n, 1), schedule, generator=g, dtype=torch.float64, **kw)
    return x, sampler


@pytest.mark.parametrize("spacing", ["linear", "quadratic", "logsnr"])
def test_timestep_grid(spacing):
    ab = core.build("noise-schedule", {"type": "linear"}).alpha_bars.tolist()
    assert timestep_grid(1000, 1000, spacing, ab) == list(range(999, -1, -1))
    for steps in (2, 10, 20, 50, 999):
        grid = timestep_grid(1000, steps, spacing, ab)
        assert len(grid) == steps and grid[0] == 999 and grid[-1] == 0
        assert all(a > b for a, b in zip(grid, grid[1:]))  # strictly descending
    assert timestep_grid(10, 4) == [9, 6, 3, 0]
    with pytest.raises(core.ConfigError, match="exceeds"):
        timestep_grid(10, 11)


def test_ddpm_and_ddim_eta1_agree_with_the_data_distribution():
    sched = core.build("noise-schedule", {"type": "linear", "timesteps": 1000})
    ddpm, s1 = sample("ddpm", sched)
    ddim, s2 = sample("ddim", sched, steps=1000, eta=1.0, seed=1)
    assert s1.last_nfe == 1000 and s2.last_nfe == 1000
    # sampling error of mean and std with n=2000 is ~0.007 and ~0.005
    for x in (ddpm, ddim):
        assert x.mean().item() == pytest.approx(MU, abs=0.02)
        assert x.std().item() == pytest.approx(STD, abs=0.015)
    assert ddpm.mean().item() == pytest.approx(ddim.mean().item(), abs=0.025)
    assert ddpm.std().item() == pytest.approx(ddim.std().item(), abs=0.02)


def test_ddim_eta1_is_the_ddpm_posterior_step():
    sched = core.build("noise-schedule", {"type": "cosine", "timesteps": 50})
    a, _ = sample("ddpm", sched, n=64, seed=3)
    b, _ = sample("ddim", sched, n=64, seed=3, steps=50, eta=1.0)
    assert torch.allclose(a, b, atol=1e-9)  # same noise draws, identical updates


@pytest.mark.parametrize(
    "name,steps,rel",
    [
        ("ddim", 200, 0.04),
        ("ddim", 50, 0.12),
        ("dpm-solver++", 20, 0.03),
        ("dpm-solver++", 10, 0.05),
    ],
)
def test_fast_samplers_are_accurate(name, steps, rel):
    sched = core.build("noise-schedule", {"type": "linear", "timesteps": 1000})
    x, sampler = sample(name, sched, steps=steps)
    assert sampler.last_nfe == steps
    assert x.mean().item() == pytest.approx(MU, abs=0.02)
    assert x.std().item() == pytest.approx(STD, rel=rel)


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_stochastic_dpm_solver_converges_to_the_data_distribution(schedule):
    sched = core.build("noise-schedule", {"type": schedule, "timesteps": 1000})
    x, sampler = sample("dpm-solver++", sched, n=8000, steps=50, stochastic=True)
    assert sampler.last_nfe == 50
    # sampling error of mean and std with n=8000 is ~0.0035 and ~0.0025
    assert x.mean().item() == pytest.approx(MU, abs=0.012)
    assert x.std().item() == pytest.approx(STD, rel=0.03)
    z = torch.randn(64, 1, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    a, _ = sample("dpm-solver++", sched, steps=20, stochastic=True, x_T=z, seed=1)
    b, _ = sample("dpm-solver++", sched, steps=20, stochastic=True, x_T=z, seed=2)
    c, _ = sample("dpm-solver++-sde", sched, steps=20, x_T=z, seed=1)  # stochastic by default
    assert not torch.allclose(a, b) and torch.equal(a, c)  # fresh noise, from the generator


def test_dpm_solver_second_order_beats_first_order():
    sched = core.build("noise-schedule", {"type": "linear", "timesteps": 1000})
    z = torch.randn(2000, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    exact, _ = sample("ddim", sched, steps=1000, x_T=z)
    errors = {}
    for order in (1, 2):
        x, _ = sample("dpm-solver++", sched, steps=8, order=order, x_T=z)
        errors[order] = (x - exact).abs().mean().item()
    assert errors[2] < 0.5 * errors[1]


def test_ddim_eta0_is_deterministic():
    sched = core.build("noise-schedule", {"type": "sigmoid", "timesteps": 100})
    z = torch.randn(8, 1, dtype=torch.float64)
    a, _ = sample("ddim", sched, x_T=z, steps=10, seed=1)
    b, _ = sample("ddim", sched, x_T=z, steps=10, seed=2)
    assert torch.equal(a, b)


@pytest.mark.parametrize("schedule", ["linear", "cosine", "quadratic", "sigmoid"])
@pytest.mark.parametrize("name", ["ddpm", "ddim", "dpm-solver++", "dpm-solver++-sde"])
def test_every_sampler_with_every_schedule(name, schedule):
    sched = core.build("noise-schedule", {"type": schedule, "timesteps": 1000})
    steps = {"ddpm": 1000, "ddim": 100, "dpm-solver++": 20, "dpm-solver++-sde": 50}[name]
    x, sampler = sample(name, sched, n=1000, steps=steps)
    assert x.shape == (1000, 1) and torch.isfinite(x).all()
    assert sampler.last_nfe == steps
    assert x.mean().item() == pytest.approx(MU, abs=0.05)
    assert x.std().item() == pytest.approx(STD, rel=0.15)


def test_v_and_x0_predictions_give_the_same_samples():
    sched = core.build("noise-schedule", {"type": "linear", "timesteps": 100})
    eps_fn = gaussian_eps(sched)
    ab = sched.alpha_bars.double()

    def v_fn(x, t):
        a = ab[t].view(-1, 1)
        eps = eps_fn(x, t)
        x0 = (x - (1 - a).sqrt() * eps) / a.sqrt()
        return a.sqrt() * eps - (1 - a).sqrt() * x0

    sampler = core.build("sampler", {"type": "dpm-solver++", "steps": 10})
    z = torch.randn(16, 1, dtype=torch.float64)
    a = sampler(eps_fn, (16, 1), sched, x_T=z, dtype=torch.float64)
    b = sampler(v_fn, (16, 1), sched, x_T=z, dtype=torch.float64, prediction="v")
    assert torch.allclose(a, b, atol=1e-8)


def test_sampler_errors():
    sched = core.build("noise-schedule", {"type": "linear", "timesteps": 10})
    sampler = core.build("sampler", {"type": "ddim"})
    with pytest.raises(core.ConfigError, match="exceeds"):
        sampler(gaussian_eps(sched), (2, 1), sched)  # default 50 steps > 10
    with pytest.raises(core.ConfigError, match="unknown sampler 'nope'"):
        core.build("sampler", {"type": "nope"})
    with pytest.raises(core.ConfigError, match="eta"):
        core.build("sampler", {"type": "ddim", "eta": -1})
    with pytest.raises(core.ConfigError, match="returned shape"):
        sampler(lambda x, t: x[:, :1], (2, 3), sched, steps=5)
    with pytest.raises(core.ConfigError, match="prediction"):
        sampler(gaussian_eps(sched), (2, 1), sched, steps=5, prediction="score")


def test_conditioning_reaches_the_model():
    sched = core.build("noise-schedule", {"type": "linear", "timesteps": 10})
    seen = []

    def model_fn(x, t, y=None):
        seen.append(y)
        return torch.zeros_like(x)

    core.build("sampler", {"type": "ddpm"})(
        model_fn, (2, 1), sched, steps=3, y=torch.tensor([1, 2])
    )
    assert len(seen) == 3 and all(torch.equal(y, torch.tensor([1, 2])) for y in seen)


@pytest.mark.parametrize("name", ["ddpm", "ddim", "dpm-solver++", "dpm-solver++-sde"])
def test_conformance(name):
    check_component("sampler", name, {"steps": 5})
    assert math.isfinite(1.0)


def test_run_is_the_public_extension_point_and_the_former_run_name_keeps_working():
    from core_diffusion.configs import DDIMSamplerConfig
    from core_diffusion.samplers import DDIMSampler, Sampler

    class Euler(Sampler):  # deterministic DDIM, written against the public run()
        config_class = DDIMSamplerConfig

        def run(self, predict, x, grid, alpha_bars, config, indices, generator):
            for i in indices:
                eps, x0 = predict(x, grid[i])
                a_prev = alpha_bars[grid[i + 1]] if i + 1 < len(grid) else 1.0
                x = math.sqrt(a_prev) * x0 + math.sqrt(1 - a_prev) * eps
            return x

    class Legacy(DDIMSampler):  # overrides the former name, under a built-in's run()
        calls = 0

        def _run(self, predict, x, grid, ab, config, iterator, generator):
            type(self).calls += 1
            return super()._run(predict, x, grid, ab, config, iterator, generator)

    class Noisy(Sampler):  # noise_like draws from the caller's generator
        config_class = DDIMSamplerConfig

        def run(self, predict, x, grid, alpha_bars, config, indices, generator):
            return x + self.noise_like(x, generator)

    sched = core.build("noise-schedule", {"type": "cosine", "timesteps": 100})
    z = torch.randn(32, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    kw = {"x_T": z, "dtype": torch.float64, "steps": 10}
    ddim = core.build("sampler", {"type": "ddim"})
    reference = ddim(gaussian_eps(sched), (32, 1), sched, **kw)
    euler, legacy = Euler(), Legacy()
    assert torch.equal(euler(gaussian_eps(sched), (32, 1), sched, **kw), reference)
    assert euler.last_nfe == 10
    assert torch.equal(legacy(gaussian_eps(sched), (32, 1), sched, **kw), reference)
    assert Legacy.calls == 1 and legacy.last_nfe == 10

    def noisy(seed):
        g = torch.Generator().manual_seed(seed)
        return Noisy()(gaussian_eps(sched), (4, 1), sched, x_T=torch.zeros(4, 1), generator=g)

    assert torch.equal(noisy(0), noisy(0)) and not torch.equal(noisy(0), noisy(1))

    class Missing(Sampler):
        config_class = DDIMSamplerConfig

    with pytest.raises(NotImplementedError, match="Missing does not implement run"):
        Missing()(gaussian_eps(sched), (2, 1), sched, steps=2)


# -- the log-SNR grid on the cosine schedule, Heun on the Karras grid, lower_order_final ---------
def lambdas(schedule, grid):
    ab = schedule.alpha_bars_f64
    return [0.5 * math.log(ab[t] / (1 - ab[t])) for t in grid]


def test_cosine_logsnr_grid_is_clipped_and_has_no_pile_up():
    cosine = core.build("noise-schedule", {"type": "cosine", "timesteps": 1000})
    ab = cosine.alpha_bars_f64.tolist()
    # the clamped last beta: log-SNR jumps from -6.5 to -9.9 at t = 999
    assert lambdas(cosine, [998, 999]) == pytest.approx([-6.46, -9.92], abs=0.01)
    old = timestep_grid(1000, 20, "logsnr", ab, lambda_min=None)
    assert sum(t >= 978 for t in old) >= 8  # the pile-up the clip removes
    grid = timestep_grid(1000, 20, "logsnr", ab)  # lambda_min -5.1, as diffusers'
    assert grid[0] == 995 and grid[-1] == 0 and len(grid) == 20
    assert sum(t >= 978 for t in grid) <= 4
    gaps = [b - a for a, b in zip(lambdas(cosine, grid), lambdas(cosine, grid[1:]))]
    assert max(gaps) < 1.5 * min(gaps)  # evenly spread in log-SNR
    old_gaps = [b - a for a, b in zip(lambdas(cosine, old), lambdas(cosine, old[1:]))]
    assert max(old_gaps) > 10 * min(old_gaps)
    # the linear schedule ends at -5.06: the clip leaves it alone
    linear = core.build("noise-schedule", {"type": "linear"}).alpha_bars_f64.tolist()
    assert timestep_grid(1000, 20, "logsnr", linear) == timestep_grid(
        1000, 20, "logsnr", linear, lambda_min=None
    )
    # the sampler passes its lambda_min_clipped option on
    seen = []

    def model_fn(x, t):
        seen.append(int(t[0]))
        return torch.zeros_like(x)

    core.build("sampler", {"type": "dpm-solver++", "steps": 20})(model_fn, (1, 1), cosine)
    assert seen == grid
    seen.clear()
    sampler = core.build("sampler", {"type": "dpm-solver++", "lambda_min_clipped": None})
    sampler(model_fn, (1, 1), cosine, steps=20)
    assert seen == old


def test_karras_grid():
    sched = core.build("noise-schedule", {"type": "linear"})
    ab = sched.alpha_bars_f64.tolist()
    grid = timestep_grid(1000, 10, "karras", ab)
    assert grid[0] == 999 and grid[-1] == 0 and all(a > b for a, b in zip(grid, grid[1:]))
    sigmas = [math.exp(-lam) for lam in lambdas(sched, grid)]
    lo, hi = sigmas[-1] ** (1 / 7), sigmas[0] ** (1 / 7)
    for i, s in enumerate(sigmas[1:-1], 1):  # rounded to the nearest timestep: within 3%
        assert s == pytest.approx((hi + i / 9 * (lo - hi)) ** 7, rel=0.03)
    assert timestep_grid(1000, 1000, "karras", ab) == list(range(999, -1, -1))
    x, _ = sample("ddim", sched, steps=50, spacing="karras")  # any sampler takes the grid
    assert x.std().item() == pytest.approx(STD, rel=0.15)
    with pytest.raises(core.ConfigError, match="karras spacing needs"):
        timestep_grid(1000, 10, "karras")


def test_heun_karras_is_second_order_with_2n_minus_1_evaluations():
    sched = core.build("noise-schedule", {"type": "linear", "timesteps": 1000})
    x, sampler = sample("heun-karras", sched, n=4000, steps=25)
    assert sampler.last_nfe == 49
    assert x.mean().item() == pytest.approx(MU, abs=0.02)
    assert x.std().item() == pytest.approx(STD, rel=0.05)
    z = torch.randn(2000, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    exact, _ = sample("ddim", sched, steps=1000, x_T=z)
    err = {}
    for steps in (12, 24):
        out, _ = sample("heun-karras", sched, steps=steps, x_T=z)
        err[steps] = (out - exact).abs().mean().item()
    assert err[24] < err[12] / 3  # second order: twice the steps, about a quarter of the error
    heun = core.build("sampler", {"type": "heun-karras", "steps": 5})
    heun(gaussian_eps(sched), (3, 1), sched, generator=torch.Generator().manual_seed(0))
    assert heun.last_nfe == 9


def test_lower_order_final_false_stays_second_order_to_the_end():
    sched = core.build("noise-schedule", {"type": "linear", "timesteps": 1000})
    z = torch.randn(2000, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    exact, _ = sample("ddim", sched, steps=1000, x_T=z)
    default, _ = sample("dpm-solver++", sched, steps=8, x_T=z)
    second, s = sample("dpm-solver++", sched, steps=8, x_T=z, lower_order_final=False)
    assert s.last_nfe == 8 and not torch.equal(default, second)
    assert (second - exact).abs().mean() < (default - exact).abs().mean()
    # from 15 steps on the default already stays second order (diffusers' rule)
    a, _ = sample("dpm-solver++", sched, steps=15, x_T=z)
    b, _ = sample("dpm-solver++", sched, steps=15, x_T=z, lower_order_final=False)
    assert torch.equal(a, b)


def test_heun_karras_conformance():
    check_component("sampler", "heun-karras", {"steps": 3})
