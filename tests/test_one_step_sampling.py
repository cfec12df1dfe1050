"""dcgan and vae sample in one batch; chunks, eval mode and seeds are core.sampling's."""

from __future__ import annotations

import pytest
import torch

import core
from core.sampling import draw_samples

MODELS = {
    "dcgan": {"latent_dim": 4, "image_size": 16, "channels": 1, "ngf": 4, "ndf": 4},
    "vae": {"latent_dim": 3, "image_size": 16, "channels": 1, "hidden_channels": [4, 8]},
}


@pytest.fixture(params=sorted(MODELS))
def model(request):
    torch.manual_seed(0)
    return core.build("model", {"type": request.param, **MODELS[request.param]})


def test_draw_samples_chunks_one_batch_samples(model):
    model.train()
    chunked = draw_samples(model, 5, batch_size=2, seed=3)
    assert chunked.shape == (5, 1, 16, 16) and model.training
    assert torch.equal(chunked, draw_samples(model, 5, batch_size=2, seed=3))
    assert model.sample(0).shape == (0, 1, 16, 16)


@pytest.mark.parametrize(
    ("options", "match"),
    [({"guidance_interval": 2}, "unsupported option.*guidance_interval"), ({"n": -1}, "n = -1")],
)
def test_bad_options_are_config_errors(model, options, match):
    options = dict(options)
    n = options.pop("n", 2)
    with pytest.raises(core.ConfigError, match=match):
        model.sample(n, **options)
    model.sample(2, sampler="ddim", steps=3, cond=None)  # one step: ignored; None is no option
