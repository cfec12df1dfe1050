"""Small networks trained on integer inputs, for the hardware export tests."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch


def _train_on_integers(
    node: str = "dwn",
    encoder: str = "thermometer",
    n: int = 6,
    bits: int = 6,
    scale: float = 63.0,
    layer_type="random",
    widths=(48, 30),
    features: int = 10,
    dataset: str | None = None,
):
    """(model in eval mode, integer inputs q (400, features)); the model sees q / scale."""
    from core_difflut import ModelConfig, build_model
    from core_difflut.export.integer_inputs import IntegerInputs

    torch.manual_seed(0)
    fmt = IntegerInputs(bits=bits, scale=scale)
    q = np.random.default_rng(0).integers(0, 1 << bits, size=(400, features))
    x = torch.from_numpy(fmt.features(q))
    y = (x[:, 0] > 0.5).long() + (x[:, 1] > 0.3).long()
    config = ModelConfig(
        node_type=node,
        node_input_dim=n,
        layer_type=layer_type,
        layer_widths=list(widths),
        input_size=features,
        num_classes=3,
        dataset=dataset,
        encoder_config={"name": encoder, "num_bits": 3},
    )
    model = build_model(config)
    fit(model, x, y)
    return model, q


def fit(model, x: torch.Tensor, y: torch.Tensor, steps: int = 8, lr: float = 0.02) -> list[float]:
    """Fit the encoder on x, then ``steps`` Adam steps on (x, y); the losses (model left in eval)."""
    model.fit_encoder(x)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = []
    for _ in range(steps):
        loss = model.compute_loss((x, y))["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    model.eval()
    return losses


def exports_agree(model, x: torch.Tensor, folder: Path) -> Any:
    """The numpy and C exports (in ``folder``) predict x as the model does; the C network.

    The model must predict more than one class; the C half is skipped without gcc.
    """
    from core_difflut.export import export_model
    from core_difflut.export.c import CNetwork
    from core_difflut.export.numpy_eval import load as load_numpy

    expected = model.predict(x).numpy()
    assert len(np.unique(expected)) > 1  # a network that predicts more than one class
    export_model(model, folder / "np", "numpy")
    assert np.array_equal(load_numpy(str(folder / "np" / "model.npz")).predict(x.numpy()), expected)
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed: C export not compiled")
    export_model(model, folder / "c", "c", build=True)
    net = CNetwork(folder / "c")
    assert np.array_equal(net.predict(x.numpy()), expected)
    return net


@pytest.fixture
def integer_model():
    """``integer_model(node=..., encoder=..., ...)`` -> (model, q)."""
    return _train_on_integers
