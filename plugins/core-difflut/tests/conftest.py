"""Small networks trained on integer inputs, for the hardware export tests."""

from __future__ import annotations

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
    model.fit_encoder(x)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    model.train()
    for _ in range(8):
        loss = model.compute_loss((x, y))["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval(), q


@pytest.fixture
def integer_model():
    """``integer_model(node=..., encoder=..., ...)`` -> (model, q)."""
    return _train_on_integers
