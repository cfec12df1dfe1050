"""A time-conditioned U-Net (GroupNorm/SiLU residual blocks, optional self-attention)."""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from core_diffusion.configs import UNetConfig
from core_diffusion.inputs import check_network_inputs
from core_diffusion.unet_base import UNetBase, time_embedding
from core_diffusion.unet_features import UNetFeatures

__all__ = ["UNet", "UNetEncoder", "ResBlock", "SelfAttention"]

#: the modules of the encoder path; this order is the parameter order of saved copies (ControlNet
#: checkpoints, their optimizer state).
_ENCODER_PATH = ("conv_in", "time_mlp", "down", "mid1", "mid_attn", "mid2", "label_emb")


def _norm(channels: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(groups, channels), channels)


class ResBlock(nn.Module):
    """GN-SiLU-conv, plus the time embedding, GN-SiLU-dropout-conv, plus a skip."""

    def __init__(self, cin: int, cout: int, time_dim: int, groups: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = _norm(cin, groups)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time = nn.Linear(time_dim, cout)
        self.norm2 = _norm(cout, groups)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time(emb)[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return h + self.skip(x)


class SelfAttention(nn.Module):
    """Multi-head self-attention over the pixels of a feature map, with a residual."""

    def __init__(self, channels: int, heads: int, groups: int) -> None:
        super().__init__()
        self.heads = heads if channels % heads == 0 else 1
        self.norm = _norm(channels, groups)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, h * w).unbind(1)
        out = F.scaled_dot_product_attention(
            q.transpose(-1, -2), k.transpose(-1, -2), v.transpose(-1, -2)
        )
        return x + self.proj(out.transpose(-1, -2).reshape(b, c, h, w))


class UNet(UNetBase):
    """Denoising network ``forward(x, t, y=None, cond=None) -> prediction`` (x's shape); see
    ``UNetBase``."""

    config_class = UNetConfig
    network_name = "unet"

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        base, groups = c.base_channels, c.norm_groups
        time_dim = c.time_dim or 4 * base
        self.time_dim = time_dim
        self.downsample_factor = 2 ** (len(c.channel_mults) - 1)
        self.time_mlp = nn.Sequential(
            nn.Linear(base, time_dim), nn.SiLU(), nn.Linear(time_dim, time_dim), nn.SiLU()
        )
        classes = c.num_classes + int(c.null_class)  # the null class is index num_classes
        self.label_emb = nn.Embedding(classes, time_dim) if c.num_classes else None
        self.conv_in = nn.Conv2d(c.in_channels + c.cond_channels, base, 3, padding=1)

        def block(cin: int, cout: int) -> ResBlock:
            return ResBlock(cin, cout, time_dim, groups, c.dropout)

        def attention(ch: int, size: int) -> nn.Module:
            if size in c.attention_resolutions:
                return SelfAttention(ch, c.attention_heads, groups)
            return nn.Identity()

        self.down = nn.ModuleList()
        skips, ch, size = [base], base, c.image_size
        for level, mult in enumerate(c.channel_mults):
            stage = nn.ModuleDict()
            stage["blocks"] = nn.ModuleList()
            stage["attn"] = nn.ModuleList()
            for _ in range(c.num_res_blocks):
                stage["blocks"].append(block(ch, base * mult))
                ch = base * mult
                stage["attn"].append(attention(ch, size))
                skips.append(ch)
            if level < len(c.channel_mults) - 1:
                stage["downsample"] = nn.Conv2d(ch, ch, 3, stride=2, padding=1)
                skips.append(ch)
                size //= 2
            self.down.append(stage)
        self.skip_channels = tuple(skips)
        self.middle_channels = ch
        self.mid1 = block(ch, ch)
        self.mid_attn = (
            SelfAttention(ch, c.attention_heads, groups)
            if c.attention_resolutions
            else nn.Identity()
        )
        self.mid2 = block(ch, ch)
        self.up = nn.ModuleList()
        for level, mult in reversed(list(enumerate(c.channel_mults))):
            stage = nn.ModuleDict()
            stage["blocks"] = nn.ModuleList()
            stage["attn"] = nn.ModuleList()
            for _ in range(c.num_res_blocks + 1):
                stage["blocks"].append(block(ch + skips.pop(), base * mult))
                ch = base * mult
                stage["attn"].append(attention(ch, size))
            if level > 0:
                stage["upsample"] = nn.Conv2d(ch, ch, 3, padding=1)
                size *= 2
            self.up.append(stage)
        self.norm_out = _norm(ch, groups)
        self.conv_out = nn.Conv2d(ch, c.out_channels or c.in_channels, 3, padding=1)

    def fsdp_blocks(self) -> list[nn.Module]:
        """The down, middle and up stages' residual and attention blocks (``train.strategy:
        fsdp`` shards each as a unit; the embeddings and the in/out and resampling convs stay
        with the root)."""
        stages = [*self.down, {"blocks": [self.mid1, self.mid2], "attn": [self.mid_attn]}, *self.up]
        found = [m for s in stages for key in ("blocks", "attn") for m in s[key]]
        return [m for m in found if any(True for _ in m.parameters())]

    def encoder_copy(self) -> UNetEncoder:
        """A deep copy of the encoder path with its own weights (a ControlNet's trainable copy)."""
        return UNetEncoder(self)

    def encode(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        y: torch.Tensor | None = None,
        cond: torch.Tensor | None = None,
        *,
        input_residual: torch.Tensor | None = None,
        embedding_residual: torch.Tensor | None = None,
    ) -> UNetFeatures:
        """The encoder path: skip features, the middle block's output and the embedding.

        ``input_residual`` (B, base_channels, H, W) is added after the input conv and
        ``embedding_residual`` (B, time_dim) to the time embedding.
        """
        return _encode(self, x, t, y, cond, input_residual, embedding_residual)

    def _decode(self, features: UNetFeatures) -> torch.Tensor:
        h, emb, skips = features.middle, features.embedding, list(features.skips)
        for stage in self.up:
            for blk, attn in zip(stage["blocks"], stage["attn"]):
                h = attn(blk(torch.cat([h, skips.pop()], 1), emb))
            if "upsample" in stage:
                h = stage["upsample"](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))


