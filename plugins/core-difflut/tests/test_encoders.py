"""Encoders: thresholds, codes, errors, save/load and the conformance kit."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from core_difflut.encoders import ENCODER_CLASSES, build_encoder

from core import ConfigError, DataError
from core.testing import check_component

NAMES = list(ENCODER_CLASSES)


@pytest.mark.parametrize("name", NAMES)
def test_conformance(name: str) -> None:
    report = check_component("encoder", name, {"num_bits": 3, "num_features": 4})
    assert "save-load" in report.checks


@pytest.mark.parametrize("name", NAMES)
def test_shapes_and_binary_output(name: str) -> None:
    x = torch.randn(50, 5)
    enc = build_encoder(name, num_bits=3).fit(x)
    bits = enc(x)
    assert bits.shape == (50, 15)
    assert set(bits.unique().tolist()) <= {0.0, 1.0}
    enc3 = build_encoder(name, num_bits=3, flatten=False).fit(x)
    assert enc3(x).shape == (50, 5, 3)
    assert torch.equal(enc3(x).reshape(50, -1), bits)


@pytest.mark.parametrize("name", NAMES)
def test_unfitted_encoder_refuses(name: str) -> None:
    enc = build_encoder(name, num_bits=3)
    with pytest.raises(ConfigError, match="not fitted"):
        enc(torch.randn(2, 4))


def test_thermometer_thresholds_are_evenly_spaced() -> None:
    x = torch.tensor([[0.0, 10.0], [4.0, 20.0]])
    enc = build_encoder("thermometer", num_bits=3).fit(x)
    assert torch.allclose(enc.thresholds[0], torch.tensor([1.0, 2.0, 3.0]))
    assert torch.allclose(enc.thresholds[1], torch.tensor([12.5, 15.0, 17.5]))
    bits = enc(torch.tensor([[2.5, 11.0]]))
    assert bits.tolist() == [[1.0, 1.0, 0.0, 0.0, 0.0, 0.0]]


def test_gaussian_and_distributive_thresholds() -> None:
    torch.manual_seed(0)
    x = torch.randn(20000, 1) * 2 + 3
    g = build_encoder("gaussian-thermometer", num_bits=3).fit(x)
    # mean + std * Phi^-1(i/4): 3 + 2 * (-0.674, 0, 0.674)
    assert torch.allclose(g.thresholds[0], torch.tensor([1.651, 3.0, 4.349]), atol=0.05)
    d = build_encoder("distributive-thermometer", num_bits=3).fit(x)
    expected = np.quantile(x.numpy()[:, 0], [0.25, 0.5, 0.75])
    assert np.allclose(d.thresholds[0].numpy(), expected, atol=1e-5)
    # quantile thresholds split the data into equal parts
    counts = d(x).sum(0) / len(x)
    assert torch.allclose(counts, torch.tensor([0.75, 0.5, 0.25]), atol=0.01)


def test_gray_neighbours_differ_in_one_bit_and_binary_counts() -> None:
    x = torch.linspace(0, 1, 1001).unsqueeze(1)
    gray = build_encoder("gray", num_bits=4).fit(x)
    codes = gray(x)
    changes = (codes[1:] != codes[:-1]).sum(1)
    assert changes.max() == 1 and changes.sum() == 15  # 16 levels, 15 steps
    binary = build_encoder("binary", num_bits=4).fit(x)
    values = (binary(x) * (2 ** torch.arange(4))).sum(1)
    assert values[0] == 0 and values[-1] == 15 and (values[1:] >= values[:-1]).all()


def test_onehot_and_sign_magnitude() -> None:
    x = torch.linspace(-1, 1, 101).unsqueeze(1)
    onehot = build_encoder("onehot", num_bits=4).fit(x)
    assert (onehot(x).sum(1) == 1).all()
    sm = build_encoder("sign-magnitude", num_bits=3).fit(x)
    bits = sm(torch.tensor([[-1.0], [-0.6], [0.0], [0.3], [0.8]]))
    sign = bits[:, 0]
    magnitude = bits[:, 1] + 2 * bits[:, 2]
    assert sign.tolist() == [1, 1, 0, 0, 0]
    assert magnitude.tolist() == [3, 2, 0, 1, 3]


def test_logarithmic_is_denser_near_minimum() -> None:
    x = torch.tensor([[0.0], [15.0]])
    enc = build_encoder("logarithmic", num_bits=3).fit(x)
    assert torch.allclose(enc.thresholds[0], torch.tensor([1.0, 3.0, 7.0]))


def test_shared_thresholds_and_errors() -> None:
    x = torch.stack([torch.arange(10.0), torch.arange(10.0) + 100], 1)
    enc = build_encoder("thermometer", num_bits=2, feature_wise=False).fit(x)
    assert torch.equal(enc.thresholds[0], enc.thresholds[1])
    with pytest.raises(ConfigError, match=r"expected \(batch, 2\)"):
        enc(torch.randn(3, 5))
    with pytest.raises(DataError, match="expected 3 features"):
        build_encoder("thermometer", num_features=3).fit(torch.randn(4, 2))
    with pytest.raises(DataError, match="NaN"):
        build_encoder("thermometer").fit(torch.tensor([[float("nan")]]))


def test_load_weights_into_fresh_encoder(tmp_path) -> None:
    x = torch.randn(30, 6)
    enc = build_encoder("distributive-thermometer", num_bits=4).fit(x)
    enc.save_pretrained(tmp_path / "enc")
    loaded = type(enc).from_pretrained(tmp_path / "enc")
    assert loaded.is_fitted
    assert torch.equal(loaded(x), enc(x))
