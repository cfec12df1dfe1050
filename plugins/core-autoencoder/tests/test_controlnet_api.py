"""ControlNet reaches the base U-Net only through its public API; weights keep their names."""

from __future__ import annotations

import ast
from pathlib import Path

import core_autoencoder.controlnet
import pytest
import torch

import core

#: what the U-Net offers ControlNet; every other attribute of the U-Net is internal.
PUBLIC_UNET_API = {
    "config",
    "decode",
    "downsample_factor",
    "encode",
    "encoder_copy",
    "middle_channels",
    "skip_channels",
    "time_dim",
}


def _unet_internal_names(ddpm_config: dict) -> set[str]:
    """The U-Net's submodule names at every depth (``down``, ``blocks``, ``mid_attn``, ...)."""
    unet = core.build("model", ddpm_config).network
    names = {part for name, _ in unet.named_modules() for part in name.split(".") if part}
    return {n for n in names if not n.isdigit()} - PUBLIC_UNET_API


def test_controlnet_source_never_names_unet_internals(ddpm_config: dict) -> None:
    internals = _unet_internal_names(ddpm_config)
    assert {"down", "blocks", "mid_attn", "conv_in", "up"} <= internals  # the check has teeth
    tree = ast.parse(Path(core_autoencoder.controlnet.__file__).read_text())
    used = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)} | {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    assert not used & internals, f"controlnet.py names U-Net internals: {sorted(used & internals)}"


@pytest.mark.parametrize("fusion", ["add", "learned", "film", "concat"])
def test_controlnet_starts_as_a_conditioned_base_exactly(ddpm_config: dict, fusion: str) -> None:
    network = {**ddpm_config["network"], "num_classes": 3, "cond_channels": 2}
    network["attention_resolutions"] = [4]
    base = {**ddpm_config, "network": network}
    torch.manual_seed(0)
    model = core.build(
        "model",
        {
            "type": "controlnet-diffusion",
            "base": {"config": base},
            "fusion": fusion,
            "vector_dim": 2,
        },
    ).eval()
    with torch.no_grad():  # random base and copy; the fusions keep their zero layers
        for p in [*model.base.parameters(), *model.control.parameters()]:
            p.normal_(0.0, 0.2)
    g = torch.Generator().manual_seed(1)
    x, t, y = (
        torch.randn(3, 1, 8, 8, generator=g),
        torch.tensor([0, 7, 49]),
        torch.tensor([0, 1, 2]),
    )
    cond, control = torch.randn(3, 2, 8, 8, generator=g), torch.rand(3, 1, 8, 8, generator=g)
    vector = torch.randn(3, 2, generator=g)
    with torch.no_grad():
        steered = model(x, t, control, vector, y=y, cond=cond)
        assert torch.equal(steered, model.base.network(x, t, y, cond))


def test_controlnet_weights_keep_their_names_and_order(ddpm_config: dict) -> None:
    network = {**ddpm_config["network"], "num_classes": 3, "attention_resolutions": [4]}
    model = core.build(
        "model",
        {"type": "controlnet-diffusion", "base": {"config": {**ddpm_config, "network": network}}},
    )
    keys = [k for k in model.state_dict() if k.startswith("control.")]
    # checkpoints written before the U-Net had a public API hold these names, in this order
    tops = list(dict.fromkeys(k.split(".")[1] for k in keys))
    assert tops == ["conv_in", "time_mlp", "down", "mid1", "mid_attn", "mid2", "label_emb"]
    assert {
        "control.conv_in.weight",
        "control.down.0.blocks.0.conv1.weight",
        "control.down.0.downsample.weight",
        "control.down.1.attn.0.qkv.weight",
        "control.mid_attn.proj.bias",
        "control.label_emb.weight",
    } <= set(keys)
    base = {f"control.{k}" for k in model.base.network.state_dict()}
    assert set(keys) < base
