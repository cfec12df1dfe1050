"""The ddpm model: configs (nested and flat), loss, sampling, conditioning and errors."""

from __future__ import annotations

import pytest
import torch

import core
from core.testing import check_component

TINY_UNET = {"type": "unet", "base_channels": 8, "channel_mults": [1, 2], "num_res_blocks": 1}


def tiny(**kw):
    section = {
        "type": "ddpm",
        "timesteps": 50,
        "image_size": 8,
        "channels": 1,
        "network": dict(TINY_UNET),
        **kw,
    }
    return core.build_model({"model": section})


def test_flat_form_configures_the_default_network():
    m = core.build_model(
        {
            "model": {
                "type": "ddpm",
                "timesteps": 1000,
                "image_size": 64,
                "channels": 3,
                "base_channels": 64,
            }
        }
    )
    assert type(m.network).__name__ == "DDPMUNet"
    assert m.network.count_parameters() == 3_745_987 == m.count_parameters()
    assert m.get_config()["network"] == {"type": "ddpm-unet", "base_channels": 64}
    default = core.build("model", {"type": "ddpm", "image_size": 8, "channels": 1})
    assert default.config.network == {"type": "ddpm-unet", "base_channels": 128}
    assert default.network.config.in_channels == 1 and default.schedule.timesteps == 1000


def test_network_and_schedule_are_filled_and_built():
    m = tiny(noise_schedule={"type": "cosine"})
    assert m.network.config.in_channels == 1 and m.network.config.out_channels == 1
    assert m.network.config.image_size == 8
    assert type(m.schedule).__name__ == "CosineSchedule" and m.schedule.timesteps == 50
    m2 = tiny(noise_schedule="quadratic")
    assert type(m2.schedule).__name__ == "QuadraticSchedule"


def test_compute_loss_forms():
    torch.manual_seed(0)
    m = tiny()
    x = torch.rand(4, 1, 8, 8) * 2 - 1
    for batch in (x, [x, torch.zeros(4, dtype=torch.long)], {"image": x}):
        out = m.compute_loss(batch)
        assert out["loss"].ndim == 0 and out["loss"].item() > 0
    out["loss"].backward()
    assert all(p.grad is not None for p in m.network.parameters())


def test_compute_loss_is_mse_on_the_noise():
    m = tiny()
    x = torch.rand(3, 1, 8, 8) * 2 - 1
    torch.manual_seed(1)
    loss = m.compute_loss(x)["loss"]
    torch.manual_seed(1)
    t = torch.randint(0, 50, (3,))
    noise = torch.randn_like(x)
    expected = torch.mean((m.network(m.q_sample(x, t, noise), t) - noise) ** 2)
    assert torch.allclose(loss, expected, atol=1e-6)


