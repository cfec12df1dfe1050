"""The flow model: conformance, the loss, learning a 2-D toy, guidance and errors."""

from __future__ import annotations

import pytest
import torch
from core import ConfigError, DataError, build
from core.testing import check_component

NAME = "flow"
UNET = {"type": "ddpm-unet", "base_channels": 4, "time_dim": 8}
SMALL = {"image_size": 8, "channels": 1, "network": UNET}
GUIDED = {**SMALL, "network": {**UNET, "num_classes": 3}, "label_dropout": 0.2}


def test_conformance() -> None:
    report = check_component("model", NAME, SMALL)
    assert "save-load" in report.checks


def test_conformance_class_conditional() -> None:
    check_component("model", NAME, GUIDED)


def test_network_section_is_built_through_the_registry() -> None:
    model = build("model", {"type": NAME, **GUIDED})
    assert type(model.network).__name__ == "DDPMUNet"  # core-diffusion's, not a copy
    assert model.network.config.in_channels == 1 and model.network.config.null_class
    assert model.null_class == 3
    mlp = build("model", {"type": NAME, "data_dim": 2, "network": {"type": "mlp-denoiser"}})
    assert mlp.network.config.data_dim == 2 and mlp.network.config.num_timesteps == 1000


def test_loss_on_a_known_batch() -> None:
    """The loss is the MSE between v(x_t, t * time_scale) and e - x0 on x_t = (1-t) x0 + t e."""
    torch.manual_seed(0)
    model = build("model", {"type": NAME, **SMALL})
    x0, noise, t = torch.rand(4, 1, 8, 8) * 2 - 1, torch.randn(4, 1, 8, 8), torch.rand(4)
    pred, target = model.velocity_and_target(x0, noise, t)
    tb = t.view(-1, 1, 1, 1)
    expected = model.network((1 - tb) * x0 + tb * noise, t * 1000.0)
    torch.testing.assert_close(pred, expected)
    torch.testing.assert_close(target, noise - x0)
    torch.manual_seed(1)
    loss = model.compute_loss((x0, torch.zeros(4)))["loss"]
    torch.manual_seed(1)
    t, noise = torch.rand(4), torch.randn(4, 1, 8, 8)
    pred, target = model.velocity_and_target(x0, noise, t)
    torch.testing.assert_close(loss, ((pred - target) ** 2).mean())


def _mean_nearest(points: torch.Tensor, data: torch.Tensor) -> float:
    """Mean distance from each point to its nearest data point."""
    return float(torch.cdist(points, data).min(1).values.mean())


