"""LUT layers (connectivity + nodes) and the GroupSum output."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from core import BaseModel
from core.errors import ConfigError
from core_difflut import kernels
from core_difflut.configs import GroupSumConfig, LayerConfig
from core_difflut.nodes import LUTNode, node_class

__all__ = ["LUTLayer", "RandomLayer", "LearnableLayer", "GroupSum", "LAYER_CLASSES"]


def random_connections(input_dim: int, nodes: int, n: int, seed: int) -> torch.Tensor:
    """(nodes, n) input indices: shuffled copies of every input, so all inputs are used.

    Consecutive fresh permutations fill the nodes * n slots; when there are fewer slots than
    inputs, as many distinct inputs as fit are used. Repeated inputs inside a node are
    swapped away where another slot allows it.
    """
    g = torch.Generator().manual_seed(seed)
    slots = nodes * n
    reps = -(-slots // input_dim)
    flat = torch.cat([torch.randperm(input_dim, generator=g) for _ in range(reps)])[:slots]
    idx = flat.view(nodes, n).clone()
    if n <= input_dim:
        for _ in range(4):  # a few repair rounds; each removes most duplicates
            srt, _ = idx.sort(1)
            dup_rows = (srt[:, 1:] == srt[:, :-1]).any(1).nonzero().flatten()
            if dup_rows.numel() == 0:
                break
            for r in dup_rows.tolist():
                row = idx[r]
                seen: set[int] = set()
                for j in range(n):
                    v = int(row[j])
                    if v in seen:
                        other = int(torch.randint(nodes, (1,), generator=g))
                        k = int(torch.randint(n, (1,), generator=g))
                        cand = int(idx[other, k])
                        if cand not in seen and v not in idx[other].tolist():
                            idx[other, k], idx[r, j] = v, cand
                            v = cand
                    seen.add(v)
    return idx


class LUTLayer(BaseModel):
    """``output_dim`` nodes, each reading ``n`` of the ``input_dim`` inputs."""

    kind = "layer"
    config_section = "layer"
    config_class: ClassVar[Any] = LayerConfig

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        node_section = dict(c.node)
        node_type = node_section.pop("type")
        self.node: LUTNode = node_class(node_type)({**node_section, "num_nodes": c.output_dim})
        self.input_dim = c.input_dim
        self.output_dim = c.output_dim
        self.n = self.node.n

    def gather(self, xt: torch.Tensor) -> torch.Tensor:
        """Inputs (F_in, B) -> node inputs (N, n, B)."""
        raise NotImplementedError

    def on_train_progress(self, step: int, total_steps: int) -> None:
        """Training progress from the training loop (0-based step of ``total_steps``)."""

    def connections(self) -> torch.Tensor:
        """(N, n) input index of every node input in evaluation mode."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, input_dim) -> (B, output_dim)."""
        if x.dim() != 2 or x.shape[1] != self.input_dim:
            raise ConfigError(
                f"{type(self).__name__}: expected input (batch, {self.input_dim}), "
                f"got {tuple(x.shape)}"
            )
        if not self.training and self.node.config.eval_mode == "deterministic":
            # hard network: gather and address bytes, not floats
            bits = (x >= 0.5).t().contiguous()
            # ONNX export has no bool -> uint8 reinterpretation: convert there instead
            bits = bits.to(torch.uint8) if torch.compiler.is_exporting() else bits.view(torch.uint8)
            addr = kernels.gathered_address(bits, self.connections())
            return self.node.hard_table().to(x.dtype).gather(1, addr).t()
        xt = x.t()
        if not xt.is_contiguous():
            xt = xt.contiguous()
        fused = getattr(self.node, "layer_forward", None)
        if self.training and fused is not None and isinstance(self, RandomLayer):
            return fused(xt, self.indices).t()
        return self.node.evaluate(self.gather(xt)).t()

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
        g = torch.Generator().manual_seed(0)
        return ((torch.rand(batch_size, self.input_dim, generator=g) > 0.5).float(),)