def test_class_labels_reach_a_class_conditional_network():
    m = tiny(network={**TINY_UNET, "num_classes": 10})
    x = torch.rand(4, 1, 8, 8) * 2 - 1
    seen = {}
    original = m.network.forward

    def spy(x, t, **kw):
        seen.update(kw)
        return original(x, t, **kw)

    m.network.forward = spy
    m.compute_loss([x, torch.tensor([1, 2, 3, 4])])
    assert torch.equal(seen["y"], torch.tensor([1, 2, 3, 4]))
    samples = m.sample(2, sampler="ddim", steps=3, y=7)
    assert samples.shape == (2, 1, 8, 8) and torch.equal(seen["y"], torch.tensor([7, 7]))
    m.sample(20, sampler="ddim", steps=2)  # no labels: every class, in blocks (grid rows)
    assert torch.equal(seen["y"], torch.arange(20) // 2)
    plain = tiny()  # unconditional: labels of an (x, y) batch are ignored
    assert plain.compute_loss([x, torch.tensor([1, 2, 3, 4])])["loss"].item() > 0


@pytest.mark.parametrize("sampler", ["ddpm", "ddim", "dpm-solver++", "dpmsolver++"])
def test_sample_shapes_and_range(sampler):
    m = tiny()
    g = torch.Generator().manual_seed(0)
    x = m.sample(3, sampler=sampler, steps=5, generator=g)
    assert x.shape == (3, 1, 8, 8) and x.min() >= -1 and x.max() <= 1
    assert m.last_nfe == 5
    again = m.sample(3, sampler=sampler, steps=5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(x, again)
    assert m.sample_range == (-1.0, 1.0)


def test_sampler_options_and_defaults():
    m = tiny(sampler="ddim", sample_steps=4)
    m.sample(1)
    assert m.last_nfe == 4
    m.sample(1, sampler="ddim", steps=6, eta=0.5)
    assert m.last_nfe == 6
    m.apply_runtime_overrides(sampler="dpm-solver++", sample_steps=3)
    m.sample(1)
    assert m.last_nfe == 3
    with pytest.raises(core.ConfigError, match="structural"):
        m.apply_runtime_overrides(timesteps=10)


def test_v_prediction_trains_and_samples():
    m = tiny(prediction="v")
    x = torch.rand(2, 1, 8, 8) * 2 - 1
    assert m.compute_loss(x)["loss"].item() > 0
    assert m.sample(2, sampler="dpm-solver++", steps=4).shape == (2, 1, 8, 8)


def test_training_reduces_the_loss():
    torch.manual_seed(0)
    m = tiny(network={**TINY_UNET, "base_channels": 16})
    data = torch.zeros(32, 1, 8, 8)
    data[:, :, 2:6, 2:6] = 1.0
    data = data * 2 - 1
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss = m.compute_loss(data)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-10:]) / 10 < 0.5 * sum(losses[:10]) / 10


def test_vector_data_with_the_mlp_denoiser():
    pytest.importorskip("core_denoisers")
    m = core.build_model(
        {
            "model": {
                "type": "ddpm",
                "timesteps": 100,
                "data_dim": 2,
                "network": {"type": "mlp-denoiser", "hidden_dim": 16},
            }
        }
    )
    assert m.network.config.data_dim == 2 and m.data_shape == (2,)
    assert m.compute_loss(torch.randn(8, 2))["loss"].item() > 0
    x = m.sample(5, sampler="dpm-solver++", steps=10)
    assert x.shape == (5, 2)


def test_bad_configs_are_clear():
    with pytest.raises(core.ConfigError, match="not divisible by 8"):
        core.build("model", {"type": "ddpm", "image_size": 20, "channels": 1})
    with pytest.raises(core.ConfigError, match="not divisible by 2"):
        tiny(image_size=9)
    with pytest.raises(core.ConfigError, match="unknown sampler 'bogus'"):
        tiny(sampler="bogus")
    with pytest.raises(core.ConfigError, match="sample_steps"):
        tiny(sample_steps=51)
    with pytest.raises(core.ConfigError, match="unknown model 'no-such-net'"):
        tiny(network={"type": "no-such-net"})
    with pytest.raises(core.ConfigError, match="network.*unknown key"):
        tiny(network={**TINY_UNET, "bogus_key": 1})
    with pytest.raises(core.ConfigError, match="noise_schedule.timesteps"):
        tiny(noise_schedule={"type": "linear", "timesteps": 10})
    with pytest.raises(core.ConfigError, match="unknown noise-schedule 'zigzag'"):
        tiny(noise_schedule={"type": "zigzag"})
    with pytest.raises(core.ConfigError, match="disagrees"):
        tiny(base_channels=16)


def test_bad_calls_are_clear():
    m = tiny()
    with pytest.raises(core.ConfigError, match="unknown sampler 'euler'"):
        m.sample(2, sampler="euler")
    with pytest.raises(core.ConfigError, match=r"steps must lie in \[1, 50\]"):
        m.sample(2, steps=51)
    with pytest.raises(core.ConfigError, match="unknown keyword"):
        m.sample(2, temperature=0.5)
    with pytest.raises(core.DataError, match=r"expected data of shape \(B, 1, 8, 8\)"):
        m.compute_loss(torch.zeros(2, 3, 8, 8))


def test_network_output_shape_is_checked():
    with pytest.raises(core.ConfigError, match="must return its input's shape"):
        tiny(network={**TINY_UNET, "out_channels": 2})


