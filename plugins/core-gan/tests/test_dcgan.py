"""Tests of the DCGAN plugin (run against the editable install of core-gan)."""

from __future__ import annotations

import pytest
import torch

import core
from core.errors import ConfigError
from core.sampling import draw_samples
from core.testing import check_component

TINY = {"image_size": 16, "channels": 1, "ngf": 8, "ndf": 8, "latent_dim": 12}


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Tiny models run fastest on one thread (core.testing's fixture)."""


def _gan(**overrides):
    torch.manual_seed(0)
    return core.build("model", {"type": "dcgan", **TINY, **overrides})


class StandInOptimizers:
    """The Trainer's ``optimizers`` contract: backward, step, zero_grad for one optimizer."""

    def __init__(self, groups):
        self.optimizers = {
            name: torch.optim.Adam(
                g["params"], lr=g["lr"], betas=g["betas"], weight_decay=g["weight_decay"]
            )
            for name, g in groups.items()
        }
        self.calls = []

    def step(self, name, loss):
        self.calls.append(name)
        loss.backward()
        self.optimizers[name].step()
        self.optimizers[name].zero_grad(set_to_none=True)


def test_default_parameter_counts_are_the_standard_dcgan():
    gan = core.build("model", {"type": "dcgan"})
    assert sum(p.numel() for p in gan.generator.parameters()) == 3_576_704
    assert sum(p.numel() for p in gan.discriminator.parameters()) == 2_765_568
    assert gan.count_parameters() == 3_576_704 + 2_765_568


def test_registered_with_alias_and_plugin_qualified_name():
    assert core.get_model("dcgan") is core.get_model("DCGAN") is core.get_model("gan:dcgan")


def test_conformance():
    report = check_component("model", "dcgan", TINY)
    assert "save-load" in report.checks
    assert "bad-config" in report.checks


@pytest.mark.parametrize("size", [16, 32, 64, 128])
def test_every_power_of_two_size_generates_and_scores(size):
    gan = _gan(image_size=size, channels=3)
    images = gan(torch.randn(2, 12))
    assert images.shape == (2, 3, size, size)
    assert images.abs().max() <= 1.0
    probs = gan.discriminate(images)
    assert probs.shape == (2,)
    assert ((probs >= 0) & (probs <= 1)).all()
    # one more stride-2 block per doubling of the image size
    n_convs = sum(isinstance(m, torch.nn.ConvTranspose2d) for m in gan.generator.modules())
    assert n_convs == size.bit_length() - 2


def test_architecture_follows_dcgan():
    gan = _gan()
    convs = [m for m in gan.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    assert all(m.bias is None for m in convs)
    assert isinstance(gan.generator.main[-1], torch.nn.Tanh)
    assert any(isinstance(m, torch.nn.LeakyReLU) for m in gan.discriminator.modules())
    big = core.build("model", {"type": "dcgan"})
    weights = torch.cat(
        [m.weight.detach().flatten() for m in big.modules() if isinstance(m, torch.nn.Conv2d)]
    )
    assert abs(float(weights.mean())) < 1e-3
    assert float(weights.std()) == pytest.approx(0.02, rel=0.02)
    bn = torch.cat(
        [m.weight.detach() for m in big.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    )
    assert float(bn.mean()) == pytest.approx(1.0, abs=0.005)
    assert float(bn.std()) == pytest.approx(0.02, rel=0.15)
    assert all(
        float(m.bias.detach().abs().max()) == 0
        for m in big.modules()
        if isinstance(m, torch.nn.BatchNorm2d)
    )


def test_latent_forms_and_sampling():
    gan = _gan()
    z = gan.sample_z(3)
    assert z.shape == (3, 12, 1, 1)
    gan.eval()
    assert torch.equal(gan(z), gan(z.flatten(1)))
    gan.train()
    samples = draw_samples(gan, 5, batch_size=2)
    assert samples.shape == (5, 1, 16, 16)
    assert samples.min() >= -1 and samples.max() <= 1
    assert gan.generator.training, "sample() must restore the training mode"
    assert gan.sample_range == (-1.0, 1.0)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(gan.sample(2, generator=g1), gan.sample(2, generator=g2))


def test_bad_inputs_name_expected_and_given_shapes():
    gan = _gan()
    with pytest.raises(ConfigError, match=r"\(B, 12\) or \(B, 12, 1, 1\), got \(2, 7\)"):
        gan(torch.randn(2, 7))
    with pytest.raises(ConfigError, match=r"\(B, 1, 16, 16\), got \(2, 3, 16, 16\)"):
        gan.discriminate(torch.randn(2, 3, 16, 16))
    with pytest.raises(ConfigError, match=r"got \(2, 1, 32, 32\)"):
        gan.training_step(torch.randn(2, 1, 32, 32), StandInOptimizers(gan.optimizer_groups()))


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"image_size": 48}, r"image_size: .*power of two among 16, 32, 64, 128, 256"),
        ({"ngf": 0}, r"ngf: got 0"),
        ({"latent_dims": 10}, r"unknown key 'latent_dims'; did you mean 'latent_dim'"),
        ({"betas": [0.5, 1.5]}, r"betas: .*\[0, 1\)"),
    ],
)
def test_bad_configs_are_config_errors(section, message):
    with pytest.raises(ConfigError, match=message):
        core.build("model", {"type": "dcgan", **section})


