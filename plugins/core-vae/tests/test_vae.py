"""Tests of the VAE plugin (run against the editable install of core-vae)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import core
from core.errors import ConfigError, DataError
from core.sampling import draw_samples
from core.testing import check_component

TINY = {"image_size": 16, "channels": 1, "latent_dim": 8, "hidden_channels": [4, 8]}


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Tiny models run fastest on one thread (core.testing's fixture)."""


def _vae(name="vae", **overrides):
    torch.manual_seed(0)
    return core.build("model", {"type": name, **TINY, **overrides})


@pytest.mark.parametrize(("size", "count"), [(64, 2_957_251), (32, 1_774_531)])
def test_default_parameter_counts(size, count):
    vae = core.build("model", {"type": "vae", "image_size": size})
    assert vae.count_parameters() == count


def test_registered_names():
    assert core.get_model("vae") is core.get_model("vae:vae")
    beta = core.get_model("beta-vae")
    assert issubclass(beta, core.get_model("vae"))
    assert core.build("model", {"type": "beta-vae"}).config.beta == 4.0
    assert core.build("model", {"type": "vae"}).config.beta == 1.0


@pytest.mark.parametrize("name", ["vae", "beta-vae"])
def test_conformance(name):
    report = check_component("model", name, TINY)
    assert "save-load" in report.checks
    assert "bad-config" in report.checks


@pytest.mark.parametrize("size", [16, 28, 32, 64, 128])
def test_every_size_reconstructs_to_the_input_size(size):
    vae = core.build("model", {"type": "vae", "image_size": size, "channels": 1, "latent_dim": 16})
    x = torch.rand(2, 1, size, size)
    recon, mu, logvar = vae(x)
    assert recon.shape == x.shape
    assert mu.shape == logvar.shape == (2, 16)
    assert vae.reconstruct(x).shape == x.shape
    assert vae.sample(3).shape == (3, 1, size, size)


def test_28px_is_padded_like_32px():
    a = core.build("model", {"type": "vae", "image_size": 28, "channels": 1})
    b = core.build("model", {"type": "vae", "image_size": 32, "channels": 1})
    assert a.count_parameters() == b.count_parameters()


def test_architecture():
    vae = core.build("model", {"type": "vae"})
    widths = [3, 32, 64, 128, 256]  # the decoder goes back the same way
    convs = [m for m in vae.encoder if isinstance(m, torch.nn.Conv2d)]
    assert [(m.in_channels, m.out_channels) for m in convs] == list(zip(widths, widths[1:]))
    assert all(m.kernel_size == (4, 4) and m.stride == (2, 2) for m in convs)
    assert vae.fc_mu.in_features == vae.fc_logvar.in_features == 256 * 4 * 4
    ups = [m for m in vae.decoder if isinstance(m, torch.nn.ConvTranspose2d)]
    back = widths[::-1]
    assert [(m.in_channels, m.out_channels) for m in ups] == list(zip(back, back[1:]))


def test_loss_is_recon_plus_beta_kl_summed_per_image_and_batch_averaged():
    vae = _vae(beta=2.5)
    x = torch.rand(4, 1, 16, 16)
    recon, mu, logvar = vae(x)
    out = vae.compute_loss(x, recon, mu, logvar)
    assert set(out) == {"loss", "recon_loss", "kl_loss"}
    expected_recon = F.binary_cross_entropy(recon, x, reduction="none").sum((1, 2, 3)).mean()
    expected_kl = (-0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(1)).mean()
    assert torch.allclose(out["recon_loss"], expected_recon)
    assert torch.allclose(out["kl_loss"], expected_kl)
    assert torch.allclose(out["loss"], expected_recon + 2.5 * expected_kl)
    assert out["loss"].requires_grad

    vae.apply_runtime_overrides(reconstruction="mse")
    mse = vae.compute_loss(x, recon, mu, logvar)["recon_loss"]
    assert torch.allclose(mse, ((recon - x) ** 2).sum((1, 2, 3)).mean())


def test_trainer_form_matches_explicit_form():
    vae = _vae()
    x = torch.rand(3, 1, 16, 16)
    torch.manual_seed(1)
    from_batch = vae.compute_loss([x, torch.zeros(3)])
    torch.manual_seed(1)
    explicit = vae.compute_loss(x, *vae(x))
    for key in ("loss", "recon_loss", "kl_loss"):
        assert torch.allclose(from_batch[key], explicit[key], rtol=1e-5), key


def test_beta_weights_the_kl_term():
    vae, beta = _vae(), _vae("beta-vae")
    beta.load_state_dict(vae.state_dict())
    x = torch.rand(2, 1, 16, 16)
    torch.manual_seed(0)
    a = vae.compute_loss(x)
    torch.manual_seed(0)
    b = beta.compute_loss(x)
    assert torch.allclose(b["loss"] - a["loss"], 3.0 * a["kl_loss"], rtol=1e-4)


