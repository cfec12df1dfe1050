"""Classifier-free guidance (label dropout, one batched call, every sampler), min-SNR loss
weighting and ``sample(batch_size=...)``."""

from __future__ import annotations

import math

import pytest
import torch

import core

TINY_UNET = {"type": "unet", "base_channels": 8, "channel_mults": [1, 2], "num_res_blocks": 1}
SAMPLERS = ["ddpm", "ddim", "dpm-solver++", "dpm-solver++-sde", "heun-karras"]


def tiny(network=None, **kw):
    section = {
        "type": "ddpm",
        "timesteps": 50,
        "image_size": 8,
        "channels": 1,
        "network": network or {**TINY_UNET, "num_classes": 3},
        **kw,
    }
    return core.build_model({"model": section})


def spy_on(model):
    calls = []
    original = model.network.forward

    def spy(x, t, **kw):
        calls.append({"x": x, "t": t, **kw})
        return original(x, t, **kw)

    model.network.forward = spy
    return calls


@pytest.mark.parametrize("network", ["unet", "ddpm-unet"])
def test_label_dropout_gives_the_network_a_null_class(network):
    section = {"type": network, "num_classes": 3}
    if network == "unet":
        section = {**TINY_UNET, **section}
    else:
        section["base_channels"] = 4
    m = tiny(section, label_dropout=0.5)
    assert m.network.config.null_class and m.null_class == 3 and m.num_classes == 3
    assert m.network.label_emb.num_embeddings == 4
    assert tiny(section).network.label_emb.num_embeddings == 3
    assert tiny(section).null_class is None
    calls = spy_on(m)
    torch.manual_seed(0)
    x = torch.rand(2000, 1, 8, 8) * 2 - 1
    m.compute_loss([x, torch.arange(2000) % 3])
    y = calls[-1]["y"]
    dropped = y == 3
    assert 0.45 < dropped.float().mean().item() < 0.55  # dropped with probability 0.5
    assert torch.equal(y[~dropped], (torch.arange(2000) % 3)[~dropped])


def test_guidance_is_one_batched_call_combining_the_two_predictions():
    torch.manual_seed(0)
    m = tiny(label_dropout=0.1)
    with torch.no_grad():  # make the label matter
        m.network.label_emb.weight.normal_(0, 3)
    calls = spy_on(m)
    g = torch.Generator().manual_seed(0)
    out = m.sample(4, sampler="ddim", steps=5, y=torch.tensor([0, 1, 2, 0]), guidance_scale=3.0)
    assert out.shape == (4, 1, 8, 8) and m.last_nfe == 5 and len(calls) == 5
    first = calls[0]
    assert first["x"].shape[0] == 8 and torch.equal(
        first["y"], torch.tensor([0, 1, 2, 0, 3, 3, 3, 3])
    )
    assert torch.equal(first["x"][:4], first["x"][4:]) and torch.equal(
        first["t"][:4], first["t"][4:]
    )
    # the combination, from the same two predictions
    x, t, y = first["x"][:4], first["t"][:4], first["y"][:4]
    guided = m._guided(3.0, None, {"y": y})
    with torch.no_grad():
        cond, uncond = m.network(x, t, y=y), m.network(x, t, y=torch.full_like(y, 3))
        assert torch.allclose(guided(x, t, y=y), uncond + 3.0 * (cond - uncond), atol=1e-5)
    # scale 1 is the plain network, and other scales change the samples
    plain = m.sample(4, sampler="ddim", steps=5, generator=g)
    g1 = torch.Generator().manual_seed(0)
    assert torch.equal(plain, m.sample(4, sampler="ddim", steps=5, generator=g1, guidance_scale=1))
    g2 = torch.Generator().manual_seed(0)
    assert not torch.equal(
        plain, m.sample(4, sampler="ddim", steps=5, generator=g2, guidance_scale=4)
    )
    # the model's runtime default applies when no scale is given
    m.apply_runtime_overrides(guidance_scale=4.0)
    g3 = torch.Generator().manual_seed(0)
    g4 = torch.Generator().manual_seed(0)
    assert torch.equal(
        m.sample(4, sampler="ddim", steps=5, generator=g3),
        m.sample(4, sampler="ddim", steps=5, generator=g4, guidance_scale=4.0),
    )


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_guidance_works_with_every_sampler(sampler):
    m = tiny(label_dropout=0.2)
    calls = spy_on(m)
    out = m.sample(batch_size=3, sampler=sampler, steps=4, y=1, guidance_scale=2.5)
    assert out.shape == (3, 1, 8, 8) and torch.isfinite(out).all()
    assert len(calls) == m.last_nfe and all(c["x"].shape[0] == 6 for c in calls)
    assert m.last_nfe == (7 if sampler == "heun-karras" else 4)