class UNetEncoder(nn.Module):
    """A U-Net's encoder path as a module of its own: ``forward(x, t, ...) -> UNetFeatures``.

    Made by ``UNet.encoder_copy()``; starts from the U-Net's weights and takes ``encode``'s
    arguments.
    """

    network_name = "unet-encoder"

    def __init__(self, unet: UNet) -> None:
        super().__init__()
        self.config = unet.config
        self.downsample_factor = unet.downsample_factor
        self.skip_channels = unet.skip_channels
        self.middle_channels = unet.middle_channels
        for name in _ENCODER_PATH:
            setattr(self, name, copy.deepcopy(getattr(unet, name)))

    #: the encoder path, run as ``UNet.encode`` runs it
    forward = UNet.encode


def _encode(
    path: UNet | UNetEncoder,
    x: torch.Tensor,
    t: torch.Tensor,
    y: torch.Tensor | None,
    cond: torch.Tensor | None,
    input_residual: torch.Tensor | None,
    embedding_residual: torch.Tensor | None,
) -> UNetFeatures:
    t, y, cond = check_network_inputs(
        path.network_name, path.config, path.downsample_factor, x, t, y, cond
    )
    if cond is not None:
        x = torch.cat([x, cond], 1)
    emb = time_embedding(path, t, y, path.config.base_channels, x.dtype)
    if embedding_residual is not None:
        emb = emb + embedding_residual
    h = path.conv_in(x)
    if input_residual is not None:
        h = h + input_residual
    skips = [h]
    for stage in path.down:
        for blk, attn in zip(stage["blocks"], stage["attn"]):
            h = attn(blk(h, emb))
            skips.append(h)
        if "downsample" in stage:
            h = stage["downsample"](h)
            skips.append(h)
    h = path.mid2(path.mid_attn(path.mid1(h, emb)), emb)
    return UNetFeatures(skips=tuple(skips), middle=h, embedding=emb)
