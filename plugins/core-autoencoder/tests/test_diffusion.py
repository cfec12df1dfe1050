"""Latent diffusion and ControlNet on core-diffusion's U-Net, schedules and samplers."""

from __future__ import annotations

import pytest
import torch

import core
from core.errors import ConfigError, DataError

FUSIONS = ["add", "scaled-add", "learned", "film", "concat", "gated"]


def test_latent_diffusion_trains_on_latents_or_images_and_decodes(ldm_config: dict) -> None:
    model = core.build("model", ldm_config)
    assert model.autoencoder is not None and not any(
        p.requires_grad for p in model.autoencoder.parameters()
    )
    loss = model.compute_loss(
        {"latent": torch.randn(3, 4, 4, 4), "label": torch.tensor([1, 2, 3])}
    )["loss"]
    loss.backward()
    assert all(p.grad is None for p in model.autoencoder.parameters())
    assert model.compute_loss(torch.randn(3, 1, 16, 16))["loss"].ndim == 0  # encoded on the fly
    g = torch.Generator().manual_seed(0)
    z = model.sample(2, generator=g)
    assert z.shape == (2, 4, 4, 4)
    images = model.decode_to_image(z)
    assert images.shape == (2, 1, 16, 16) and images.abs().max() <= 1
    for sampler in ("ddpm", "dpm-solver++"):
        assert model.sample(1, sampler=sampler, steps=3).shape == (1, 4, 4, 4)
    assert model.sample(2, decode=True, steps=2).shape == (2, 1, 16, 16)
    with pytest.raises(DataError, match=r"latents of shape \(B, 4, 4, 4\)"):
        model.compute_loss({"latent": torch.randn(2, 4, 8, 8)})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sample_steps": 60}, r"sample_steps \(60\) exceeds timesteps \(50\)"),
        ({"network": {"type": ""}}, "network must be a section with a 'type'"),
        ({"noise_schedule": {"type": "linear", "timesteps": 10}}, "disagrees with timesteps"),
        ({"sampler": "no-such-sampler"}, "no-such-sampler"),
    ],
)
def test_latent_and_pixel_diffusion_share_one_config_check(
    ldm_config: dict, ddpm_config: dict, change: dict, message: str
) -> None:
    for config in (ldm_config, ddpm_config):
        with pytest.raises(ConfigError, match=message):
            core.build("model", {**config, **change})


def test_latent_diffusion_loads_a_pretrained_decoder(
    ae_config: dict, ldm_config: dict, tmp_path
) -> None:
    ae = core.build("model", ae_config)
    ae.save_pretrained(tmp_path / "ae")
    cfg = {**ldm_config, "decoder": {"checkpoint": str(tmp_path / "ae")}}
    model = core.build("model", cfg)
    z = torch.randn(2, 4, 4, 4)
    assert torch.equal(model.decode_to_image(z), ae.eval().decode(z)["rgb"])
    # the saved model holds the decoder's architecture and weights, not the path
    assert "config" in model.get_config()["decoder"]
    model.save_pretrained(tmp_path / "ldm")
    loaded = core.BaseModel.from_pretrained(tmp_path / "ldm")
    assert torch.equal(loaded.decode_to_image(z), model.decode_to_image(z))
    with pytest.raises(core.CoreError, match="decoder.checkpoint"):
        core.build("model", {**ldm_config, "decoder": {"checkpoint": str(tmp_path / "missing")}})
    with pytest.raises(ConfigError, match="exactly one of pretrained, checkpoint, config"):
        core.build("model", {**ldm_config, "decoder": {}})
    with pytest.raises(ConfigError, match="latent_channels"):
        core.build("model", {**ldm_config, "latent_channels": 3})


def _controlnet(ddpm_config: dict, **config):
    return core.build(
        "model", {"type": "controlnet-diffusion", "base": {"config": ddpm_config}, **config}
    )