def test_save_load_round_trip(tmp_path):
    m = tiny(noise_schedule={"type": "sigmoid"})
    m.save_pretrained(tmp_path / "m")
    loaded = core.build_model(str(tmp_path / "m"))
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    assert torch.equal(
        m.sample(2, steps=3, generator=g()), loaded.sample(2, steps=3, generator=g())
    )


def test_conformance():
    report = check_component(
        "model", "ddpm", {"timesteps": 20, "image_size": 8, "channels": 1, "network": TINY_UNET}
    )
    assert "save-load" in report.checks
    check_component(
        "model", "ddpm", {"timesteps": 20, "image_size": 8, "channels": 2, "base_channels": 4}
    )


def test_num_steps_alias_and_scheduler_name():
    m = core.build(
        "model",
        {
            "type": "ddpm",
            "num_steps": 30,
            "image_size": 8,
            "channels": 1,
            "network": TINY_UNET,
            "noise_schedule": "CosineScheduler",
        },
    )
    assert m.timesteps == 30 and m.schedule.timesteps == 30
    assert m.get_config()["timesteps"] == 30


def test_the_former_key_scheduler_still_works_with_a_warning(tmp_path):
    with pytest.warns(DeprecationWarning, match="'scheduler' is now 'noise_schedule'"):
        m = tiny(scheduler={"type": "cosine"})
    assert m.get_config()["noise_schedule"] == {"type": "cosine"}
    assert "scheduler" not in m.get_config()
    with pytest.raises(core.ConfigError, match="give noise_schedule only"):
        tiny(scheduler="cosine", noise_schedule="linear")


def test_channels_last_gives_the_same_outputs_and_gradients():
    net = tiny(channels=3).network
    x, t = torch.rand(8, 3, 8, 8) * 2 - 1, torch.randint(0, 50, (8,))
    target = torch.randn(8, 3, 8, 8)
    results = []
    for layout in (torch.contiguous_format, torch.channels_last):
        net.to(memory_format=layout)
        net.zero_grad()
        out = net(x.contiguous(memory_format=layout), t)
        ((out - target) ** 2).mean().backward()
        results.append((out.detach().contiguous(), [p.grad.contiguous() for p in net.parameters()]))
    (out_a, grads_a), (out_b, grads_b) = results
    torch.testing.assert_close(out_a, out_b, rtol=1e-4, atol=1e-5)
    for a, b in zip(grads_a, grads_b):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-5)


def test_trainer_applies_channels_last(tmp_path):
    from core.training import Trainer

    config = {
        "model": {"type": "ddpm", "timesteps": 50, "image_size": 8, "channels": 3},
        "data": {"type": "digits", "image_size": 8, "channels": 3, "subset": 32},
        "train": {"steps": 2, "batch_size": 16, "channels_last": True},
    }
    config["model"]["network"] = dict(TINY_UNET)
    trainer = Trainer(config, run_dir=tmp_path / "run", quiet=True)
    layouts = []
    compute_loss = trainer.model.compute_loss

    def spy(batch):
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        layouts.append(x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous())
        return compute_loss(batch)

    trainer.model.compute_loss = spy
    trainer.fit()
    weight = trainer.model.network.state_dict()["down.0.blocks.0.conv1.weight"]
    assert weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()
    assert layouts == [True, True]


def test_a_third_party_sampler_can_be_the_default():
    from core_diffusion.samplers import DDIMSampler

    from core.plugins import get_manager

    class HalfStepDDIM(DDIMSampler):
        """A sampler another distribution might register."""

    registry = get_manager().registry
    registry.register(
        "sampler",
        "half-ddim",
        HalfStepDDIM,
        config="core_diffusion.configs:DDIMSamplerConfig",
        plugin="third-party-test",
    )
    try:
        m = tiny(sampler="half-ddim", sample_steps=5)
        assert isinstance(m.get_sampler(), HalfStepDDIM)
        assert m.sample(2).shape == (2, 1, 8, 8) and m.last_nfe == 5
    finally:
        registry.remove_plugin("third-party-test")
    with pytest.raises(core.ConfigError, match="unknown sampler 'half-ddim'"):
        tiny(sampler="half-ddim")
