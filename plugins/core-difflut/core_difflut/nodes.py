"""LUT node types: a relaxation for training and a true lookup table for evaluation.

Each node module holds ``num_nodes`` nodes of ``input_dim`` (n) inputs and evaluates them all
at once. Internally inputs are ``(N, n, B)`` and outputs ``(N, B)``; the public ``forward``
takes ``(B, N, n)`` and returns ``(B, N)``.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, ClassVar

import torch
from torch import nn

from core import BaseModel
from core.errors import ConfigError
from core_difflut import kernels
from core_difflut.configs import (
    DiffLogicConfig,
    DWNConfig,
    DWNStableConfig,
    FourierConfig,
    NeuralLUTConfig,
    NodeConfig,
    PolyLUTConfig,
    WARPConfig,
)
from core_difflut.names import NODES, canonical

__all__ = [
    "LUTNode",
    "ProbabilisticNode",
    "DWNNode",
    "DWNStableNode",
    "HybridNode",
    "LinearLUTNode",
    "PolyLUTNode",
    "NeuralLUTNode",
    "FourierNode",
    "DiffLogicNode",
    "WARPNode",
    "NODE_CLASSES",
    "node_class",
    "GATE_TABLES",
]


class LUTNode(BaseModel):
    """Base of the node types: evaluation modes, bit flips, truth tables, regularisers."""

    kind = "node"
    config_section = "node"
    config_class: ClassVar[Any] = NodeConfig

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        self.num_nodes = c.num_nodes
        self.n = c.input_dim
        self.table_size = 1 << self.n
        self._tt_cache: tuple[Any, torch.Tensor] | None = None
        self.reset_parameters()

    # -- to implement ------------------------------------------------------------------------
    def reset_parameters(self) -> None:
        """Create and initialise the parameters."""
        raise NotImplementedError

    def relaxed(self, x: torch.Tensor) -> torch.Tensor:
        """Training output for inputs (N, n, B) in [0, 1] -> (N, B)."""
        raise NotImplementedError

    def soft_table(self) -> torch.Tensor:
        """The relaxation at the 2**n binary inputs, (N, K), differentiable."""
        return self.expectation(self._corner_inputs())

    def truth_table(self) -> torch.Tensor:
        """The hard lookup table used in evaluation and export, (N, K) bool."""
        with torch.no_grad():
            return self.soft_table() >= 0.5

    def expectation(self, x: torch.Tensor) -> torch.Tensor:
        """Deterministic relaxation (no training noise), (N, n, B) -> (N, B)."""
        return self.relaxed(x)

    # -- shared machinery --------------------------------------------------------------------
    def _corner_inputs(self) -> torch.Tensor:
        c = kernels.corners(self.n, self.device)  # (K, n)
        return c.t().unsqueeze(0).expand(self.num_nodes, self.n, self.table_size)

    def hard_table(self) -> torch.Tensor:
        """Truth table as floats, cached while the parameters do not change."""
        if torch.compiler.is_exporting():  # traced tensors have no data to key a cache on
            return self.truth_table().to(self._dtype())
        key = tuple((p.data_ptr(), p._version) for p in self.parameters())
        if self._tt_cache is None or self._tt_cache[0] != key or torch.is_grad_enabled():
            table = self.truth_table().to(self._dtype())
            self._tt_cache = (key, table)
        return self._tt_cache[1]

    def _dtype(self) -> torch.dtype:
        for p in self.parameters():
            return p.dtype
        return torch.float32

    def evaluate(self, x: torch.Tensor) -> torch.Tensor:
        """Nodes on inputs (N, n, B): relaxation in training, per ``eval_mode`` otherwise."""
        c = self.config
        if self.training:
            if c.flip_probability > 0:
                flip = torch.rand_like(x) < c.flip_probability
                x = torch.where(flip, 1 - x, x)
            return self.relaxed(x)
        if c.eval_mode == "deterministic":
            return kernels.lookup(self.hard_table(), x >= 0.5)
        if c.eval_mode == "sampling":
            return kernels.lookup(self.hard_table(), torch.bernoulli(x.clamp(0, 1)))
        return self.expectation(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, num_nodes, input_dim) -> (B, num_nodes)."""
        expected = (self.num_nodes, self.n)
        if x.dim() != 3 or tuple(x.shape[1:]) != expected:
            raise ConfigError(
                f"{type(self).__name__}: expected input (batch, {expected[0]}, {expected[1]}), "
                f"got {tuple(x.shape)}"
            )
        return self.evaluate(x.permute(1, 2, 0)).t()

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
        return (torch.rand(batch_size, self.num_nodes, self.n),)

    def on_runtime_change(self, changed: dict[str, Any]) -> None:
        self._tt_cache = None

    # -- regularisers ------------------------------------------------------------------------
    def regularization(self, name: str) -> torch.Tensor:
        """One regulariser over the nodes' soft tables (mean over nodes)."""
        t = self.soft_table()
        if name in ("l1", "l2"):
            flipped = t[:, kernels.flip_index(self.n).to(t.device)]  # (N, n, K)
            diff = flipped - t.unsqueeze(1)
            return diff.abs().mean() if name == "l1" else diff.pow(2).mean()
        if name == "spectral":
            h, degree = kernels.walsh_matrix(self.n)
            coeffs = t @ h.to(t) / self.table_size
            return (coeffs.pow(2) * degree.to(t)).sum(-1).mean()
        if name == "entropy":
            return kernels.binary_entropy(t).mean()
        if name == "clarity":
            p = t.clamp(0, 1)
            return (4 * p * (1 - p)).mean()
        raise ConfigError(f"unknown regularizer {name!r}")


