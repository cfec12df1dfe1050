"""Layers: connectivity, learnable mapping, GroupSum."""

from __future__ import annotations

import pytest
import torch
from core_difflut.layers import GroupSum, LearnableLayer, RandomLayer, random_connections

from core import ConfigError
from core.testing import check_component


@pytest.mark.parametrize("name", ["random", "learnable"])
def test_conformance(name: str) -> None:
    check_component("layer", name, {"input_dim": 20, "output_dim": 8, "node": {"type": "dwn"}})


def test_groupsum_conformance() -> None:
    check_component("layer", "groupsum", {"num_classes": 3, "tau": 2.0})


def test_random_connectivity_covers_every_input_and_is_seeded() -> None:
    idx = random_connections(100, 40, 6, seed=3)
    assert idx.shape == (40, 6)
    assert set(idx.flatten().tolist()) == set(range(100))
    assert torch.equal(idx, random_connections(100, 40, 6, seed=3))
    assert not torch.equal(idx, random_connections(100, 40, 6, seed=4))
    # no node reads the same input twice
    assert all(len(set(row)) == 6 for row in idx.tolist())
    few = random_connections(100, 5, 6, seed=0)  # 30 slots < 100 inputs: all distinct
    assert len(set(few.flatten().tolist())) == 30


def test_random_layer_reads_its_connections() -> None:
    layer = RandomLayer(input_dim=30, output_dim=10, node={"type": "dwn", "input_dim": 3}).eval()
    x = (torch.rand(7, 30) > 0.5).float()
    table = layer.node.truth_table().float()
    bits = x[:, layer.indices]  # (B, N, n)
    addr = (bits.long() * torch.tensor([1, 2, 4])).sum(-1)
    expected = table.t().gather(0, addr)
    assert torch.equal(layer(x), expected)


def test_learnable_layer_uses_argmax_in_eval_and_trains_the_mapping() -> None:
    torch.manual_seed(0)
    layer = LearnableLayer(input_dim=12, output_dim=4, node={"type": "dwn", "input_dim": 2})
    conn = layer.connections()
    assert torch.equal(conn, layer.mapping.argmax(-1).view(4, 2))
    x = (torch.rand(16, 12) > 0.5).float()
    layer.train()
    layer(x).sum().backward()
    assert layer.mapping.grad is not None and layer.mapping.grad.abs().sum() > 0
    layer.eval()
    bits = x[:, conn]
    addr = bits[..., 0].long() + 2 * bits[..., 1].long()
    assert torch.equal(layer(x), layer.node.truth_table().float().t().gather(0, addr))


def test_groupsum_pads_and_divides() -> None:
    gs = GroupSum(num_classes=3, tau=2.0)
    x = torch.ones(2, 7)  # padded to 9: groups of 3, the last holds one real feature
    assert gs(x).tolist() == [[1.5, 1.5, 0.5]] * 2


def test_layer_shape_errors() -> None:
    layer = RandomLayer(input_dim=10, output_dim=4)
    with pytest.raises(ConfigError, match=r"expected input \(batch, 10\)"):
        layer(torch.rand(3, 11))
    with pytest.raises(ConfigError, match="unknown node .nope.; known nodes"):
        RandomLayer(node={"type": "nope"})


@pytest.mark.parametrize("node", ["dwn", "dwn-stable"])
def test_fused_dwn_training_path_matches_the_plain_path(node: str) -> None:
    torch.manual_seed(0)
    layer = RandomLayer(input_dim=40, output_dim=16, node={"type": node, "input_dim": 4}).train()
    x = torch.rand(9, 40).round()
    x1 = x.clone().requires_grad_(True)
    fused = layer(x1)
    fused.pow(2).sum().backward()
    grads = [p.grad.clone() for p in layer.node.parameters()]
    layer.zero_grad()
    x2 = x.clone().requires_grad_(True)
    plain = layer.node.evaluate(layer.gather(x2.t())).t()
    plain.pow(2).sum().backward()
    assert torch.equal(fused, plain)
    assert torch.allclose(x1.grad, x2.grad, atol=1e-6)
    for g, p in zip(grads, layer.node.parameters()):
        assert torch.allclose(g, p.grad, atol=1e-6)


def test_learnable_layer_with_a_candidate_pool() -> None:
    torch.manual_seed(0)
    layer = LearnableLayer(
        input_dim=50, output_dim=10, node={"type": "dwn", "input_dim": 3}, candidates=4
    )
    assert layer.mapping.shape == (30, 4) and layer.pool.shape == (30, 4)
    assert len(set(layer.pool[:, 0].tolist())) == 30  # 30 slots, 50 inputs: all distinct
    conn = layer.connections().flatten()
    assert all(int(c) in layer.pool[i].tolist() for i, c in enumerate(conn))
    x = (torch.rand(8, 50) > 0.5).float()
    layer.train()
    layer(x).sum().backward()
    assert layer.mapping.grad.abs().sum() > 0
    layer.eval()
    bits = x[:, layer.connections()]
    addr = (bits.long() * torch.tensor([1, 2, 4])).sum(-1)
    assert torch.equal(layer(x), layer.node.truth_table().float().t().gather(0, addr))
