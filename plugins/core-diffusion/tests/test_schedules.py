"""Noise schedules: values, properties, add_noise and the conformance kit."""

from __future__ import annotations

import math

import pytest
import torch

import core
from core.testing import check_component

SCHEDULES = ["linear", "cosine", "quadratic", "sigmoid"]


def schedule(name: str, **kw):
    return core.build("noise-schedule", {"type": name, **kw})


@pytest.mark.parametrize("name", SCHEDULES)
def test_alpha_bar_is_cumprod_and_in_range(name):
    s = schedule(name, timesteps=200)
    assert s.timesteps == 200 and s.betas.shape == (200,) and s.betas.dtype == torch.float32
    assert torch.allclose(s.alphas, 1 - s.betas)
    assert torch.allclose(s.alpha_bars, torch.cumprod(1 - s.betas.double(), 0).float(), rtol=1e-5)
    assert bool((s.betas > 0).all()) and bool((s.betas < 1).all())
    assert bool((s.alpha_bars[1:] < s.alpha_bars[:-1]).all())  # strictly decreasing


@pytest.mark.parametrize("name", ["linear", "quadratic", "sigmoid", "cosine"])
def test_betas_increase(name):
    betas = schedule(name, timesteps=1000).betas
    assert bool((betas[1:] >= betas[:-1]).all())


def test_endpoint_values():
    lin = schedule("linear")
    assert lin.betas[0].item() == pytest.approx(1e-4) and lin.betas[-1].item() == pytest.approx(
        0.02
    )
    quad = schedule("quadratic")
    assert quad.betas[0].item() == pytest.approx(1e-4) and quad.betas[-1].item() == pytest.approx(
        0.02
    )
    mid = quad.betas[499].item()
    expected = (math.sqrt(1e-4) + (math.sqrt(0.02) - math.sqrt(1e-4)) * 499 / 999) ** 2
    assert mid == pytest.approx(expected, rel=1e-5)
    sig = schedule("sigmoid")
    lo = torch.sigmoid(torch.tensor(-6.0)).item() * (0.02 - 1e-4) + 1e-4
    assert sig.betas[0].item() == pytest.approx(lo, rel=1e-5)
    cos = schedule("cosine")
    f = lambda t: math.cos((t / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    assert cos.alpha_bars[0].item() == pytest.approx(f(1) / f(0), rel=1e-5)
    assert cos.alpha_bars[499].item() == pytest.approx(f(500) / f(0), rel=1e-4)
    # clipped at 0.999, not clamped to the linear range
    assert cos.betas[-1].item() == pytest.approx(0.999)
    assert cos.betas.max().item() > 0.02
    assert lin.alpha_bars[-1].item() < 1e-4  # the linear schedule ends near pure noise


@pytest.mark.parametrize("name", SCHEDULES)
def test_add_noise_closed_form(name):
    s = schedule(name, timesteps=50)
    g = torch.Generator().manual_seed(0)
    x0, noise = torch.randn(4, 2, 3, 3, generator=g), torch.randn(4, 2, 3, 3, generator=g)
    t = torch.tensor([0, 10, 25, 49])
    out = s.add_noise(x0, noise, t)
    for i, ti in enumerate(t.tolist()):
        ab = s.alpha_bars[ti]
        assert torch.allclose(out[i], ab.sqrt() * x0[i] + (1 - ab).sqrt() * noise[i], atol=1e-6)


def test_aliases_and_num_steps():
    s = core.build("noise-schedule", {"type": "LinearScheduler", "num_steps": 30})
    assert s.timesteps == 30 and len(s.betas) == 30
    assert core.build("noise-schedule", {"type": "CosineScheduler"}).timesteps == 1000
    assert core.build("noise-schedule", {"type": "QuadraticScheduler"}).config.beta_end == 0.02


def test_bad_schedule_configs():
    with pytest.raises(core.ConfigError, match="beta_end"):
        schedule("linear", beta_start=0.02, beta_end=0.001)
    with pytest.raises(core.ConfigError, match="timesteps"):
        schedule("cosine", timesteps=0)
    s = schedule("linear", timesteps=10)
    with pytest.raises(core.ConfigError, match=r"\[0, 9\]"):
        s.add_noise(torch.zeros(2, 3), torch.zeros(2, 3), torch.tensor([0, 10]))


@pytest.mark.parametrize("name", SCHEDULES)
def test_conformance(name):
    report = check_component("noise-schedule", name, {"timesteps": 100})
    assert "bad-config" in report.checks