def _temperature(node: LUTNode) -> float:
    return float(node.config.temperature)


class ProbabilisticNode(LUTNode):
    """Expectation of sigmoid(theta / T) over the inputs' Bernoulli distribution."""

    def reset_parameters(self) -> None:
        self.theta = nn.Parameter(torch.randn(self.num_nodes, self.table_size))

    def soft_table(self) -> torch.Tensor:
        return torch.sigmoid(self.theta / _temperature(self))

    def truth_table(self) -> torch.Tensor:
        return (self.theta >= 0).detach()

    def relaxed(self, x: torch.Tensor) -> torch.Tensor:
        return kernels.multilinear(x, self.soft_table())


class DWNNode(LUTNode):
    """Hard lookup forward, Extended Finite Difference backward (Bacellar et al. 2024)."""

    config_class = DWNConfig

    def reset_parameters(self) -> None:
        self.table = nn.Parameter(torch.rand(self.num_nodes, self.table_size))

    def _weights(self) -> torch.Tensor:
        c = self.config
        return kernels.efd_weights(self.n, c.efd_alpha(), c.beta)

    def _values(self) -> torch.Tensor:
        return self.table

    def _train_values(self) -> torch.Tensor:
        """The table the training lookup reads (its gradient may be scaled)."""
        return self._values()

    def soft_table(self) -> torch.Tensor:
        return self._values().clamp(0, 1)

    def truth_table(self) -> torch.Tensor:
        return (self._values() >= 0.5).detach()

    def relaxed(self, x: torch.Tensor) -> torch.Tensor:
        value = kernels.efd_lookup(x, self._train_values(), self._weights())
        hard = (value >= 0.5).to(value.dtype)
        return value + (hard - value).detach()

    def expectation(self, x: torch.Tensor) -> torch.Tensor:
        return kernels.multilinear(x, self.soft_table())

    def layer_forward(self, xt: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        """Training forward fused with a fixed connectivity: (F, B) -> (N, B)."""
        bits = (xt.detach() >= 0.5).view(torch.uint8)
        p = self.config.flip_probability
        if p > 0:
            node_bits = bits.index_select(0, indices.reshape(-1)).view(self.num_nodes, self.n, -1)
            node_bits = node_bits ^ (torch.rand(node_bits.shape, device=xt.device) < p).view(
                torch.uint8
            )
            addr = kernels.address(node_bits)
        else:
            addr = kernels.gathered_address(bits, indices)
        table = self._train_values()
        return kernels.efd_gather_lookup(xt, table, self._weights(), indices, addr)


class DWNStableNode(DWNNode):
    """DWN with sigmoid tables and a 1/(H+1)-weighted finite-difference gradient.

    ``gradient_normalization`` and ``gradient_scale`` choose the gradient's size; upstream
    DiffLUT's convention is ``none`` and ``1.25`` (which also scales the table gradient).
    """

    config_class = DWNStableConfig

    def reset_parameters(self) -> None:
        self.raw = nn.Parameter(0.1 * torch.randn(self.num_nodes, self.table_size))

    def _weights(self) -> torch.Tensor:
        c = self.config
        return kernels.stable_weights(self.n, c.gradient_normalization, c.gradient_scale)

    def _values(self) -> torch.Tensor:
        return torch.sigmoid(self.raw)

    def _train_values(self) -> torch.Tensor:
        return kernels.scale_grad(self._values(), self.config.gradient_scale)

    def truth_table(self) -> torch.Tensor:
        return (self.raw >= 0).detach()


class HybridNode(ProbabilisticNode):
    """Hard lookup of the sigmoid table forward; gradient of the probabilistic expectation."""

    def relaxed(self, x: torch.Tensor) -> torch.Tensor:
        soft = kernels.multilinear(x, self.soft_table())
        hard = kernels.lookup(self.truth_table().to(soft.dtype), x >= 0.5)
        return soft + (hard - soft).detach()

    def expectation(self, x: torch.Tensor) -> torch.Tensor:
        return kernels.multilinear(x, self.soft_table())


class _LogitNode(LUTNode):
    """A node computing logits: sigmoid(logits / T) relaxed, a table of where logits >= 0."""

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for inputs (N, n, B) -> (N, B)."""
        raise NotImplementedError

    def expectation(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(x) / _temperature(self))

    def relaxed(self, x: torch.Tensor) -> torch.Tensor:
        return self.expectation(x)

    def truth_table(self) -> torch.Tensor:
        with torch.no_grad():
            return self.logits(self._corner_inputs()) >= 0


class LinearLUTNode(_LogitNode):
    """sigmoid((w . x + b) / T)."""

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.n)
        w = (torch.rand(self.num_nodes, self.n) * 2 - 1) * bound * 4
        self.weight = nn.Parameter(w)
        self.bias = nn.Parameter(-0.5 * w.sum(1))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("nib,ni->nb", x, self.weight) + self.bias.unsqueeze(1)


def _monomials(n: int, degree: int) -> torch.Tensor:
    """(M, degree) input indices of every monomial of total degree <= degree (n = constant 1)."""
    rows = []
    for d in range(degree + 1):
        for combo in itertools.combinations_with_replacement(range(n), d):
            rows.append(list(combo) + [n] * (degree - d))
    return torch.tensor(rows, dtype=torch.int64)


class PolyLUTNode(_LogitNode):
    """sigmoid of a linear combination of all monomials up to ``degree`` (84 for n=6, d=3)."""

    config_class = PolyLUTConfig

    def reset_parameters(self) -> None:
        self.register_buffer("monomials", _monomials(self.n, self.config.degree), persistent=False)
        m = self.monomials.shape[0]
        self.coeffs = nn.Parameter(torch.randn(self.num_nodes, m) / math.sqrt(m))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        ones = x.new_ones(x.shape[0], 1, x.shape[2])
        ext = torch.cat([x, ones], 1)  # (N, n+1, B)
        feats = ext[:, self.monomials[:, 0], :]
        for d in range(1, self.monomials.shape[1]):
            feats = feats * ext[:, self.monomials[:, d], :]
        return torch.bmm(self.coeffs.unsqueeze(1), feats).squeeze(1)


class NeuralLUTNode(_LogitNode):
    """A small MLP per node; Gumbel-sigmoid output while training."""

    config_class = NeuralLUTConfig

    def reset_parameters(self) -> None:
        c = self.config
        dims = [self.n] + [c.hidden_width] * c.hidden_layers + [1]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(dims[:-1], dims[1:]):
            bound = 1.0 / math.sqrt(fan_in)
            w = (torch.rand(self.num_nodes, fan_in, fan_out) * 2 - 1) * bound
            b = (torch.rand(self.num_nodes, 1, fan_out) * 2 - 1) * bound
            self.weights.append(nn.Parameter(w))
            self.biases.append(nn.Parameter(b))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        h = x.transpose(1, 2)  # (N, B, n)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)
            if i < last:
                h = torch.relu(h)
        return h.squeeze(-1)

    def relaxed(self, x: torch.Tensor) -> torch.Tensor:
        z = self.logits(x)
        return torch.sigmoid((z + kernels.gumbel_logistic(z.shape, z)) / _temperature(self))


class FourierNode(LUTNode):
    """clamp(b + sum_k a_k cos(2 pi <k, x> + phi_k), 0, 1) with k in 0.5 {0, 1}^n."""

    config_class = FourierConfig

    def reset_parameters(self) -> None:
        k = self.table_size
        self.register_buffer(
            "frequencies", 0.5 * kernels.corners(self.n).t().contiguous(), persistent=False
        )  # (n, K)
        self.amplitude = nn.Parameter(torch.randn(self.num_nodes, k) * (0.5 / k))
        self.phase = nn.Parameter(torch.rand(self.num_nodes, k) * 2 * math.pi)
        self.bias = nn.Parameter(torch.full((self.num_nodes,), 0.5))

    def relaxed(self, x: torch.Tensor) -> torch.Tensor:
        angle = torch.matmul(x.transpose(1, 2), self.frequencies)  # (N, B, K)
        waves = torch.cos(2 * math.pi * angle + self.phase.unsqueeze(1))
        value = (waves * self.amplitude.unsqueeze(1)).sum(-1) + self.bias.unsqueeze(1)
        return value.clamp(0, 1)


def _gate_tables() -> torch.Tensor:
    """(16, 4): each relaxed gate on the corners (a, b), address a + 2b."""
    a = torch.tensor([0.0, 1.0, 0.0, 1.0])
    b = torch.tensor([0.0, 0.0, 1.0, 1.0])
    ab = a * b
    gates = [
        torch.zeros(4),
        ab,
        a - ab,
        a,
        b - ab,
        b,
        a + b - 2 * ab,
        a + b - ab,
        1 - (a + b - ab),
        1 - (a + b - 2 * ab),
        1 - b,
        1 - b + ab,
        1 - a,
        1 - a + ab,
        1 - ab,
        torch.ones(4),
    ]
    return torch.stack(gates)


GATE_TABLES = _gate_tables()


class DiffLogicNode(LUTNode):
    """Two inputs; softmax(w / T) over the 16 relaxed logic gates (Petersen et al. 2022)."""

    config_class = DiffLogicConfig

    def reset_parameters(self) -> None:
        self.register_buffer("gates", GATE_TABLES.clone(), persistent=False)
        self.logits = nn.Parameter(torch.randn(self.num_nodes, 16))

    def soft_table(self) -> torch.Tensor:
        return torch.softmax(self.logits / _temperature(self), -1) @ self.gates

    def truth_table(self) -> torch.Tensor:
        return (self.gates[self.logits.argmax(-1)] >= 0.5).detach()

    def relaxed(self, x: torch.Tensor) -> torch.Tensor:
        # every relaxed gate is the multilinear extension of its truth table
        return kernels.multilinear(x, self.soft_table())


class WARPNode(LUTNode):
    """sigmoid(sum_S c_S prod_{i in S} (2 x_i - 1) / T): a Walsh expansion of the logit.

    The expansion is multilinear in x, so it equals the multilinear interpolation of its
    values on the corners (``c @ W``, ``W[S, a] = prod_{i in S} (2 a_i - 1)``); the node
    evaluates it that way. The hard form is the sign of the corner values.
    """

    config_class = WARPConfig

    def reset_parameters(self) -> None:
        h, degree = kernels.walsh_matrix(self.n)  # H[a, S] = (-1)^|a & S|
        signed = (h * (1 - 2 * (degree.long() % 2)).float()).t().contiguous()  # W[S, a]
        self.register_buffer("walsh", signed, persistent=False)
        self.coefficients = nn.Parameter(0.1 * torch.randn(self.num_nodes, self.table_size))

    def corner_logits(self) -> torch.Tensor:
        """The logit at every corner, (N, K)."""
        return self.coefficients @ self.walsh

    def soft_table(self) -> torch.Tensor:
        return torch.sigmoid(self.corner_logits() / _temperature(self))

    def truth_table(self) -> torch.Tensor:
        return (self.corner_logits() >= 0).detach()

    def relaxed(self, x: torch.Tensor) -> torch.Tensor:
        logits = kernels.multilinear(x, self.corner_logits())
        return torch.sigmoid(logits / _temperature(self))


#: node name -> class, from the one declaration in ``names.NODES``
NODE_CLASSES: dict[str, type[LUTNode]] = {
    name: globals()[cls] for name, (cls, _, _) in NODES.items()
}
for _name, _cls in NODE_CLASSES.items():
    _cls.model_type = _name


def node_class(name: str) -> type[LUTNode]:
    """The class of node type ``name``: one of :data:`NODE_CLASSES` or a registered node.

    Upstream DiffLUT spellings (``dwn_stable``) name the same classes. A node another plugin
    registers (``register_nodes``) must subclass :class:`LUTNode`.
    """
    name = canonical("node", name)
    if name in NODE_CLASSES:
        return NODE_CLASSES[name]
    from core.building import get_component

    cls = get_component("node", name)
    if not (isinstance(cls, type) and issubclass(cls, LUTNode)):
        raise ConfigError(
            f"node type {name!r} is {cls!r}, not a core_difflut.nodes.LUTNode subclass, "
            "which LUT layers need"
        )
    return cls
