"""draw_samples: chunked sampling passes each chunk its own slice of per-sample inputs."""

from __future__ import annotations

import torch

from core.sampling import draw_samples


class LabelEcho(torch.nn.Module):
    """Samples are the requested labels, so the output shows which labels each chunk got."""

    def sample(self, n, y=None, scale=1.0):
        assert y is not None and y.shape == (n,), f"y must have shape ({n},), got {tuple(y.shape)}"
        return y.float().view(n, 1) * scale


def test_labels_are_sliced_per_chunk():
    labels = torch.arange(300) % 10
    out = draw_samples(LabelEcho(), 300, batch_size=128, y=labels, scale=2.0)
    assert out.shape == (300, 1)
    assert torch.equal(out.view(-1), labels.float() * 2.0)


def test_no_sample_method_is_a_training_error():
    import pytest

    from core.errors import TrainingError

    with pytest.raises(TrainingError, match="has no sample"):
        draw_samples(torch.nn.Linear(1, 1), 4)


def test_core_training_still_exports_draw_samples():
    import core.sampling
    import core.training

    assert "draw_samples" in core.training.__all__
    assert core.training.draw_samples is core.sampling.draw_samples
