"""``mlp-denoiser``: an MLP on cat(x, t) for vector data."""

from __future__ import annotations

from typing import Any

import torch
from core_diffusion.inputs import check_conditioning, check_labels, check_timesteps
from torch import nn

from core import BaseModel
from core.errors import ConfigError
from core_denoisers.configs import MLPDenoiserConfig

__all__ = ["MLPDenoiser"]


class MLPDenoiser(BaseModel):
    """Linear(d+1, h) -> ReLU -> Linear(h, h) -> ReLU -> Linear(h, d) on cat(x, t / T).

    ``num_classes > 0`` adds Embedding(num_classes, h)(y) to the first hidden layer, and so
    does ``embedding_residual`` (B, h) when given (a second conditioning signal, e.g. a flow
    model's interval; ``time_dim`` is its width).
    """

    config_class = MLPDenoiserConfig
    model_type = "mlp-denoiser"

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        self.fc1 = nn.Linear(c.data_dim + 1, c.hidden_dim)
        self.fc2 = nn.Linear(c.hidden_dim, c.hidden_dim)
        self.fc3 = nn.Linear(c.hidden_dim, c.data_dim)
        self.label_embedding = (
            nn.Embedding(c.num_classes, c.hidden_dim) if c.num_classes > 0 else None
        )

    @property
    def time_dim(self) -> int:
        """Width of ``embedding_residual``: the hidden layer's."""
        return self.config.hidden_dim

    def forward(
        self,
        x: torch.Tensor,
        t: Any,
        y: Any = None,
        *,
        embedding_residual: torch.Tensor | None = None,
        **conditioning: Any,
    ) -> torch.Tensor:
        """Predicted noise, same shape as ``x`` (B, data_dim); ``t`` (B,) 0-based timesteps."""
        name = "mlp-denoiser"
        check_conditioning(name, x, extra=conditioning)
        d = self.config.data_dim
        if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[1] != d:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ConfigError(f"{name}: x must have shape (batch, {d}), got {shape}")
        t = check_timesteps(name, t, x)
        y = check_labels(name, y, self.config.num_classes, x)
        tt = (t.to(x.dtype) / self.config.num_timesteps)[:, None]
        h = self.fc1(torch.cat([x, tt], dim=1))
        if self.label_embedding is not None and y is not None:
            h = h + self.label_embedding(y)
        if embedding_residual is not None:
            h = h + embedding_residual
        h = torch.relu(h)
        h = torch.relu(self.fc2(h))
        return self.fc3(h)

    def example_inputs(self, batch_size: int = 2) -> tuple[Any, ...]:
        c = self.config
        x = torch.randn(batch_size, c.data_dim)
        t = torch.randint(0, c.num_timesteps, (batch_size,))
        if c.num_classes:
            return (x, t, torch.randint(0, c.num_classes, (batch_size,)))
        return (x, t)
