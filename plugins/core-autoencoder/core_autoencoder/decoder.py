"""``conv-decoder``: transposed-convolution steps up from a latent, ending in named heads."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from core import BaseModel, build
from core.errors import ConfigError
from core_autoencoder._util import check_image, norm
from core_autoencoder.configs import ConvDecoderConfig

__all__ = ["ConvDecoder"]


class ConvDecoder(BaseModel):
    """Per step: convT4x4/2 -> GN -> SiLU -> conv3x3 -> GN -> SiLU; then every head."""

    config_class = ConvDecoderConfig
    config_section = "decoder"
    kind = "decoder"

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        steps = c.upsampling_steps
        top = c.base_channels * 2 ** max(steps - 1, 0)
        layers: list[nn.Module] = [
            nn.Conv2d(c.latent_channels, top, 3, padding=1),
            norm(top, c.norm_groups),
            nn.SiLU(),
        ]
        for i in reversed(range(steps)):
            width = c.base_channels * 2**i
            out = c.base_channels * 2 ** max(i - 1, 0)
            layers += [
                nn.ConvTranspose2d(width, width, 4, stride=2, padding=1),
                norm(width, c.norm_groups),
                nn.SiLU(),
                nn.Conv2d(width, out, 3, padding=1),
                norm(out, c.norm_groups),
                nn.SiLU(),
            ]
        self.body = nn.Sequential(*layers)
        self.heads = nn.ModuleDict()
        self.sources: dict[str, str] = {}
        for i, spec in enumerate(c.heads):
            section = spec.model_dump(exclude_none=True)
            name = section.pop("name", None) or spec.type
            source = section.pop("source", "features")
            in_channels = c.latent_channels if source == "latent" else c.base_channels
            given = section.get("in_channels", in_channels)
            if given != in_channels:
                raise ConfigError(
                    f"{self.describe()}: decoder.heads.{i}.in_channels is {given} but the "
                    f"{source} it reads have {in_channels} channels (leave it out)"
                )
            section["in_channels"] = in_channels
            self.heads[name] = build("head", section, where=f"decoder.heads.{i}")
            self.sources[name] = source

    @property
    def factor(self) -> int:
        """Spatial up-sampling factor."""
        return 2**self.config.upsampling_steps

    def head_types(self) -> dict[str, str]:
        """Head name -> registered head type."""
        return {spec.name or spec.type: spec.type for spec in self.config.heads}

    def forward(self, latent: torch.Tensor) -> dict[str, torch.Tensor]:
        """One entry per head name."""
        check_image(latent, self.config.latent_channels, 1, f"{self.describe()}.decode", "latent")
        features = self.body(latent)
        return {
            name: head(latent if self.sources[name] == "latent" else features)
            for name, head in self.heads.items()
        }

    decode = forward

    def postprocess(self, outputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Inference form of each head's output (softmax for class heads)."""
        return {
            k: self.heads[k].postprocess(v) if k in self.heads else v for k, v in outputs.items()
        }

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
        return (torch.randn(batch_size, self.config.latent_channels, 4, 4),)
