"""``Autoencoder.decode`` takes a latent tensor or what ``encode`` returns."""

from __future__ import annotations

import pytest
import torch

import core
from core.errors import ConfigError


def _model(ae_config: dict, variational: bool) -> torch.nn.Module:
    torch.manual_seed(0)
    ae_config["encoder"]["variational"] = variational
    return core.build("model", ae_config).eval()


@pytest.mark.parametrize("variational", [False, True])
def test_decode_of_encode_equals_decode_of_its_latent(ae_config: dict, variational: bool) -> None:
    model = _model(ae_config, variational)
    x = torch.randn(2, 1, 16, 16)
    with torch.no_grad():
        encoded = model.encode(x)
        decoded = model.decode(encoded)
        expected = model.decode(encoded["latent"])
    assert set(decoded) == {"rgb", "seg", "cls"}
    assert all(torch.equal(decoded[k], expected[k]) for k in expected)


def test_a_variational_encoding_decodes_its_mean(ae_config: dict) -> None:
    model = _model(ae_config, variational=True)
    with torch.no_grad():
        raw = dict(model.encoder(torch.randn(2, 1, 16, 16)))  # {"mu", "logvar"}: no latent
        assert set(raw) == {"mu", "logvar"}
        decoded, expected = model.decode(raw), model.decode(raw["mu"])
        sampled = model.encode(torch.randn(2, 1, 16, 16), sample=True)
        from_sample, from_mu = model.decode(sampled), model.decode(sampled["mu"])
    assert torch.equal(decoded["rgb"], expected["rgb"])
    assert not torch.equal(from_sample["rgb"], from_mu["rgb"])  # latent wins over mu


def test_a_dict_without_latent_or_mu_is_a_clear_error(ae_config: dict) -> None:
    model = _model(ae_config, variational=False)
    with pytest.raises(ConfigError, match=r"needs 'latent' or 'mu'.*its keys: z, logvar"):
        model.decode({"z": torch.randn(2, 4, 4, 4), "logvar": torch.zeros(2, 4, 4, 4)})
    with pytest.raises(ConfigError, match="its keys: none"):
        model.decode({})
