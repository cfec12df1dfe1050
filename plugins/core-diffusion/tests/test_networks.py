"""The denoising networks: parameter counts, shapes, conditioning and clear errors."""

from __future__ import annotations

import pytest
import torch

import core
from core.testing import check_component


def net(name, **kw):
    return core.build("model", {"type": name, **kw})


def test_ddpm_unet_parameter_counts():
    assert net("ddpm-unet", in_channels=3, base_channels=128).count_parameters() == 14_331_651
    assert net("ddpm-unet", in_channels=3, base_channels=64).count_parameters() == 3_745_987


def test_ddpm_unet_shapes_and_time_dependence():
    m = net("ddpm-unet", in_channels=1, base_channels=8).eval()
    x = torch.randn(2, 1, 16, 16)
    with torch.no_grad():
        a = m(x, torch.tensor([0, 0]))
        b = m(x, torch.tensor([500, 500]))
    assert a.shape == x.shape
    assert not torch.allclose(a, b)


def test_unet_shapes_attention_and_levels():
    m = net(
        "unet",
        in_channels=2,
        base_channels=8,
        channel_mults=[1, 2, 2],
        num_res_blocks=1,
        attention_resolutions=[8],
        image_size=16,
        norm_groups=4,
    )
    assert any(type(mod).__name__ == "SelfAttention" for mod in m.modules())
    out = m(torch.randn(3, 2, 16, 16), torch.tensor([1, 2, 3]))
    assert out.shape == (3, 2, 16, 16)
    assert m.config.depth == 3
    m2 = net("unet", in_channels=1, out_channels=2, base_channels=8, depth=2, num_res_blocks=1)
    assert m2.config.channel_mults == [1, 2]
    assert m2(torch.randn(1, 1, 8, 8), torch.tensor([3])).shape == (1, 2, 8, 8)


def test_unet_uses_the_conditioning_image():
    torch.manual_seed(0)
    m = net(
        "unet",
        in_channels=1,
        base_channels=8,
        channel_mults=[1, 2],
        num_res_blocks=1,
        cond_channels=2,
        image_size=8,
    ).eval()
    x, t = torch.randn(2, 1, 8, 8), torch.tensor([5, 5])
    with torch.no_grad():
        a = m(x, t, cond=torch.zeros(2, 2, 8, 8))
        b = m(x, t, cond=torch.ones(2, 2, 8, 8))
    assert not torch.allclose(a, b)
    with pytest.raises(core.ConfigError, match="cond_channels=2"):
        m(x, t)
    with pytest.raises(core.ConfigError, match="cond must have shape"):
        m(x, t, cond=torch.zeros(2, 1, 8, 8))


@pytest.mark.parametrize("name", ["unet", "ddpm-unet"])
def test_class_conditioning(name):
    torch.manual_seed(0)
    extra = {"channel_mults": [1, 2], "num_res_blocks": 1} if name == "unet" else {}
    m = net(name, in_channels=1, base_channels=8, num_classes=3, **extra).eval()
    x, t = torch.randn(2, 1, 8, 8), torch.tensor([5, 5])
    with torch.no_grad():
        assert not torch.allclose(m(x, t, y=torch.tensor([0, 0])), m(x, t, y=torch.tensor([2, 2])))
    plain = net(name, in_channels=1, base_channels=8, **extra)
    with pytest.raises(core.ConfigError, match="num_classes=0"):
        plain(x, t, y=torch.tensor([0, 1]))


@pytest.mark.parametrize("name", ["unet", "ddpm-unet"])
def test_bad_inputs_are_clear(name):
    m = net(name, in_channels=3, base_channels=8)
    with pytest.raises(core.ConfigError, match=r"x must have shape \(batch, 3, height, width\)"):
        m(torch.randn(2, 1, 16, 16), torch.tensor([1, 2]))
    with pytest.raises(core.ConfigError, match=r"divisible by 8 .*12x12; .*16x16"):
        m(torch.randn(2, 3, 12, 12), torch.tensor([1, 2]))
    with pytest.raises(core.ConfigError, match="t must have shape"):
        m(torch.randn(2, 3, 16, 16), torch.tensor([1, 2, 3]))


