"""Node types: relaxations, true-LUT hard forms, evaluation modes, gradients, regularisers."""

from __future__ import annotations

import pytest
import torch
from core_difflut import kernels
from core_difflut.nodes import GATE_TABLES, NODE_CLASSES

from core import ConfigError
from core.testing import check_component

NAMES = list(NODE_CLASSES)


def make(name: str, nodes: int = 5, n: int = 4, **kw):
    n = 2 if name == "difflogic" else n
    torch.manual_seed(0)
    return NODE_CLASSES[name]({"num_nodes": nodes, "input_dim": n, **kw})


@pytest.mark.parametrize("name", NAMES)
def test_conformance(name: str) -> None:
    n = 2 if name == "difflogic" else 3
    check_component("node", name, {"num_nodes": 4, "input_dim": n})


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_eval_is_the_truth_table(name: str) -> None:
    node = make(name).eval()
    table = node.truth_table()
    assert table.shape == (5, 1 << node.n) and table.dtype == torch.bool
    x = torch.rand(64, 5, node.n)
    out = node(x)
    bits = (x >= 0.5).long()
    addr = (bits * (2 ** torch.arange(node.n))).sum(-1)  # (B, N)
    expected = table.float().t().gather(0, addr)
    assert torch.equal(out, expected)


@pytest.mark.parametrize("name", NAMES)
def test_truth_table_agrees_with_relaxation_on_corners(name: str) -> None:
    # difflogic's hard form is its argmax gate: the relaxation reaches it as T -> 0
    node = make(name, temperature=0.01 if name == "difflogic" else 1.0).eval()
    node.apply_runtime_overrides(eval_mode="expectation")
    corners = kernels.corners(node.n)  # (K, n)
    x = corners.unsqueeze(1).expand(-1, 5, -1)  # (K, N, n): every corner for every node
    soft = node(x).t()  # (N, K)
    table = node.truth_table()
    confident = (soft - 0.5).abs() > 1e-4
    assert torch.equal((soft >= 0.5)[confident], table[confident])


@pytest.mark.parametrize("name", NAMES)
def test_all_eval_modes_and_training_gradients(name: str) -> None:
    node = make(name)
    x = torch.rand(16, 5, node.n)
    for mode in ("expectation", "deterministic", "sampling"):
        node.eval().apply_runtime_overrides(eval_mode=mode)
        out = node(x)
        assert out.shape == (16, 5) and torch.isfinite(out).all()
        if mode != "expectation":
            assert set(out.unique().tolist()) <= {0.0, 1.0}
    node.train()
    xg = x.clone().requires_grad_(True)
    node(xg).sum().backward()
    grads = [p.grad for p in node.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)
    assert xg.grad is not None and xg.grad.abs().sum() > 0


def test_probabilistic_is_the_expectation_over_bernoulli_inputs() -> None:
    node = make("probabilistic", nodes=2, n=3, temperature=0.7).train()
    x = torch.rand(4, 2, 3, dtype=torch.float32)
    table = torch.sigmoid(node.theta / 0.7)  # (N, K)
    c = kernels.corners(3)
    prob = (x.unsqueeze(2) * c + (1 - x.unsqueeze(2)) * (1 - c)).prod(-1)  # (B, N, K)
    expected = (prob * table).sum(-1)
    assert torch.allclose(node(x), expected, atol=1e-6)


def test_multilinear_gradcheck() -> None:
    for n in (1, 2, 3, 6):
        x = torch.rand(3, n, 5, dtype=torch.float64, requires_grad=True)
        t = torch.rand(3, 1 << n, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(kernels.multilinear, (x, t))


def test_dwn_extended_finite_difference_gradient() -> None:
    n = 3
    node = make("dwn", nodes=1, n=n).train()
    x = torch.tensor([[[0.9, 0.2, 0.7]]], requires_grad=True)  # address 0b101 = 5
    out = node(x)
    assert out.item() == float(node.table[0, 5] >= 0.5)
    out.sum().backward()
    table = node.table.detach()[0]
    alpha, beta = 0.5 * 0.75 ** (n - 1), 1 / 3
    for i in range(n):
        expected = 0.0
        for k in range(1 << n):
            sign = 1 if (k >> i) & 1 else -1
            h = bin((5 ^ k) & ~(1 << i)).count("1")
            expected += alpha * sign * table[k].item() * beta**h
        assert x.grad[0, 0, i].item() == pytest.approx(expected, rel=1e-5)
    grad_table = node.table.grad[0]
    assert grad_table[5] == 1 and grad_table.abs().sum() == 1


def test_difflogic_gates_and_argmax_hard_form() -> None:
    a = torch.tensor([0.0, 1.0, 0.0, 1.0])
    b = torch.tensor([0.0, 0.0, 1.0, 1.0])
    assert torch.equal(GATE_TABLES[1], a * b)  # AND
    assert torch.equal(GATE_TABLES[6], a + b - 2 * a * b)  # XOR
    assert torch.equal(GATE_TABLES[14], 1 - a * b)  # NAND
    node = make("difflogic", nodes=3)
    with torch.no_grad():
        node.logits.zero_()
        node.logits[0, 6] = 5  # XOR
        node.logits[1, 1] = 5  # AND
        node.logits[2, 15] = 5  # TRUE
    assert node.truth_table().long().tolist() == [[0, 1, 1, 0], [0, 0, 0, 1], [1, 1, 1, 1]]


def test_flip_probability_changes_training_inputs_only() -> None:
    node = make("dwn", nodes=50, n=4, flip_probability=0.4)
    x = (torch.rand(64, 50, 4) > 0.5).float()
    node.eval()
    assert torch.equal(node(x), node(x))
    node.train()
    torch.manual_seed(1)
    flipped = node(x)
    node.apply_runtime_overrides(flip_probability=0.0)
    assert not torch.equal(flipped, node(x))


def test_regularizers_on_known_tables() -> None:
    node = make("dwn", nodes=2, n=2)
    with torch.no_grad():
        node.table[0] = torch.tensor([0.0, 1.0, 1.0, 0.0])  # XOR: every flip changes it
        node.table[1] = torch.tensor([1.0, 1.0, 1.0, 1.0])  # constant
    assert node.regularization("l1").item() == pytest.approx(0.5)
    assert node.regularization("l2").item() == pytest.approx(0.5)
    # XOR has all its spectral mass (0.25 at S = {0, 1}, degree 2); constant has none
    assert node.regularization("spectral").item() == pytest.approx(0.5 * 2 * 0.25)
    assert node.regularization("clarity").item() == pytest.approx(0.0)
    assert node.regularization("entropy").item() < 1e-4
    with pytest.raises(ConfigError):
        node.regularization("nope")


def test_bad_shapes_and_configs() -> None:
    node = make("probabilistic")
    with pytest.raises(ConfigError, match=r"expected input \(batch, 5, 4\)"):
        node(torch.rand(2, 5, 3))
    with pytest.raises(ConfigError):
        NODE_CLASSES["difflogic"]({"input_dim": 3})
    with pytest.raises(ConfigError):
        NODE_CLASSES["probabilistic"]({"eval_mode": "bogus"})
