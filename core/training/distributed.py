"""``torch.distributed`` set-up for runs launched by ``torchrun`` (WORLD_SIZE > 1)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

__all__ = [
    "DistInfo",
    "setup_distributed",
    "all_reduce_grads",
    "barrier",
    "mean_across",
    "share_from_main",
]


@dataclass(frozen=True)
class DistInfo:
    """Rank, world size and local rank of this process (1 process: rank 0 of 1)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup_distributed(device_type: str, timeout_s: float = 1800.0) -> DistInfo:
    """Join the process group torchrun describes (gloo on CPU, nccl on CUDA), once; the
    store and every collective fail after ``timeout_s`` instead of waiting forever."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistInfo()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        if device_type == "cuda":
            torch.cuda.set_device(local_rank)
        timeout = timedelta(seconds=timeout_s)
        store = _attempt_store(world_size, timeout)
        where = {} if store is None else {"store": store, "rank": rank, "world_size": world_size}
        dist.init_process_group(backend=backend, timeout=timeout, **where)
    return DistInfo(rank, world_size, local_rank)


def _attempt_store(world_size: int, timeout: timedelta) -> dist.Store | None:
    """torchrun's agent store under a prefix per restart attempt, on one node, once restarted.

    torchrun keeps one store across restarts and torch adds no prefix, so a restarted rank
    can read a dead rank's gloo address and wait on it (seen in CI). Only on one node do all
    ranks agree on ``TORCHELASTIC_RESTART_COUNT``; elsewhere, and in a first attempt, torch's
    own store is used.
    """
    env = os.environ
    one_node = env.get("LOCAL_WORLD_SIZE") == str(world_size)
    restarted = env.get("TORCHELASTIC_RESTART_COUNT", "0") != "0"
    if env.get("TORCHELASTIC_USE_AGENT_STORE") != "True" or not one_node or not restarted:
        return None
    store = dist.TCPStore(
        env["MASTER_ADDR"], int(env["MASTER_PORT"]), world_size, is_master=False, timeout=timeout
    )
    return dist.PrefixStore(f"core/attempt_{env['TORCHELASTIC_RESTART_COUNT']}", store)


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def share_from_main(value: Any, info: DistInfo) -> Any:
    """``value`` as rank 0 has it, on every rank (a small picklable object, broadcast)."""
    if not info.enabled:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def all_reduce_grads(params: list[torch.nn.Parameter], info: DistInfo) -> None:
    """Average gradients across processes (for models trained through ``training_step``)."""
    if not info.enabled:
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= info.world_size
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def mean_across(values: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Mean of a tensor over processes (for logging)."""
    if info.enabled:
        values = values.clone()
        dist.all_reduce(values)
        values /= info.world_size
    return values