@pytest.mark.parametrize("name", ["unet", "ddpm-unet"])
@pytest.mark.parametrize(
    ("t", "y", "match"),
    [
        (torch.tensor([True, False]), None, "integer .*timesteps"),
        ("5", None, "t must be a tensor"),
        (5, torch.tensor([0, 3]), r"labels must be in \[0, 2\], got values in \[0, 3\]"),
        (5, torch.tensor([-1, 0]), r"labels must be in \[0, 2\]"),
        (5, torch.tensor([0.0, 1.0]), "integer class labels"),
    ],
)
def test_one_strictness_for_timesteps_and_labels(name, t, y, match):
    """core_diffusion.inputs: out-of-range labels are a ConfigError, not an IndexError."""
    m = net(name, in_channels=1, base_channels=8, num_classes=3)
    with pytest.raises(core.ConfigError, match=match):
        m(torch.randn(2, 1, 16, 16), t, y)


@pytest.mark.parametrize("name", ["unet", "ddpm-unet"])
def test_scalar_and_single_timesteps_and_labels_broadcast(name):
    m = net(name, in_channels=1, base_channels=8, num_classes=3, null_class=True).eval()
    x = torch.randn(2, 1, 16, 16)
    with torch.no_grad():
        full = m(x, torch.tensor([7, 7]), torch.tensor([1, 1]))
        assert torch.equal(m(x, 7, 1), full)
        assert torch.equal(m(x, torch.tensor([7]), torch.tensor(1)), full)
        m(x, 7, torch.tensor([3, 3]))  # the null class (index num_classes) is a label


def test_bad_unet_configs():
    with pytest.raises(core.ConfigError, match="not divisible by 4"):
        net("unet", image_size=30, channel_mults=[1, 2, 2])
    with pytest.raises(core.ConfigError, match="attention_resolutions"):
        net("unet", image_size=32, channel_mults=[1, 2], attention_resolutions=[4])
    with pytest.raises(core.ConfigError, match="depth"):
        net("unet", depth=3, channel_mults=[1, 2])
    with pytest.raises(core.ConfigError, match="time_dim must be even"):
        net("ddpm-unet", time_dim=7)


_SMALL = {"in_channels": 1, "base_channels": 8, "channel_mults": [1, 2], "num_res_blocks": 1}


@pytest.mark.parametrize(
    "extra",
    [{"attention_resolutions": [4], "image_size": 8}, {"cond_channels": 1, "num_classes": 2}],
)
def test_conformance_unet(extra):
    check_component("model", "unet", {**_SMALL, **extra})


def test_conformance_ddpm_unet():
    check_component("model", "ddpm-unet", {"in_channels": 1, "base_channels": 4, "time_dim": 8})


_UNET_SMALL = {
    **_SMALL,
    "attention_resolutions": [4],
    "image_size": 8,
    "num_classes": 3,
    "null_class": True,
}


@pytest.mark.parametrize(
    ("name", "options", "params", "keys", "output"),
    [
        ("unet", _UNET_SMALL, 45_097, "c452a7705705e189", -5.042721),
        ("unet", {}, 8_554_243, "2d967e40d4e0f7bf", None),
        (
            "ddpm-unet",
            {
                "in_channels": 1,
                "base_channels": 4,
                "time_dim": 8,
                "num_classes": 3,
                "null_class": 1,
            },
            14_949,
            "d456114dfa253fbf",
            -33.01214,
        ),
        ("ddpm-unet", {}, 14_331_651, "84ee11b4c188d282", None),
    ],
)
def test_unet_base_keeps_weights_and_outputs(name, options, params, keys, output):
    """UNetBase adds no parameter: state-dict keys, shapes, counts and outputs as before it."""
    import hashlib

    torch.manual_seed(0)
    m = net(name, **options).eval()
    listing = "\n".join(f"{k}:{tuple(v.shape)}" for k, v in m.state_dict().items())
    assert hashlib.sha256(listing.encode()).hexdigest()[:16] == keys
    assert m.count_parameters() == params
    if output is not None:
        with torch.no_grad():
            assert float(m(*m.example_inputs()).double().sum()) == pytest.approx(output, rel=1e-4)