def test_runtime_and_structural_parameters():
    gan = _gan()
    assert gan.apply_runtime_overrides(lr_generator=1e-3) == {"lr_generator": 1e-3}
    assert gan.optimizer_groups()["generator"]["lr"] == 1e-3
    with pytest.raises(ConfigError, match="structural"):
        gan.apply_runtime_overrides(image_size=32)


def test_optimizer_groups_split_the_parameters():
    gan = _gan()
    groups = gan.optimizer_groups(None)
    assert list(groups) == ["discriminator", "generator"]
    d_ids = {id(p) for p in groups["discriminator"]["params"]}
    g_ids = {id(p) for p in groups["generator"]["params"]}
    assert not d_ids & g_ids
    assert d_ids | g_ids == {id(p) for p in gan.parameters()}
    for group in groups.values():
        assert group["lr"] == 2e-4 and group["betas"] == (0.5, 0.999)


def test_training_step_updates_both_networks_without_gradient_leaks():
    gan = _gan()
    opts = StandInOptimizers(gan.optimizer_groups())
    g_before = [p.detach().clone() for p in gan.generator.parameters()]
    d_before = [p.detach().clone() for p in gan.discriminator.parameters()]
    out = gan.training_step([torch.rand(4, 1, 16, 16) * 2 - 1, torch.zeros(4)], opts)
    assert opts.calls == ["discriminator", "generator"]
    assert set(out) == {"loss", "loss_d", "loss_g", "d_real", "d_fake"}
    assert all(v.dim() == 0 and torch.isfinite(v) and not v.requires_grad for v in out.values())
    assert torch.allclose(out["loss"], out["loss_d"] + out["loss_g"])
    assert all(not torch.equal(a, b) for a, b in zip(g_before, gan.generator.parameters()))
    assert all(not torch.equal(a, b) for a, b in zip(d_before, gan.discriminator.parameters()))
    # the generator update must not leave gradients on (or freeze) the discriminator
    assert all(p.grad is None and p.requires_grad for p in gan.discriminator.parameters())


def test_training_moves_samples_towards_the_data():
    """Real data is a constant image of 0.5; a few dozen steps pull the samples to it."""
    gan = _gan(lr_generator=1e-3, lr_discriminator=1e-3)
    real = torch.full((8, 1, 16, 16), 0.5)
    gen = torch.Generator().manual_seed(0)
    before = (gan.sample(64, generator=gen) - 0.5).abs().mean()
    opts = StandInOptimizers(gan.optimizer_groups())
    for _ in range(100):
        gan.training_step(real, opts)
    after = (gan.sample(64, generator=gen) - 0.5).abs().mean()
    assert after < 0.5 * before, (float(before), float(after))


def test_trains_through_the_core_trainer(tmp_path):
    training = pytest.importorskip("core.training")
    config = {
        "model": {"type": "dcgan", **TINY},
        "data": {"type": "digits", "image_size": 16, "channels": 1, "value_range": [-1, 1]},
        "train": {"steps": 3, "batch_size": 8, "log_every": 1, "lr_schedule": "constant"},
        "sample": {"n": 4},
    }
    trainer = training.Trainer(config, run_dir=tmp_path / "run", quiet=True)
    before = [p.detach().clone() for p in trainer.model.parameters()]
    trainer.fit()
    assert {"loss_d", "loss_g", "d_real", "d_fake"} <= set(trainer.history[-1])
    assert all(not torch.equal(a, b) for a, b in zip(before, trainer.model.parameters()))
    groups = {g["lr"] for opt in trainer.optimizers.values() for g in opt.param_groups}
    betas = {g["betas"] for opt in trainer.optimizers.values() for g in opt.param_groups}
    assert set(trainer.optimizers) == {"discriminator", "generator"}
    assert groups == {2e-4} and betas == {(0.5, 0.999)}
    assert (tmp_path / "run" / "samples.png").is_file()
    loaded = core.BaseModel.from_pretrained(tmp_path / "run" / "final")
    assert loaded.sample(2).shape == (2, 1, 16, 16)