def test_learns_a_2d_toy(one_torch_thread) -> None:
    """After 1500 steps on moons (under a second), Euler at 20 steps lands on the moons
    (mean nearest-data distance under 0.4x that of noise); fewer steps land farther."""
    torch.manual_seed(0)
    moons = build("dataset", {"type": "toy2d", "size": 1024})
    data = torch.stack([moons[i][0] for i in range(len(moons))])
    config = {"type": NAME, "data_dim": 2, "network": {"type": "mlp-denoiser"}}
    model = build("model", config)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(1500):
        batch = data[torch.randint(0, len(data), (128,))]
        loss = model.compute_loss((batch, None))["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    distance = {}
    for steps in (1, 4, 20):
        samples = model.sample(1024, steps=steps, generator=torch.Generator().manual_seed(1))
        assert model.last_nfe == steps
        distance[steps] = _mean_nearest(samples, data)
    noise = torch.randn(1024, 2, generator=torch.Generator().manual_seed(2))
    assert distance[20] < 0.4 * _mean_nearest(noise, data)
    assert distance[20] < distance[4] < distance[1]


def test_guidance_mixes_the_null_class_prediction() -> None:
    torch.manual_seed(0)
    model = build("model", {"type": NAME, **GUIDED}).eval()
    x, t, y = torch.randn(2, 1, 8, 8), torch.tensor([0.9, 0.2]), torch.tensor([0, 2])
    guided = model._guided(3.0, None, {"y": y})
    cond, uncond = model(x, t, y=y), model(x, t, y=torch.full_like(y, 3))
    torch.testing.assert_close(guided(x, t, t, y), uncond + 3.0 * (cond - uncond))
    # sigma = t / (1 - t): 9 for t = 0.9 (outside (0, 1]), 0.25 for t = 0.2 (inside)
    banded = model._guided(3.0, (0.0, 1.0), {"y": y})(x, t, t, y)
    torch.testing.assert_close(banded[0], cond[0])
    torch.testing.assert_close(banded[1], (uncond + 3.0 * (cond - uncond))[1])
    out = model.sample(3, steps=2, guidance_scale=2.0, generator=torch.Generator().manual_seed(0))
    assert out.shape == (3, 1, 8, 8) and model.last_nfe == 2


def test_guidance_without_label_dropout_is_refused() -> None:
    model = build("model", {"type": NAME, **SMALL, "network": {**UNET, "num_classes": 3}})
    with pytest.raises(ConfigError, match="label dropout"):
        model.sample(2, guidance_scale=2.0)


def test_sample_steps_and_samplers() -> None:
    model = build("model", {"type": NAME, **SMALL})
    g = torch.Generator().manual_seed(0)
    for sampler, steps, nfe in [("flow-euler", 1, 1), ("flow-heun", 2, 4), ("flow-midpoint", 4, 8)]:
        out = model.sample(2, sampler=sampler, steps=steps, generator=g, shift=3.0)
        assert out.shape == (2, 1, 8, 8) and model.last_nfe == nfe
        assert float(out.abs().max()) <= 1.0


def test_errors() -> None:
    with pytest.raises(ConfigError, match="null class"):
        build(
            "model",
            {
                "type": NAME,
                "data_dim": 2,
                "network": {"type": "mlp-denoiser", "num_classes": 2},
                "label_dropout": 0.1,
            },
        )
    with pytest.raises(ConfigError, match="num_classes=0"):
        build("model", {"type": NAME, **SMALL, "label_dropout": 0.1})
    with pytest.raises(ConfigError, match="returns shape|fails on"):
        build("model", {"type": NAME, **SMALL, "network": {**UNET, "out_channels": 2}})
    model = build("model", {"type": NAME, **SMALL})
    with pytest.raises(DataError, match=r"expected data of shape \(B, 1, 8, 8\)"):
        model.compute_loss(torch.rand(2, 1, 16, 16))
    with pytest.raises(ConfigError, match="not a flow sampler"):
        model.sample(2, sampler="ddim")
    with pytest.raises(ConfigError, match="unknown keyword"):
        model.sample(2, eta=0.5)


MEAN = {**SMALL, "objective": "mean-flow", "interval_share": 0.5}


def test_mean_flow_conformance_and_interval_embedding() -> None:
    """The interval embedding starts at zero: a fresh mean-flow model is its flow-matching
    network, with r ignored until training moves the embedding."""
    check_component("model", NAME, {**MEAN, "network": {**UNET, "num_classes": 3}})
    torch.manual_seed(0)
    model = build("model", {"type": NAME, **MEAN}).eval()
    x, t, r = torch.randn(2, 1, 8, 8), torch.tensor([0.9, 0.5]), torch.tensor([0.1, 0.5])
    torch.testing.assert_close(model(x, t, r), model.network(x, t * 1000.0))
    torch.nn.init.normal_(model.interval_mlp[2].weight)
    assert not torch.allclose(model(x, t, r), model(x, t, t))


def test_mean_flow_target_is_the_identity_with_a_jvp() -> None:
    """The error is u - sg(v - (t - r) du/dt) with du/dt = v . d_z u + d_t u, the total
    derivative along the path: here against a closed form for u = z t^2 + z^2 sin(r)."""
    from core_flow.objectives import mean_flow_errors

    z, v = torch.randn(3, 1, 2, 2, dtype=torch.float64), torch.randn(3, 1, 2, 2).double()
    t, r = torch.tensor([0.9, 0.6, 0.3]).double(), torch.tensor([0.2, 0.6, 0.0]).double()
    weight = torch.ones((), dtype=torch.float64, requires_grad=True)

    def u(z, t, r):
        t, r = t.view(-1, 1, 1, 1), r.view(-1, 1, 1, 1)
        return weight * (z * t**2 + z**2 * torch.sin(r))

    errors = mean_flow_errors(u, z, v, t, r)
    tb, rb = t.view(-1, 1, 1, 1), r.view(-1, 1, 1, 1)
    dudt = v * (tb**2 + 2 * z * torch.sin(rb)) + 2 * z * tb  # d_z u . v + d_t u
    expected = u(z, t, r) - (v - (tb - rb) * dudt)
    torch.testing.assert_close(errors, expected.float())
    errors.sum().backward()  # the gradient flows through u only: the target is detached
    torch.testing.assert_close(weight.grad, u(z, t, r).sum().detach() / weight.detach())


def test_shortcut_target_is_the_mean_of_two_half_steps() -> None:
    """The error is u(z, r, t) - sg((u(z, m, t) + u(z', r, m)) / 2), m the midpoint and z' where
    the first half step lands; the gradient flows through the full step only."""
    from core_flow.objectives import shortcut_errors

    z = torch.randn(3, 1, 2, 2, dtype=torch.float64)
    t, r = torch.tensor([0.9, 0.6, 0.3]).double(), torch.tensor([0.1, 0.2, 0.0]).double()
    weight = torch.ones((), dtype=torch.float64, requires_grad=True)

    def u(z, t, r):
        return weight * z * (t + 2 * r).view(-1, 1, 1, 1)

    errors = shortcut_errors(u, z, t, r)
    m = (t + r) / 2
    first = z * (t + 2 * m).view(-1, 1, 1, 1)
    landing = z - ((t - m).view(-1, 1, 1, 1)) * first
    second = landing * (m + 2 * r).view(-1, 1, 1, 1)
    torch.testing.assert_close(errors, (u(z, t, r) - (first + second) / 2).float())
    errors.sum().backward()
    torch.testing.assert_close(weight.grad, u(z, t, r).sum().detach())
    check_component("model", NAME, {**SMALL, "objective": "shortcut"})


def test_mean_flow_learns_a_2d_toy_in_one_step(one_torch_thread) -> None:
    """On moons, a mean-flow model's one-step samples land on the data within 2x its 20-step
    ones' distance, and far closer than a flow-matching model's one step at the same budget
    (seed 0: about 0.09 against 0.20)."""
    from sklearn.datasets import make_moons

    data = torch.tensor(make_moons(2048, noise=0.05, random_state=0)[0], dtype=torch.float32)
    net = {"type": "mlp-denoiser", "hidden_dim": 128}
    distances = {}
    for objective in ("flow-matching", "mean-flow"):
        torch.manual_seed(0)
        config = {"data_dim": 2, "network": net, "objective": objective, "interval_share": 0.5}
        config["loss_weight_power"] = 1.0 if objective == "mean-flow" else 0.0
        model = build("model", {"type": NAME, **config})
        optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
        for _ in range(1500):
            batch = data[torch.randint(0, len(data), (256,))]
            loss = model.compute_loss(batch)["loss"]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        for steps in (1, 20):
            points = model.sample(1000, steps=steps, generator=torch.Generator().manual_seed(1))
            distances[objective, steps] = _mean_nearest(points, data)
    assert distances["mean-flow", 1] < 0.6 * distances["flow-matching", 1], distances
    assert distances["mean-flow", 1] < 2 * distances["mean-flow", 20], distances


def test_mean_flow_needs_a_network_with_an_embedding_input() -> None:
    network = {"type": "diffusers-unet", "block_out_channels": [8, 8]}
    with pytest.raises(ConfigError, match="mean-flow .* does not take"):
        build("model", {"type": NAME, **SMALL, "network": network, "objective": "mean-flow"})