@pytest.mark.parametrize("fusion", FUSIONS)
def test_controlnet_starts_as_the_base_model_exactly(ddpm_config: dict, fusion: str) -> None:
    torch.manual_seed(0)
    model = _controlnet(ddpm_config, fusion=fusion, vector_dim=3, control_size=16).eval()
    x, t = torch.randn(3, 1, 8, 8), torch.tensor([0, 10, 49])
    control, vector = torch.rand(3, 1, 16, 16), torch.randn(3, 3)
    with torch.no_grad():
        assert torch.equal(model(x, t, control, vector), model.base.network(x, t))
    # one training step moves the output away from the base; the base stays frozen
    base_state = {k: v.clone() for k, v in model.base.state_dict().items()}
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    for _ in range(2):
        loss = model.compute_loss({"image": x, "control": control, "control_vector": vector})[
            "loss"
        ]
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        assert not torch.equal(model(x, t, control, vector), model.base.network(x, t))
    assert all(torch.equal(v, model.base.state_dict()[k]) for k, v in base_state.items())
    assert all(p.grad is None for p in model.base.parameters())


def test_controlnet_copy_is_initialised_from_the_base(ddpm_config: dict) -> None:
    model = _controlnet(ddpm_config)
    base = model.base.network.state_dict()
    assert all(torch.equal(value, base[name]) for name, value in model.control.state_dict().items())
    trainable = model.count_parameters(trainable_only=True)
    assert 0 < trainable < model.count_parameters()


def test_controlnet_control_scale_zero_is_the_base(ddpm_config: dict) -> None:
    model = _controlnet(ddpm_config, fusion="learned")
    for p in model.fusions.parameters():
        torch.nn.init.normal_(p)
    model.eval()
    x, t, control = torch.randn(2, 1, 8, 8), torch.tensor([3, 4]), torch.rand(2, 1, 8, 8)
    with torch.no_grad():
        assert not torch.equal(model(x, t, control), model.base.network(x, t))
        model.apply_runtime_overrides(control_scale=0.0)
        assert torch.allclose(model(x, t, control), model.base.network(x, t))


def test_controlnet_samples_and_checks_its_inputs(ddpm_config: dict) -> None:
    model = _controlnet(ddpm_config)
    out = model.sample(2, control=torch.rand(2, 1, 8, 8), sampler="ddim", steps=3)
    assert out.shape == (2, 1, 8, 8) and out.abs().max() <= 1
    x, t = torch.randn(2, 1, 8, 8), torch.tensor([1, 2])
    with torch.no_grad():  # no control signal: the base model (what the Trainer grids show)
        assert torch.equal(model.eval()(x, t), model.base.network(x, t))
    assert model.sample(2, steps=2).shape == (2, 1, 8, 8)
    with pytest.raises(
        ConfigError, match=r"control must have shape \(2, 1, 8, 8\), got \(2, 1, 4, 4\)"
    ):
        model(torch.randn(2, 1, 8, 8), torch.tensor([1, 2]), torch.rand(2, 1, 4, 4))
    with pytest.raises(DataError, match="no 'edges' entry"):
        _controlnet(ddpm_config, control_key="edges").compute_loss(
            {"image": torch.randn(2, 1, 8, 8)}
        )
    with pytest.raises(ConfigError, match="power of two"):
        _controlnet(ddpm_config, control_size=12)
    with pytest.raises(ConfigError, match="control_channels and/or vector_dim"):
        _controlnet(ddpm_config, control_channels=0)
    other = {
        **ddpm_config,
        "image_size": 8,
        "network": {"type": "ddpm-unet", "base_channels": 8, "time_dim": 8},
    }
    with pytest.raises(ConfigError, match="core-diffusion 'unet'"):
        _controlnet(other)


def test_controlnet_on_a_latent_diffusion_base(ldm_config: dict) -> None:
    model = core.build(
        "model", {"type": "controlnet-diffusion", "base": {"config": ldm_config}, "fusion": "gated"}
    ).eval()
    assert model.control_size == 16  # latent 4 x the autoencoder's factor 4
    z, t, control = torch.randn(2, 4, 4, 4), torch.tensor([1, 30]), torch.rand(2, 1, 16, 16)
    with torch.no_grad():
        assert torch.equal(model(z, t, control), model.base.network(z, t))
    loss = model.compute_loss({"image": torch.randn(2, 1, 16, 16), "control": control})["loss"]
    assert loss.ndim == 0
    images = model.sample(2, control=control, steps=2)
    assert images.shape == (2, 1, 16, 16)
    assert model.sample(2, control=control, steps=2, decode=False).shape == (2, 4, 4, 4)
