"""core.batches.check_images and check_labels: the checks the image models share (dcgan, vae,
beta-vae)."""

from __future__ import annotations

import pytest
import torch

import core
from core.batches import check_images, check_labels
from core.errors import ConfigError


def test_a_batch_of_the_right_shape_passes_through():
    x = torch.zeros(2, 1, 8, 8)
    assert check_images(x, (1, 8, 8), "m") is x


@pytest.mark.parametrize(
    ("x", "message"),
    [
        ([0.0], r"^m: images must be a tensor, got list$"),
        (
            torch.zeros(2, 3, 8, 8),
            r"^m: expected images of shape \(B, 1, 8, 8\), got \(2, 3, 8, 8\) "
            r"\(the model was built with channels=1, image_size=8\)$",
        ),
        (torch.zeros(1, 8, 8), r"got \(1, 8, 8\)"),
    ],
)
def test_anything_else_is_one_config_error_naming_the_model(x, message):
    with pytest.raises(ConfigError, match=message):
        check_images(x, (1, 8, 8), "m")


@pytest.mark.parametrize("name", ["dcgan", "vae"])
def test_the_gan_and_the_vae_refuse_images_of_another_shape(name):
    pytest.importorskip(f"core_{'gan' if name == 'dcgan' else 'vae'}")
    tiny = {"image_size": 16, "channels": 1, "latent_dim": 8}
    model = core.build("model", {"type": name, **tiny})
    with pytest.raises(ConfigError, match=rf"^{name}: expected images of shape \(B, 1, 16, 16\)"):
        check = model.discriminator_logits if name == "dcgan" else model.compute_loss
        check(torch.zeros(2, 3, 16, 16))


def test_check_labels_refuses_each_problem_in_one_line():
    assert check_labels(None, 3, 0, "m") is None
    assert check_labels([0, 2, 1], 3, 3, "m").dtype == torch.long
    for y, classes, message in (
        (None, 3, "class labels y are required \\(num_classes=3\\)"),
        ([0, 1], 0, "the model is unconditional"),
        ([0.0, 1.0], 3, "expected integer labels y of shape \\(2,\\)"),
        ([0, 1, 2], 3, "expected integer labels y of shape \\(2,\\)"),
        ([0, 3], 3, "m: labels must be classes 0 to 2, got 0 to 3"),
    ):
        with pytest.raises(ConfigError, match=message):
            check_labels(y, 2, classes, "m")