def test_guidance_interval_guides_only_the_noise_levels_inside_it():
    torch.manual_seed(0)
    m = tiny(label_dropout=0.1)
    with torch.no_grad():
        m.network.label_emb.weight.normal_(0, 3)
    ab = m.schedule.alpha_bars.double()
    sigma = ((1 - ab) / ab).sqrt()
    low, high = sigma[10].item(), sigma[30].item()  # guide t in 11..30
    calls = spy_on(m)
    y = torch.tensor([0, 1, 2, 0])
    out = m.sample(
        4, sampler="ddim", steps=50, y=y, guidance_scale=3.0, guidance_interval=(low, high)
    )
    assert torch.isfinite(out).all() and m.last_nfe == 50
    guided_t = sorted(c["t"][0].item() for c in calls if c["x"].shape[0] == 8)
    assert guided_t == list(range(11, 31))  # (low, high]: the others are one conditional batch
    assert all(c["x"].shape[0] == 4 for c in calls if not 11 <= c["t"][0].item() <= 30)
    # a call mixing noise levels guides each sample by its own level
    guided = m._guided(3.0, (low, high), {"y": y})
    x, t = torch.randn(4, 1, 8, 8), torch.tensor([5, 20, 40, 30])
    with torch.no_grad():
        cond, uncond = m.network(x, t, y=y), m.network(x, t, y=torch.full_like(y, 3))
        want = torch.where(
            ((t > 10) & (t <= 30)).view(-1, 1, 1, 1), uncond + 3.0 * (cond - uncond), cond
        )
        assert torch.allclose(guided(x, t, y=y), want, atol=1e-5)
    # the model's default applies when none is given; one covering every level is plain guidance
    m.apply_runtime_overrides(guidance_interval=(0.0, 1e9))
    g, h = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    a = m.sample(4, sampler="ddim", steps=5, y=y, generator=g, guidance_scale=3.0)
    m.apply_runtime_overrides(guidance_interval=None)
    assert torch.equal(
        a, m.sample(4, sampler="ddim", steps=5, y=y, generator=h, guidance_scale=3.0)
    )


@pytest.mark.parametrize(
    ("interval", "message"),
    [
        ((2.0, 1.0), "0 <= low < high"),
        ((-1.0, 1.0), "0 <= low < high"),
        ("12", "two numbers"),
        ([1.0], "two numbers"),
    ],
)
def test_guidance_interval_refuses_bad_bounds(interval, message):
    m = tiny(label_dropout=0.1)
    with pytest.raises(core.ConfigError, match=f"guidance_interval.*{message}"):
        m.sample(2, sampler="ddim", steps=2, y=0, guidance_scale=2.0, guidance_interval=interval)
    with pytest.raises(core.ConfigError, match="guidance_interval"):
        tiny(label_dropout=0.1, guidance_interval=interval)


def test_v_prediction_guidance():
    m = tiny(label_dropout=0.1, prediction="v", noise_schedule={"type": "cosine"})
    out = m.sample(2, sampler="dpm-solver++", steps=4, guidance_scale=2.0)
    assert out.shape == (2, 1, 8, 8) and torch.isfinite(out).all()


