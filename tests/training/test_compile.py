"""train.compile: the model's networks run through torch.compile; weights and files unchanged."""

from __future__ import annotations

from core.training import Trainer
from core.weights import read_weights

from .conftest import tiny_run

TRAIN = dict(steps=4, batch_size=16, lr=0.01, log_every=1)


def test_compiled_training_matches_eager(tiny, tmp_path):
    eager = Trainer(tiny_run(size=32, **TRAIN), run_dir=tmp_path / "eager", quiet=True)
    eager.fit()
    compiled = Trainer(
        tiny_run(size=32, compile=True, **TRAIN), run_dir=tmp_path / "compiled", quiet=True
    )
    compiled.fit()
    net = compiled.parts.model.net
    assert net._compiled_call_impl is not None, "the network was not compiled"
    a = read_weights(tmp_path / "eager/final/tiny-denoiser.safetensors")
    b = read_weights(tmp_path / "compiled/final/tiny-denoiser.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        assert (a[key] - b[key]).abs().max() < 1e-4, key
