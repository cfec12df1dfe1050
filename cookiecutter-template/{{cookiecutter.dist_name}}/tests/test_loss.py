"""The example loss."""

from __future__ import annotations

import pytest
import torch
from core import ConfigError, build
from core.testing import check_component

NAME = "{{ cookiecutter.__name }}-elbo"


def test_conformance() -> None:
    check_component("loss", NAME, {"beta": 0.5})


def test_parts_add_up() -> None:
    torch.manual_seed(0)
    loss = build("loss", {"type": NAME, "beta": 0.5})
    logits, target = torch.randn(4, 1, 8, 8), torch.rand(4, 1, 8, 8)
    mu, logvar = torch.randn(4, 3), torch.randn(4, 3)
    out = loss(logits, target, mu, logvar)
    assert torch.allclose(out["loss"], out["recon"] + 0.5 * out["kl"])
    zero_kl = loss(logits, target, torch.zeros(4, 3), torch.zeros(4, 3))["kl"]
    assert float(zero_kl) == pytest.approx(0.0, abs=1e-6)


def test_mismatched_shapes() -> None:
    loss = build("loss", {"type": NAME})
    with pytest.raises(ConfigError, match="same shape"):
        loss(torch.zeros(2, 1, 8, 8), torch.zeros(2, 1, 4, 4), torch.zeros(2, 3), torch.zeros(2, 3))
