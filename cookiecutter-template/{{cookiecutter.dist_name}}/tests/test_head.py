"""The example head."""

from __future__ import annotations

import pytest
import torch
from core import ConfigError, build
from core.testing import check_component

NAME = "{{ cookiecutter.__name }}-head"


def test_conformance() -> None:
    check_component("head", NAME, {"in_channels": 4, "out_channels": 1})


def test_output_range() -> None:
    head = build("head", {"type": NAME, "in_channels": 4, "out_channels": 3, "activation": "tanh"})
    with torch.no_grad():
        out = head(torch.randn(2, 4, 5, 5) * 10)
    assert out.shape == (2, 3, 5, 5)
    assert float(out.abs().max()) <= 1.0


def test_wrong_channels() -> None:
    head = build("head", {"type": NAME, "in_channels": 4})
    with pytest.raises(ConfigError, match=r"expected features of shape \(batch, 4"):
        head(torch.randn(2, 3, 5, 5))
