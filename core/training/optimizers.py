"""The ``Optimizers`` object a model's ``training_step`` receives."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from core.errors import TrainingError
from core.training.distributed import DistInfo, all_reduce_grads
from core.training.sharded import full_tensor

__all__ = ["Optimizers"]


class Optimizers:
    """Named optimizers sharing one gradient scaler, accumulation and clipping policy.

    ``step(name, loss)`` back-propagates ``loss`` into that optimizer's parameters only
    (scaled for AMP and divided by the accumulation count); on the last micro-batch of an
    accumulation window it also clips, steps and zeroes that optimizer.
    """

    def __init__(
        self,
        optimizers: dict[str, torch.optim.Optimizer],
        *,
        scaler: Any,
        grad_accumulation: int = 1,
        grad_clip: float | None = None,
        dist_info: DistInfo | None = None,
        sync_grads: bool = False,
    ) -> None:
        self.optimizers = optimizers
        self.scaler = scaler
        self.grad_accumulation = grad_accumulation
        self.grad_clip = grad_clip
        self.dist_info = dist_info or DistInfo()
        self.sync_grads = sync_grads
        self.params = {
            name: [p for group in opt.param_groups for p in group["params"] if p.requires_grad]
            for name, opt in optimizers.items()
        }
        self.micro_step = 0
        self.grad_norms: dict[str, torch.Tensor] = {}
        #: measure the gradient norm even without clipping (the trainer sets it on log steps).
        self.measure_grad_norm = False

    @property
    def is_last_micro_step(self) -> bool:
        """Whether the optimizers step after this micro-batch."""
        return self.micro_step == self.grad_accumulation - 1

    def __getitem__(self, name: str) -> torch.optim.Optimizer:
        try:
            return self.optimizers[name]
        except KeyError:
            raise TrainingError(
                f"no optimizer '{name}'; optimizer_groups gave: {', '.join(self.optimizers)}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.optimizers)

    def __len__(self) -> int:
        return len(self.optimizers)

    def backward(self, name: str, loss: torch.Tensor) -> None:
        """Back-propagate ``loss`` into optimizer ``name``'s parameters (scaled, accumulated)."""
        params = self.params[name] if name in self.params else self[name]
        if loss.ndim != 0:
            raise TrainingError(
                f"optimizers.step('{name}', loss): loss must be a scalar, got shape {tuple(loss.shape)}"
            )
        if self.grad_accumulation > 1:
            loss = loss / self.grad_accumulation
        scaled = self.scaler.scale(loss) if self.scaler.is_enabled() else loss
        if len(self.optimizers) > 1 and not _sharded(params):
            scaled.backward(inputs=params)
        else:  # FSDP2's sharded parameters are not leaves of the graph: its hooks route their grads
            scaled.backward()

    def step(self, name: str, loss: torch.Tensor | None = None) -> bool:
        """Backward ``loss`` (when given), then step ``name`` if this is the window's last micro-batch.

        Returns whether the optimizer stepped.
        """
        if loss is not None:
            self.backward(name, loss)
        if not self.is_last_micro_step:
            return False
        optimizer = self[name]
        params = self.params[name]
        if self.sync_grads:
            all_reduce_grads(params, self.dist_info)
        if self.grad_clip is not None:
            self.scaler.unscale_(optimizer)
            norm = torch.nn.utils.clip_grad_norm_(params, self.grad_clip)
            self.grad_norms[name] = full_tensor(norm)
        elif self.measure_grad_norm:
            self.scaler.unscale_(optimizer)
            norm = _total_norm([p.grad for p in params if p.grad is not None])
            self.grad_norms[name] = full_tensor(norm)
        self.scaler.step(optimizer)
        optimizer.zero_grad(set_to_none=True)
        return True


def _total_norm(grads: list[torch.Tensor]) -> torch.Tensor:
    """The global L2 norm of ``grads`` (zero when there are none)."""
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


def _sharded(params: list[torch.nn.Parameter]) -> bool:
    """Whether ``params`` are FSDP2 shards (DTensors), which ``backward(inputs=...)`` never reaches."""
    if not torch.distributed.is_available():
        return False
    from torch.distributed.tensor import DTensor

    return any(isinstance(p, DTensor) for p in params)