def test_guidance_needs_a_model_trained_with_label_dropout():
    with pytest.raises(core.ConfigError, match="trained with label dropout"):
        tiny().sample(2, guidance_scale=3)
    with pytest.raises(core.ConfigError, match="num_classes=0"):
        tiny(TINY_UNET).sample(2, guidance_scale=3)
    tiny().sample(2, sampler="ddim", steps=2, guidance_scale=1)  # 1 = no guidance: fine
    with pytest.raises(core.ConfigError, match="guidance_scale must be"):
        tiny(label_dropout=0.1).sample(2, guidance_scale=-1)
    with pytest.raises(core.ConfigError, match="num_classes=0"):
        tiny(TINY_UNET, label_dropout=0.1)
    with pytest.raises(core.ConfigError, match="null_class: false"):
        tiny({**TINY_UNET, "num_classes": 3, "null_class": False}, label_dropout=0.1)
    with pytest.raises(core.ConfigError, match="label_dropout"):
        tiny(label_dropout=1.0)


def test_a_network_without_a_null_class_refuses_label_dropout():
    pytest.importorskip("core_denoisers")
    with pytest.raises(core.ConfigError, match="no null_class option"):
        tiny({"type": "cnn-denoiser", "num_classes": 3}, label_dropout=0.1)


def test_label_dropout_round_trips(tmp_path):
    m = tiny(label_dropout=0.1)
    m.save_pretrained(tmp_path / "m")
    back = core.build_model(str(tmp_path / "m"))
    assert back.null_class == 3 and back.config.label_dropout == 0.1
    g, h = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    a = m.sample(2, sampler="ddim", steps=3, generator=g, guidance_scale=2)
    assert torch.equal(a, back.sample(2, sampler="ddim", steps=3, generator=h, guidance_scale=2))


def test_sample_takes_batch_size_as_a_keyword():
    m = tiny(TINY_UNET)
    assert m.sample(batch_size=8, sampler="ddim", steps=2).shape == (8, 1, 8, 8)
    assert m.sample(5, sampler="ddim", steps=2).shape[0] == 5
    assert m.sample(n=3, batch_size=3, sampler="ddim", steps=2).shape[0] == 3
    with pytest.raises(core.ConfigError, match="disagree"):
        m.sample(2, batch_size=3)
    with pytest.raises(core.ConfigError, match="give the number of samples"):
        m.sample()
    with pytest.raises(core.ConfigError, match="positive integer"):
        m.sample(batch_size=0)


def test_min_snr_weighting():
    torch.manual_seed(0)
    m = tiny(TINY_UNET, loss_weighting="min-snr", min_snr_gamma=5.0)
    calls = spy_on(m)
    x = torch.rand(16, 1, 8, 8) * 2 - 1
    torch.manual_seed(1)
    out = m.compute_loss(x)
    call = calls[-1]
    with torch.no_grad():
        pred = m.network(call["x"], call["t"])
    ab = m.schedule.alpha_bars[call["t"]].double()
    snr = ab / (1 - ab)
    # the noise behind x_t: x_t = sqrt(ab) x0 + sqrt(1 - ab) eps
    eps = (call["x"] - ab.sqrt().view(-1, 1, 1, 1).float() * x) / (1 - ab).sqrt().view(
        -1, 1, 1, 1
    ).float()
    per = (pred - eps).pow(2).flatten(1).mean(1)
    expected = (snr.clamp(max=5.0) / snr).float() * per
    assert out["loss"].item() == pytest.approx(expected.mean().item(), rel=1e-4)
    assert out["mse"].item() == pytest.approx(per.mean().item(), rel=1e-4)
    v = tiny(TINY_UNET, loss_weighting="min-snr", prediction="v")
    assert v.compute_loss(x)["loss"].item() > 0


def test_an_unbounded_interval_overrides_the_models_for_one_call():
    """``sample(guidance_interval=(0, inf))`` guides every step; a config must stay finite."""
    m = tiny(label_dropout=0.1, guidance_interval=(0.5, 2.0))
    y = torch.tensor([0, 1])
    calls = spy_on(m)
    m.sample(2, sampler="ddim", steps=5, y=y, guidance_scale=2.0, guidance_interval=(0, math.inf))
    assert [c["x"].shape[0] for c in calls] == [4] * 5
    calls.clear()
    m.sample(2, sampler="ddim", steps=5, y=y, guidance_scale=2.0)  # the model's own again
    assert any(c["x"].shape[0] == 2 for c in calls)
    with pytest.raises(core.ConfigError, match="guidance_interval"):
        tiny(label_dropout=0.1, guidance_interval=(0.0, math.inf))
