"""``precision-recall``: improved precision and recall (k-NN manifolds) on known geometry,
and as a registered metric on classifier features."""

from __future__ import annotations

import pytest
import torch

from core.building import build
from core.errors import ConfigError
from core.metrics import precision_recall
from core.metrics.precision_recall import knn_radii


def _points(n: int, seed: int, dim: int = 8) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed))


def test_samples_equal_to_the_reals_score_one_and_one():
    real = _points(300, 0)
    assert precision_recall(real, real) == (1.0, 1.0)
    assert precision_recall(real[torch.randperm(300)], real, k=5) == (1.0, 1.0)


def test_samples_collapsed_to_one_point_are_precise_but_cover_nothing():
    real = _points(300, 0)
    precision, recall = precision_recall(real[:1].repeat(200, 1), real)
    assert precision == 1.0
    assert recall == pytest.approx(1 / 300)  # only the real point they sit on


def test_samples_far_away_score_zero_and_zero():
    real = _points(300, 0)
    assert precision_recall(real + 100.0, real) == (0.0, 0.0)


def test_half_the_modes_keeps_precision_and_halves_recall():
    centres = torch.tensor([[10.0, 0.0], [-10.0, 0.0]])
    real = torch.cat([centres[0] + _points(200, 1, 2) * 0.5, centres[1] + _points(200, 2, 2) * 0.5])
    generated = centres[0] + _points(200, 3, 2) * 0.5
    precision, recall = precision_recall(generated, real)
    assert precision > 0.9
    assert 0.4 < recall <= 0.5


def test_order_of_samples_and_chunking_do_not_change_the_result():
    real, generated = _points(257, 0), _points(190, 1)
    whole = precision_recall(generated, real, chunk_size=10_000)
    assert 0.0 < whole[0] < 1.0 and 0.0 < whole[1] < 1.0
    shuffled = generated[torch.randperm(190, generator=torch.Generator().manual_seed(4))]
    assert precision_recall(shuffled, real) == whole
    for chunk in (1, 7, 64):
        assert precision_recall(generated, real, chunk_size=chunk) == whole


def test_radii_are_the_kth_other_neighbour():
    points = torch.tensor([[0.0], [1.0], [3.0], [6.0]])
    assert knn_radii(points, k=1).tolist() == [1.0, 1.0, 2.0, 3.0]
    assert knn_radii(points, k=3, chunk_size=1).tolist() == [6.0, 5.0, 3.0, 6.0]


def test_too_few_points_or_mismatched_features_are_refused():
    with pytest.raises(ConfigError, match="k=3 needs more than 3 points, got 3"):
        precision_recall(_points(10, 0), _points(3, 1))
    with pytest.raises(ConfigError, match="feature sizes differ, 8 and 4"):
        precision_recall(_points(10, 0), _points(10, 1, 4))
    with pytest.raises(ConfigError, match="k"):
        build("metric", {"type": "precision-recall", "k": 0})


def test_the_metric_on_classifier_features(random_classifier):
    metric = build("metric", {"type": "precision-recall", "classifier": random_classifier})
    assert metric.key == "precision" and metric.keys == ("precision", "recall")
    digits = build("dataset", {"type": "digits", "split": "test"}).images
    assert metric(digits[:200], digits[:200]) == {"precision": 1.0, "recall": 1.0}
    blank = -torch.ones(50, 1, 16, 16)  # one image repeated: its features are one point
    collapsed = metric(blank, digits[:200])
    assert collapsed["recall"] <= 0.01
    real = metric(digits[:150], digits[150:])
    assert real["recall"] > 0.5 and real["precision"] > 0.5
