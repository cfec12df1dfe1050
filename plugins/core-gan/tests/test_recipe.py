"""The DCGAN recipe options: DiffAugment, hinge loss, R1, class conditioning."""

from __future__ import annotations

import pytest
import torch
from core_gan.augment import AUGMENTATIONS, diff_augment

import core
from core.errors import ConfigError, DataError
from core.sampling import draw_samples

TINY = {"image_size": 16, "channels": 1, "ngf": 8, "ndf": 8, "latent_dim": 12}


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Tiny models run fastest on one thread (core.testing's fixture)."""


def _gan(**overrides):
    torch.manual_seed(0)
    return core.build("model", {"type": "dcgan", **TINY, **overrides})


def test_translation_shifts_whole_pixels_and_fills_zeros():
    torch.manual_seed(1)
    x = torch.rand(64, 1, 16, 16) + 1.0  # never 0, so a zero is a filled pixel
    out = diff_augment(x, ["translation"])
    for image, shifted in zip(x, out):
        found = False
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                rolled = torch.zeros_like(image)
                src = image[:, max(0, -dy) : 16 - max(0, dy), max(0, -dx) : 16 - max(0, dx)]
                rolled[:, max(0, dy) : 16 - max(0, -dy), max(0, dx) : 16 - max(0, -dx)] = src
                found |= torch.equal(rolled, shifted)
        assert found, "each image is its original shifted by at most 1/8 of the side"


def test_cutout_zeroes_one_square_of_half_the_side_at_most():
    torch.manual_seed(2)
    x = torch.ones(32, 1, 16, 16)
    out = diff_augment(x, ["cutout"])
    zeros = (out == 0).flatten(1).sum(1)
    assert zeros.max() == 64 and zeros.min() > 0  # 8 x 8, clipped at the borders


def test_every_transform_is_differentiable_and_per_image():
    x = torch.rand(8, 1, 16, 16, requires_grad=True)
    out = diff_augment(x, list(AUGMENTATIONS))
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    same = diff_augment(x.detach()[:1].expand(8, -1, -1, -1).contiguous(), ["color"])
    assert not torch.allclose(same[0], same[1])


def test_unknown_augmentation_is_refused_by_the_config():
    with pytest.raises(ConfigError, match="augment"):
        _gan(augment=["flip"])


@pytest.mark.parametrize("loss", ["non-saturating", "hinge"])
def test_hinge_and_r1_losses(loss):
    gan = _gan(loss=loss, r1_gamma=1.0, augment=["translation"])
    real = torch.rand(4, 1, 16, 16) * 2 - 1
    fake = gan(gan.sample_z(4))
    out = gan.gan_losses(real, fake)
    assert out["r1"] > 0 and torch.isfinite(out["loss_d"])
    out["loss_d"].backward()
    assert gan.discriminator.main[0].weight.grad is not None
    assert gan.generator.main[0].weight.grad is None  # fake was detached for D's loss


def test_hinge_generator_loss_is_minus_the_mean_logit():
    gan = _gan(loss="hinge")
    fake = gan(gan.sample_z(4)).detach()
    assert torch.allclose(gan.generator_loss(fake), -gan.discriminator_logits(fake).mean())


def test_class_conditional_gan_samples_the_asked_classes_and_trains(tmp_path):
    gan = _gan(num_classes=3)
    y = torch.tensor([0, 1, 2, 2])
    assert gan(gan.sample_z(4), y).shape == (4, 1, 16, 16)
    assert gan.discriminator_logits(torch.zeros(4, 1, 16, 16), y).shape == (4,)
    z = gan.sample_z(2)
    assert not torch.allclose(gan(z, torch.tensor([0, 0])), gan(z, torch.tensor([1, 1])))
    with pytest.raises(ConfigError, match="labels must be classes 0 to 2"):
        gan(gan.sample_z(1), torch.tensor([3]))
    with pytest.raises(ConfigError, match="are required"):
        gan(gan.sample_z(1))
    with pytest.raises(ConfigError, match="class 3"):
        draw_samples(gan, 2, y=torch.tensor([3, 3]))
    assert draw_samples(gan, 5).shape == (5, 1, 16, 16)  # classes drawn at random

    class Optimizers:
        def step(self, name, loss):
            loss.backward()

    batch = (torch.rand(4, 1, 16, 16) * 2 - 1, y)
    out = gan.training_step(batch, Optimizers())
    assert set(out) >= {"loss", "loss_d", "loss_g"}
    with pytest.raises(DataError, match="labelled batches"):
        gan.training_step(batch[0], Optimizers())


def test_unconditional_gan_refuses_labels_and_keeps_its_parameters():
    gan = _gan()
    with pytest.raises(ConfigError, match="unconditional"):
        gan(gan.sample_z(2), torch.tensor([0, 1]))
    assert gan.generator.label_embedding is None and gan.discriminator.projection is None
    assert gan.generator.main[0].in_channels == TINY["latent_dim"]


def test_conditional_gan_saves_and_loads(tmp_path):
    gan = _gan(num_classes=4, loss="hinge", augment=["color"])
    gan.save_pretrained(tmp_path / "g")
    same = core.BaseModel.from_pretrained(tmp_path / "g")
    z, y = gan.sample_z(3), torch.tensor([0, 1, 3])
    gan.eval(), same.eval()
    assert torch.equal(gan(z, y), same(z, y))


def test_mode_seeking_penalty_is_large_for_close_images_and_pairs_share_a_class():
    from core_gan.dcgan import mode_seeking_penalty

    z_a, z_b = torch.zeros(2, 4), torch.ones(2, 4)
    far = mode_seeking_penalty(torch.zeros(2, 3), torch.full((2, 3), 0.5), z_a, z_b)
    close = mode_seeking_penalty(torch.zeros(2, 3), torch.full((2, 3), 0.01), z_a, z_b)
    assert torch.isclose(far, torch.tensor(2.0), rtol=1e-3) and close > 40 * far

    gan = _gan(num_classes=3, mode_seeking=1.0)
    seen = []
    gan.generator.register_forward_hook(lambda module, args, out: seen.append(args[1].clone()))

    class Optimizers:
        def step(self, name, loss):
            loss.backward()

    gan.training_step(
        (torch.rand(5, 1, 16, 16) * 2 - 1, torch.tensor([0, 1, 2, 0, 1])), Optimizers()
    )
    assert seen[0].tolist() == [0, 1, 0, 1, 1]  # the two halves pair up by class
