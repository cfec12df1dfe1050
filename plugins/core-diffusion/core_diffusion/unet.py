"""A time-conditioned U-Net (GroupNorm/SiLU residual blocks, optional self-attention)."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from core import BaseModel
from core_diffusion.configs import UNetConfig
from core_diffusion.layers import (
    check_conditioning,
    check_image_input,
    check_timesteps,
    sinusoidal_embedding,
)

__all__ = ["UNet", "ResBlock", "SelfAttention"]


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


class UNet(BaseModel):
    """Denoising network ``forward(x, t, y=None, cond=None) -> prediction`` (x's shape)."""

    config_class = UNetConfig

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
        self.label_emb = nn.Embedding(c.num_classes, time_dim) if c.num_classes else None
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

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        y: torch.Tensor | None = None,
        cond: torch.Tensor | None = None,
    ) -> torch.Tensor:
        c = self.config
        check_image_input("unet", x, c.in_channels, self.downsample_factor)
        t = check_timesteps("unet", x, t)
        check_conditioning("unet", y, cond, c.num_classes, c.cond_channels, x.shape[0])
        if cond is not None:
            if cond.shape != (x.shape[0], c.cond_channels, *x.shape[-2:]):
                raise ValueError(
                    f"unet: cond must have shape {(x.shape[0], c.cond_channels, *x.shape[-2:])}, "
                    f"got {tuple(cond.shape)}"
                )
            x = torch.cat([x, cond.to(x.dtype)], 1)
        emb = self.time_mlp(sinusoidal_embedding(t, c.base_channels).to(x.dtype))
        if self.label_emb is not None and y is not None:
            emb = emb + self.label_emb(y)
        h = self.conv_in(x)
        hs = [h]
        for stage in self.down:
            for blk, attn in zip(stage["blocks"], stage["attn"]):
                h = attn(blk(h, emb))
                hs.append(h)
            if "downsample" in stage:
                h = stage["downsample"](h)
                hs.append(h)
        h = self.mid2(self.mid_attn(self.mid1(h, emb)), emb)
        for stage in self.up:
            for blk, attn in zip(stage["blocks"], stage["attn"]):
                h = attn(blk(torch.cat([h, hs.pop()], 1), emb))
            if "upsample" in stage:
                h = stage["upsample"](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
        g = torch.Generator().manual_seed(0)
        c = self.config
        size = self.downsample_factor * 2
        x = torch.randn(batch_size, c.in_channels, size, size, generator=g)
        t = torch.randint(0, 1000, (batch_size,), generator=g)
        if not (c.num_classes or c.cond_channels):
            return x, t
        y = torch.randint(0, c.num_classes, (batch_size,), generator=g) if c.num_classes else None
        cond = torch.randn(batch_size, c.cond_channels, size, size, generator=g)
        return x, t, y, cond if c.cond_channels else None
