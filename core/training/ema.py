"""Exponential moving average of a model's weights."""

from __future__ import annotations

import copy

import torch

from core.training.sharded import local

__all__ = ["EMA"]


class EMA:
    """A frozen copy of ``model`` whose floating parameters track ``decay`` * ema + (1 - decay) * w.

    Buffers (batch-norm statistics) are copied. ``start_step`` steps copy the weights outright.
    Under FSDP the copy is sharded like the model and each process averages its own shards.
    """

    def __init__(
        self, model: torch.nn.Module, decay: float, start_step: int = 0, every: int = 1
    ) -> None:
        self.decay = decay
        self.start_step = start_step
        self.every = every
        self.model = copy.deepcopy(model).eval()
        self.model.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        """Fold in ``model``'s weights after optimizer step ``step`` (1-based)."""
        if step % self.every:
            return
        ema_params = [local(p) for p in self.model.parameters() if p.is_floating_point()]
        params = [local(p.detach()) for p in model.parameters() if p.is_floating_point()]
        if step <= self.start_step:
            torch._foreach_copy_(ema_params, params)
        else:
            torch._foreach_lerp_(ema_params, params, 1.0 - self.decay)
        for ema_buffer, buffer in zip(self.model.buffers(), model.buffers()):
            ema_buffer.copy_(buffer)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict(state, strict=True)
