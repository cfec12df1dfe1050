"""``train.strategy: fsdp``: FSDP2 sharding of a model and its Distributed Checkpoint (DCP).

A model names the blocks sharded as units of their own (``fsdp_blocks()``); the module the
trainer forwards (the model's ``compute_loss`` wrapper) is the root unit and holds what is
left. A sharded checkpoint is ``torch.distributed.checkpoint``'s folder (``.metadata`` and one
``.distcp`` file per rank) holding ``model``, ``optimizers`` and ``ema``; any number of
processes reads it back, one process without a process group included.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)
from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard
from torch.distributed.tensor import DTensor

from core.errors import TrainingError

__all__ = [
    "shard_model",
    "local",
    "full_tensor",
    "full_state_dict",
    "is_sharded_checkpoint",
    "save_sharded",
    "load_sharded",
]

_PARAM_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def _policy(precision: str) -> MixedPrecisionPolicy:
    """Parameters gathered in ``train.precision``'s dtype; gradients reduced in fp32."""
    return MixedPrecisionPolicy(param_dtype=_PARAM_DTYPES[precision], reduce_dtype=torch.float32)


def _blocks(model: torch.nn.Module) -> list[torch.nn.Module]:
    """``model.fsdp_blocks()`` (none when it has no such method), ``model`` itself left out."""
    blocks = getattr(model, "fsdp_blocks", None)
    found = list(blocks()) if callable(blocks) else []
    for block in found:
        if not isinstance(block, torch.nn.Module):
            raise TrainingError(
                f"fsdp_blocks() of {type(model).__name__} must give modules, got {type(block).__name__}"
            )
    return [b for b in found if b is not model]


def shard_model(
    model: torch.nn.Module, precision: str, root: torch.nn.Module | None = None
) -> None:
    """Shard each of ``model.fsdp_blocks()``, then ``root`` (the module whose forward runs the
    step; it holds the parameters outside the blocks). Without ``root`` the blocks must hold
    every parameter (a ``training_step`` model calls its blocks, never one root)."""
    policy = _policy(precision)
    blocks = _blocks(model)
    for block in blocks:
        fully_shard(block, mp_policy=policy)
    if root is not None:
        fully_shard(root, mp_policy=policy)
        return
    inside = {id(p) for block in blocks for p in block.parameters()}
    left = [name for name, p in model.named_parameters() if id(p) not in inside]
    if left:
        raise TrainingError(
            f"train.strategy fsdp: {type(model).__name__} trains through training_step, so its "
            f"fsdp_blocks() must hold every parameter; {left[0]} is in none of them"
        )


def local(tensor: torch.Tensor) -> torch.Tensor:
    """This process's shard of a sharded tensor (the tensor itself when it is not sharded)."""
    return tensor.to_local() if isinstance(tensor, DTensor) else tensor


def full_tensor(tensor: torch.Tensor) -> torch.Tensor:
    """The whole of a sharded tensor (a collective; the tensor itself when it is not sharded)."""
    return tensor.full_tensor() if isinstance(tensor, DTensor) else tensor


def full_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """``model``'s whole state dict on CPU on rank 0 (empty on the others); every rank calls it."""
    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    return get_model_state_dict(model, options=options)


def is_sharded_checkpoint(checkpoint: Path) -> bool:
    """Whether a checkpoint folder was written by ``save_sharded`` (DCP's ``.metadata``)."""
    return (Path(checkpoint) / ".metadata").is_file()


def _state(
    model: torch.nn.Module,
    optimizers: Mapping[str, torch.optim.Optimizer],
    ema_model: torch.nn.Module | None,
) -> dict[str, Any]:
    state: dict[str, Any] = {
        "model": get_model_state_dict(model),
        "optimizers": {n: get_optimizer_state_dict(model, o) for n, o in optimizers.items()},
    }
    if ema_model is not None:
        state["ema"] = get_model_state_dict(ema_model)
    return state


def save_sharded(
    directory: Path,
    model: torch.nn.Module,
    optimizers: Mapping[str, torch.optim.Optimizer],
    ema_model: torch.nn.Module | None = None,
) -> None:
    """Write the model, optimizers and EMA into ``directory`` with DCP (every rank calls it;
    each writes its shards into the one folder, rank 0 the metadata)."""
    state = _state(model, optimizers, ema_model)
    dcp.save(state, checkpoint_id=str(directory))  # own write: into the staged checkpoint folder


def _saved_sections(directory: Path) -> set[str]:
    metadata = dcp.FileSystemReader(str(directory)).read_metadata()
    return {key.split(".", 1)[0] for key in metadata.state_dict_metadata}


def load_sharded(
    directory: Path,
    model: torch.nn.Module,
    optimizers: Mapping[str, torch.optim.Optimizer],
    ema_model: torch.nn.Module | None = None,
) -> bool:
    """Read what ``save_sharded`` wrote into the (sharded or plain) ``model``, ``optimizers``
    and ``ema_model``, at any world size; returns whether the checkpoint held an EMA."""
    sections = _saved_sections(directory)
    has_ema = "ema" in sections
    state = _state(model, optimizers, ema_model if has_ema else None)
    try:
        dcp.load(state, checkpoint_id=str(directory))
    except Exception as exc:  # noqa: BLE001 - DCP reports a mismatch in many exception types
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TrainingError(f"cannot read sharded checkpoint {directory}: {message}") from None
    set_model_state_dict(model, state["model"])
    for name, optimizer in optimizers.items():
        set_optimizer_state_dict(model, optimizer, state["optimizers"][name])
    if has_ema and ema_model is not None:
        set_model_state_dict(ema_model, state["ema"])
    return has_ema
