"""The VAE recipe options: free bits, the calibrated Gaussian decoder, sampling temperature,
class conditioning."""

from __future__ import annotations

import math

import pytest
import torch

import core
from core.errors import ConfigError, DataError
from core.sampling import draw_samples

TINY = {"image_size": 16, "channels": 1, "latent_dim": 4, "hidden_channels": [8, 16]}


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Tiny models run fastest on one thread (core.testing's fixture)."""


def _vae(**overrides):
    torch.manual_seed(0)
    return core.build("model", {"type": "vae", **TINY, **overrides})


def test_free_bits_floor_each_dimension_but_report_the_true_kl():
    vae = _vae(free_bits=2.0, reconstruction="mse")
    x = torch.rand(6, 1, 16, 16)
    recon, mu, logvar = vae(x)
    mu, logvar = torch.zeros_like(mu), torch.zeros_like(logvar)  # KL 0 in every dimension
    out = vae.compute_loss(x, recon, mu, logvar)
    assert out["kl_loss"] == 0
    expected = out["recon_loss"] + 2.0 * TINY["latent_dim"]  # beta 1, 4 dimensions at 2 nats
    assert torch.allclose(out["loss"], expected)
    plain = _vae(reconstruction="mse").compute_loss(x, recon, mu, logvar)
    assert torch.allclose(plain["loss"], out["recon_loss"])


def test_gaussian_reconstruction_is_the_nll_at_the_batch_mean_squared_error():
    vae = _vae(reconstruction="gaussian")
    x = torch.rand(3, 1, 16, 16)
    recon = torch.full_like(x, 0.5)
    mu = logvar = torch.zeros(3, 4)
    got = vae.compute_loss(x, recon, mu, logvar)["recon_loss"]
    mse = (recon - x).pow(2).mean()
    pixels = 256
    expected = 0.5 * pixels * (math.log(mse) + 1 + math.log(2 * math.pi))
    assert math.isclose(float(got), expected, rel_tol=1e-5)


def test_sample_temperature_defaults_to_the_config():
    vae = _vae(sample_temperature=0.0001).eval()
    gen = torch.Generator().manual_seed(0)
    cold = vae.sample(2, generator=gen)
    assert torch.allclose(cold[0], cold[1], atol=1e-3)  # z near 0 for both
    warm = vae.sample(2, generator=torch.Generator().manual_seed(0), temperature=1.0)
    assert not torch.allclose(warm[0], warm[1], atol=1e-3)
    with pytest.raises(ConfigError, match="sample_temperature"):
        _vae(sample_temperature=0)


def test_conditional_vae_encodes_decodes_and_samples_by_class():
    vae = _vae(num_classes=3)
    x, y = torch.rand(4, 1, 16, 16), torch.tensor([0, 1, 2, 0])
    recon, mu, logvar = vae(x, y)
    assert recon.shape == x.shape and mu.shape == (4, 4)
    z = torch.zeros(2, 4)
    assert not torch.allclose(
        vae.decode(z, torch.tensor([0, 0])), vae.decode(z, torch.tensor([1, 1]))
    )
    assert vae.compute_loss((x, y))["loss"].isfinite()
    with pytest.raises(DataError, match="labelled batches"):
        vae.compute_loss(x)
    with pytest.raises(ConfigError, match="labels must be classes 0 to 2"):
        vae.decode(z, torch.tensor([0, 5]))
    assert draw_samples(vae, 3, y=torch.tensor([2, 2, 2])).shape == (3, 1, 16, 16)
    assert draw_samples(vae, 3).shape == (3, 1, 16, 16)  # classes at random
    assert vae.reconstruct(x, y).shape == x.shape


def test_unconditional_vae_refuses_labels():
    vae = _vae()
    with pytest.raises(ConfigError, match="unconditional"):
        vae.decode(torch.zeros(1, 4), torch.tensor([0]))
    assert vae.compute_loss((torch.rand(2, 1, 16, 16), torch.tensor([0, 1])))["loss"].isfinite()