def test_sampling_and_reconstruction():
    vae = _vae()
    assert vae.sample_range == (0.0, 1.0)
    samples = draw_samples(vae, 5, batch_size=2)
    assert samples.shape == (5, 1, 16, 16)
    assert samples.min() >= 0 and samples.max() <= 1
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(vae.sample(2, generator=g1), vae.sample(2, generator=g2))
    x = torch.rand(2, 1, 16, 16)
    assert torch.equal(vae.reconstruct(x), vae.reconstruct(x))
    mu, _ = vae.encode(x)
    assert torch.equal(vae.reconstruct(x), vae.decode(mu))


def test_bad_inputs_name_expected_and_given_shapes():
    vae = _vae()
    with pytest.raises(ConfigError, match=r"\(B, 1, 16, 16\), got \(2, 3, 16, 16\)"):
        vae(torch.rand(2, 3, 16, 16))
    with pytest.raises(ConfigError, match=r"\(B, 1, 16, 16\), got \(2, 1, 28, 28\)"):
        vae.compute_loss(torch.rand(2, 1, 28, 28))
    with pytest.raises(ConfigError, match=r"latent of shape \(B, 8\), got \(2, 9\)"):
        vae.decode(torch.randn(2, 9))
    with pytest.raises(ConfigError, match=r"mu of shape \(2, 8\), got \(2, 5\)"):
        x = torch.rand(2, 1, 16, 16)
        recon, _, logvar = vae(x)
        vae.compute_loss(x, recon, torch.zeros(2, 5), logvar)


def test_data_in_the_wrong_range_is_a_data_error():
    vae = _vae()
    with pytest.raises(DataError, match=r"expected images in \[0, 1\].*got values in \[-1"):
        vae.compute_loss(torch.rand(2, 1, 16, 16) * 2 - 1)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"latent": 10}, r"unknown key 'latent'"),
        ({"hidden_channels": []}, r"hidden_channels: "),
        ({"hidden_channels": [8, 0]}, r"positive widths"),
        ({"beta": -1}, r"beta: got -1"),
        ({"reconstruction": "l1"}, r"reconstruction: got 'l1'"),
    ],
)
def test_bad_configs_are_config_errors(section, message):
    with pytest.raises(ConfigError, match=message):
        core.build("model", {"type": "vae", **section})


def test_runtime_and_structural_parameters():
    vae = _vae()
    assert vae.apply_runtime_overrides(beta=0.5) == {"beta": 0.5}
    with pytest.raises(ConfigError, match="structural"):
        vae.apply_runtime_overrides(latent_dim=4)


def test_a_few_optimizer_steps_lower_the_loss():
    from sklearn.datasets import load_digits

    images = torch.tensor(load_digits().images[:64], dtype=torch.float32) / 16.0
    x = F.interpolate(images[:, None], size=16, mode="bilinear", align_corners=False)
    vae = _vae(hidden_channels=[16, 32], latent_dim=8)
    opt = torch.optim.Adam(vae.parameters(), lr=3e-3)
    torch.manual_seed(0)
    first = float(vae.compute_loss(x)["loss"].detach())
    for _ in range(60):
        loss = vae.compute_loss(x)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    vae.eval()
    last = vae.compute_loss(x, *vae(x))
    assert float(last["loss"].detach()) < 0.6 * first
    assert float(last["kl_loss"]) > 0  # the latent carries information


def test_trains_through_the_core_trainer(tmp_path):
    training = pytest.importorskip("core.training")
    config = {
        "model": {"type": "vae", **TINY},
        "data": {"type": "digits", "image_size": 16, "channels": 1, "value_range": [0, 1]},
        "train": {"steps": 3, "batch_size": 8, "log_every": 1, "lr": 1e-3},
        "sample": {"n": 4},
    }
    trainer = training.Trainer(config, run_dir=tmp_path / "run", quiet=True)
    trainer.fit()
    assert {"loss", "recon_loss", "kl_loss"} <= set(trainer.history[-1])
    assert (tmp_path / "run" / "samples.png").is_file()
    loaded = core.BaseModel.from_pretrained(tmp_path / "run" / "final")
    assert loaded.sample(2).shape == (2, 1, 16, 16)


def test_trainer_with_data_in_minus_one_to_one_is_a_data_error(tmp_path):
    training = pytest.importorskip("core.training")
    config = {
        "model": {"type": "vae", **TINY},
        "data": {"type": "digits", "image_size": 16, "channels": 1, "value_range": [-1, 1]},
        "train": {"steps": 1, "batch_size": 8},
    }
    with pytest.raises(DataError, match=r"value_range: \[0, 1\]"):
        training.Trainer(config, run_dir=tmp_path / "run", quiet=True).fit()