class RandomLayer(LUTLayer):
    """Fixed random connectivity, seeded, covering every input."""

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        self.register_buffer(
            "indices", random_connections(c.input_dim, c.output_dim, self.n, c.seed)
        )

    def gather(self, xt: torch.Tensor) -> torch.Tensor:
        return xt.index_select(0, self.indices.flatten()).view(self.output_dim, self.n, -1)

    def connections(self) -> torch.Tensor:
        return self.indices


class LearnableLayer(LUTLayer):
    """Learnable connectivity: softmax over the inputs while training, argmax at evaluation.

    Training selects each node input as ``softmax(W / T) @ x`` in the backward pass and as
    the argmax input in the forward pass (straight-through), so training and evaluation see
    the same bits. ``T`` follows ``mapping_temperature`` over training progress.
    """

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        g = torch.Generator().manual_seed(c.seed)
        slots = c.output_dim * self.n
        pool_size = c.candidates if c.candidates and c.candidates < c.input_dim else None
        if pool_size is None:
            self.register_buffer("pool", torch.zeros(0, dtype=torch.int64), persistent=False)
            self.mapping = nn.Parameter(torch.randn(slots, c.input_dim, generator=g))
        else:
            # column 0 is a covering random connectivity, the rest random other inputs
            first = random_connections(c.input_dim, c.output_dim, self.n, c.seed).reshape(-1, 1)
            rest = torch.randint(c.input_dim, (slots, pool_size - 1), generator=g)
            small = torch.int16 if c.input_dim <= torch.iinfo(torch.int16).max else torch.int32
            self.register_buffer("pool", torch.cat([first, rest], 1).to(small))  # compact file
            self.mapping = nn.Parameter(torch.randn(slots, pool_size, generator=g))
        self.wiring_temperature = c.mapping_temperature.start

    def on_train_progress(self, step: int, total_steps: int) -> None:
        """Set the wiring temperature for 0-based ``step`` of ``total_steps``."""
        self.wiring_temperature = self.config.mapping_temperature.at(step, total_steps)

    def on_runtime_change(self, changed: dict[str, Any]) -> None:
        if "mapping_temperature" in changed:
            self.wiring_temperature = self.config.mapping_temperature.start

    def connections(self) -> torch.Tensor:
        choice = self.mapping.detach().argmax(-1)
        if self.pool.numel():
            choice = self.pool.long().gather(1, choice.unsqueeze(1)).squeeze(1)
        return choice.view(self.output_dim, self.n)

    def gather(self, xt: torch.Tensor) -> torch.Tensor:
        hard = xt.index_select(0, self.connections().flatten())
        if self.training and xt.is_floating_point():
            t = self.wiring_temperature
            weights = torch.softmax(self.mapping if t == 1.0 else self.mapping / t, -1)
            if self.pool.numel():
                soft = torch.einsum("sc,scb->sb", weights, xt[self.pool.long()])
            else:
                soft = weights @ xt  # (N*n, B)
            hard = hard + soft - soft.detach()
        return hard.view(self.output_dim, self.n, -1)


class GroupSum(BaseModel):
    """GroupSum(k, tau): pad to a multiple of k, sum k consecutive groups, divide by tau."""

    kind = "layer"
    config_section = "layer"
    config_class: ClassVar[Any] = GroupSumConfig
    model_type = "groupsum"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2:
            raise ConfigError(f"GroupSum: expected (batch, features), got {tuple(x.shape)}")
        k = self.config.num_classes
        pad = (-x.shape[1]) % k
        if pad:
            x = torch.nn.functional.pad(x, (0, pad))
        return x.reshape(x.shape[0], k, -1).sum(-1) / self.config.tau

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
        return (torch.ones(batch_size, 3 * self.config.num_classes + 1),)


LAYER_CLASSES: dict[str, type[LUTLayer]] = {"random": RandomLayer, "learnable": LearnableLayer}
RandomLayer.model_type = "random"
LearnableLayer.model_type = "learnable"
