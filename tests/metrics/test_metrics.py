"""FID, KID and sliced Wasserstein maths; the classifier-based metrics and the shipped weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.building import build
from core.errors import ConfigError
from core.metrics.fid import frechet_distance, kid_score
from core.metrics.sliced import sliced_wasserstein


def test_fid_of_gaussians_matches_closed_form():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((20000, 3))
    b = rng.standard_normal((20000, 3)) * 2.0 + 1.0
    # |mu|^2 = 3; Tr(S_a + S_b - 2 sqrt(S_a S_b)) = 3 * (1 + 4 - 4) = 3
    assert frechet_distance(a, b) == pytest.approx(6.0, rel=0.05)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


def test_fid_non_commuting_covariances_against_scipy():
    scipy_linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(1)
    a = rng.standard_normal((500, 4)) @ rng.standard_normal((4, 4))
    b = rng.standard_normal((500, 4)) @ rng.standard_normal((4, 4)) + 0.5
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy_linalg.sqrtm(ca @ cb).real
    expected = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(ca + cb - 2 * covmean)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)


def test_fid_shape_errors():
    with pytest.raises(ConfigError, match="equal D"):
        frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))


def test_kid_unbiased_near_zero_for_same_distribution():
    rng = np.random.default_rng(0)
    same = kid_score(rng.standard_normal((400, 8)), rng.standard_normal((400, 8)), 100, 20)[0]
    shifted = kid_score(rng.standard_normal((400, 8)), rng.standard_normal((400, 8)) + 1, 100, 20)[
        0
    ]
    assert abs(same) < 0.05 < shifted


def test_sliced_wasserstein():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2000, 2))
    assert sliced_wasserstein(a, a) == 0.0
    # a shift by t along x: mean over directions of |t cos(theta)| = 2 t / pi
    assert sliced_wasserstein(a, a + [1.0, 0.0], projections=2000) == pytest.approx(
        2 / np.pi, rel=0.05
    )
    assert sliced_wasserstein(a, rng.standard_normal((500, 2))) < 0.1


def test_registered_metrics_build(core_manager):
    swd = build("metric", {"type": "sliced-wasserstein", "projections": 16})
    pts = torch.randn(100, 2)
    assert swd(pts, pts) == {"sliced_wasserstein": 0.0}
    with pytest.raises(ConfigError, match="projections"):
        build("metric", {"type": "sliced-wasserstein", "projections": 0})


def test_feature_fid_and_kid_with_any_classifier(random_classifier):
    fid = build("metric", {"type": "feature-fid", "classifier": random_classifier})
    kid = build("metric", {"type": "kid", "classifier": random_classifier, "subset_size": 20})
    digits = build("dataset", {"type": "digits", "split": "test"}).images
    noise = torch.rand(200, 1, 32, 32) * 2 - 1  # other size: resized to the classifier's
    same = fid(digits[:150], digits[150:])["feature_fid"]
    far = fid(noise, digits)["feature_fid"]
    assert same < far
    k = kid(noise, digits)
    assert k["kid"] > 0 and k["kid_std"] >= 0
    # [0, 1] inputs give the same features as the same images in [-1, 1]
    unit = fid(digits[:150] * 0.5 + 0.5, digits[150:] * 0.5 + 0.5, value_range=(0.0, 1.0))
    assert unit["feature_fid"] == pytest.approx(same, rel=1e-5)


def test_accuracy_needs_labels(random_classifier):
    acc = build("metric", {"type": "accuracy", "classifier": random_classifier})
    with pytest.raises(ConfigError, match="labels"):
        acc(torch.zeros(2, 1, 8, 8))
    value = acc(torch.zeros(4, 1, 8, 8), labels=torch.tensor([0, 1, 2, 3]))["accuracy"]
    assert 0.0 <= value <= 1.0


def test_classifier_conformance_and_shape_error(core_manager):
    from core.testing import check_component

    report = check_component(
        "model", "digit-classifier", {"width": 4, "feature_dim": 8, "image_size": 12}
    )
    with pytest.raises(ConfigError, match=r"expected input \(N, 1, 12, 12\)"):
        report.component(torch.zeros(2, 1, 28, 28))


def test_shipped_classifier_is_accurate(core_manager):
    from core.pretrained import resolve_pretrained

    info = resolve_pretrained("digit-classifier")
    if not (info.path / "digit-classifier.safetensors").is_file():
        pytest.fail(
            "core/metrics/weights/digit-classifier is missing: run scripts/train_digit_classifier.py"
        )
    from core.metrics.fid import load_classifier

    model = load_classifier("digit-classifier")
    for name, minimum in (("digits", 0.9), ("mnist-5k", 0.9)):
        test = build("dataset", {"type": name, "split": "test"})
        accuracy = (model.predict(test.images) == test.labels).float().mean()
        assert accuracy >= minimum, name
