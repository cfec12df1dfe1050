"""The flow samplers: time grids, exactness on known velocities, conformance and misuse."""

from __future__ import annotations

import pytest
import torch
from core import ConfigError, build
from core.testing import check_component

from core_flow.samplers import time_grid

SAMPLERS = ["flow-euler", "flow-heun", "flow-midpoint"]


@pytest.mark.parametrize("name", SAMPLERS)
def test_conformance(name: str) -> None:
    check_component("sampler", name, {"steps": 4, "shift": 3.0})


@pytest.mark.parametrize("shift", [1.0, 0.5, 3.0])
def test_grid_runs_from_1_to_0_strictly_descending(shift: float) -> None:
    grid = time_grid(8, shift)
    assert len(grid) == 9 and grid[0] == 1.0 and grid[-1] == 0.0
    assert all(a > b for a, b in zip(grid[:-1], grid[1:], strict=True))


def test_uniform_grid_and_shift_toward_the_noise_end() -> None:
    assert time_grid(4) == [1.0, 0.75, 0.5, 0.25, 0.0]
    uniform, shifted = time_grid(4), time_grid(4, 3.0)
    assert all(
        s > u for s, u in zip(shifted[1:-1], uniform[1:-1], strict=True)
    )  # more steps near t = 1
    assert shifted[1] == pytest.approx(3 * 0.75 / (1 + 2 * 0.75))
    with pytest.raises(ConfigError, match="steps"):
        time_grid(0)


def _gaussian_velocity(mean: float, std: float):
    """Exact velocity of x_t = (1 - t) x0 + t e for x0 ~ N(mean, std^2): E[e - x0 | x_t]."""

    def velocity(x, t, r=None):  # r: the exact flow has no average-velocity form here
        t = t.view(-1, 1).double()
        var = (1 - t) ** 2 * std**2 + t**2
        e = t * (x - (1 - t) * mean) / var  # E[e | x_t]
        x0 = (x - t * e) / (1 - t).clamp(min=1e-12)
        x0 = torch.where(t < 1, x0, torch.full_like(x, mean))
        return e - x0

    return velocity


def test_orders_on_a_gaussian_flow() -> None:
    """For Gaussian data the ODE maps noise e to mean + std e; Euler's error halves with twice
    the steps, Heun's and midpoint's fall about fourfold."""
    x1 = torch.randn(500, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    exact = 0.5 + 0.3 * x1
    velocity = _gaussian_velocity(0.5, 0.3)
    error = {}
    for name in SAMPLERS:
        for steps in (8, 16):
            sampler = build("sampler", {"type": name, "steps": steps})
            x = sampler(velocity, (500, 1), x_T=x1, dtype=torch.float64)
            assert sampler.last_nfe == steps * (1 if name == "flow-euler" else 2)
            error[name, steps] = float((x - exact).abs().max())
    assert 1.6 < error["flow-euler", 8] / error["flow-euler", 16] < 2.5
    for name in ("flow-heun", "flow-midpoint"):
        assert error[name, 16] < error["flow-euler", 16] / 5
        assert error[name, 8] / error[name, 16] > 3


def test_a_ddpm_call_is_refused_in_one_line() -> None:
    sampler = build("sampler", {"type": "flow-euler"})
    schedule = build("noise-schedule", {"type": "linear", "timesteps": 10})
    with pytest.raises(ConfigError, match="takes no noise schedule"):
        sampler(lambda x, t, r: x, (2, 1), schedule)


def test_euler_asks_for_the_average_velocity_over_each_step() -> None:
    """Euler passes r = the step's end (a mean-flow model's interval); Heun and midpoint ask
    for the velocity at t (r = t)."""
    asked = {}
    for name in SAMPLERS:
        calls = []

        def velocity(x, t, r, calls=calls):
            calls.append((round(float(t[0]), 6), round(float(r[0]), 6)))
            return torch.zeros_like(x)

        build("sampler", {"type": name, "steps": 2})(velocity, (1, 1))
        asked[name] = calls
    assert asked["flow-euler"] == [(1.0, 0.5), (0.5, 0.0)]
    assert all(t == r for name in ("flow-heun", "flow-midpoint") for t, r in asked[name])
