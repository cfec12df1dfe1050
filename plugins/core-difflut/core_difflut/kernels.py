"""Vectorised LUT kernels shared by the node types.

Layout: node inputs are ``(N, n, B)`` (nodes, inputs per node, batch) and node outputs
``(N, B)``; a table is ``(N, 2**n)`` with address ``sum_j bit_j 2**j``.
"""

from __future__ import annotations

import functools

import torch

__all__ = [
    "corners",
    "address",
    "lookup",
    "gathered_address",
    "multilinear",
    "efd_weights",
    "stable_weights",
    "scale_grad",
    "efd_lookup",
    "efd_gather_lookup",
    "flip_index",
    "walsh_matrix",
    "binary_entropy",
    "gumbel_logistic",
]


@functools.lru_cache(maxsize=32)
def _corners_cpu(n: int) -> torch.Tensor:
    a = torch.arange(1 << n)
    return ((a.unsqueeze(1) >> torch.arange(n)) & 1).float()


def corners(n: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """The 2**n binary input vectors, ``(2**n, n)``, row a holding the bits of a."""
    return _corners_cpu(n).to(device)


def address(bits: torch.Tensor) -> torch.Tensor:
    """``(N, n, B)`` of 0/1 (or bool) -> ``(N, B)`` int64 addresses."""
    n = bits.shape[1]
    if bits.dtype in (torch.bool, torch.uint8):
        addr = bits[:, 0].to(torch.int64)
        for j in range(1, n):
            addr.add_(bits[:, j].to(torch.int64), alpha=1 << j)
        return addr
    powers = 2.0 ** torch.arange(n, device=bits.device, dtype=torch.float32)
    return torch.matmul(powers, bits.to(torch.float32)).to(torch.int64)


def gathered_address(bits: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """Addresses straight from 0/1 bytes: ``bits`` (F, B) uint8, ``indices`` (N, n) -> (N, B)."""
    n = indices.shape[1]
    if torch.compiler.is_exporting():  # ONNX: integer sums (its byte shifts mix int8 and uint8)
        return sum(bits.index_select(0, indices[:, j]).to(torch.int64) << j for j in range(n))
    dtype = torch.uint8 if n <= 8 else torch.int16
    addr = bits.index_select(0, indices[:, 0]).to(dtype)
    for j in range(1, n):
        addr |= bits.index_select(0, indices[:, j]).to(dtype) << j
    return addr.to(torch.int64)


def lookup(table: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
    """Hard lookup: ``table`` (N, K) at the addresses of ``bits`` (N, n, B) -> (N, B)."""
    return table.gather(1, address(bits))


def _weights(x: torch.Tensor) -> torch.Tensor:
    """Multilinear weights ``prod_j x_j^a_j (1-x_j)^(1-a_j)`` of (N, m, B) -> (N, 2**m, B)."""
    n_nodes, m, batch = x.shape
    if m == 0:
        return x.new_ones(n_nodes, 1, batch)
    xj = x[:, 0, :]
    w = torch.stack([1 - xj, xj], 1)
    for j in range(1, m):
        xj = x[:, j, :].unsqueeze(1)
        w = torch.cat([w - w * xj, w * xj], 1)
    return w


class _Multilinear(torch.autograd.Function):
    """Multilinear interpolation with a hand-written backward (no full-size zero buffers).

    Forward: weights of the high inputs are built by doubling (saved per level), one batched
    matmul contracts the table, and the low inputs are folded in from the highest down
    (contiguous halves). Backward runs the same steps in reverse.
    """

    @staticmethod
    def forward(ctx, x, table):  # type: ignore[override]
        n_nodes, n, batch = x.shape
        lo = n // 2
        hi = n - lo
        w_levels = []
        xj = x[:, lo, :]
        w = torch.stack([1 - xj, xj], 1)
        for j in range(lo + 1, n):
            w_levels.append(w)
            xj = x[:, j, :].unsqueeze(1)
            wx = w * xj
            w = torch.cat([w - wx, wx], 1)
        t = table.reshape(n_nodes, 1 << hi, 1 << lo).transpose(1, 2)  # (N, 2**lo, 2**hi)
        u = torch.bmm(t, w)  # (N, 2**lo, B)
        u_levels = []
        for j in range(lo - 1, -1, -1):
            u_levels.append(u)
            half = u.shape[1] // 2
            u0, u1 = u[:, :half], u[:, half:]
            u = torch.addcmul(u0, x[:, j, :].unsqueeze(1), u1 - u0)
        ctx.save_for_backward(x, table, w, *w_levels, *u_levels)
        ctx.counts = (len(w_levels), len(u_levels))
        return u.squeeze(1)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        x, table, w, *rest = ctx.saved_tensors
        n_w, _ = ctx.counts
        w_levels, u_levels = rest[:n_w], rest[n_w:]
        n_nodes, n, batch = x.shape
        lo = n // 2
        hi = n - lo
        want_x = ctx.needs_input_grad[0]
        grad_x = torch.empty_like(x) if want_x else None
        g = grad.unsqueeze(1)  # (N, 1, B)
        for step, j in enumerate(range(0, lo)):
            u = u_levels[lo - 1 - step]
            half = u.shape[1] // 2
            xj = x[:, j, :].unsqueeze(1)
            if want_x:
                grad_x[:, j, :] = (g * (u[:, half:] - u[:, :half])).sum(1)
            g_hi = g * xj
            g = torch.cat([g - g_hi, g_hi], 1)
        grad_table = None
        if ctx.needs_input_grad[1]:
            grad_table = torch.bmm(w, g.transpose(1, 2)).reshape(n_nodes, -1)
        if want_x:
            t = table.reshape(n_nodes, 1 << hi, 1 << lo)  # (N, 2**hi, 2**lo)
            gw = torch.bmm(t, g)  # (N, 2**hi, B)
            for j in range(n - 1, lo, -1):
                prev = w_levels[j - lo - 1]
                half = gw.shape[1] // 2
                g0, g1 = gw[:, :half], gw[:, half:]
                diff = g1 - g0
                grad_x[:, j, :] = (diff * prev).sum(1)
                gw = torch.addcmul(g0, x[:, j, :].unsqueeze(1), diff)
            grad_x[:, lo, :] = gw[:, 1] - gw[:, 0]
        return grad_x, grad_table


def multilinear(x: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Expectation of ``table`` over independent Bernoulli(x) input bits, (N, n, B) -> (N, B).

    The high inputs' multilinear weights contract the table in one batched matmul, then the
    low inputs are folded in one at a time (``u_lo + x (u_hi - u_lo)``): about 2**n + 2**(n/2+1)
    multiply-adds per node and sample, and no (N, 2**n, B) tensor is formed.
    """
    return _Multilinear.apply(x, table)


def _hamming_excluding(n: int) -> torch.Tensor:
    """(n, K, K): H[i, a, k] = popcount((a ^ k) with bit i cleared)."""
    k = torch.arange(1 << n)
    diff = k.view(-1, 1) ^ k.view(1, -1)
    out = []
    for i in range(n):
        d = diff & ~(1 << i)
        out.append(sum(((d >> j) & 1) for j in range(n)))
    return torch.stack(out)


def _sign(n: int) -> torch.Tensor:
    """(n, 1, K): +1 where k_i = 1, -1 where k_i = 0."""
    k = torch.arange(1 << n)
    return torch.stack([((k >> i) & 1) * 2 - 1 for i in range(n)]).view(n, 1, -1).float()


@functools.lru_cache(maxsize=32)
def efd_weights(n: int, alpha: float | None = None, beta: float = 1.0 / 3.0) -> torch.Tensor:
    """DWN Extended Finite Difference table, flattened to (n * 2**n, 2**n), cached per
    ``(n, alpha, beta)``.

    ``W[i, a, k] = alpha (-1)^(1 - k_i) beta^H(a without i, k without i)``; ``alpha`` defaults
    to ``0.5 * 0.75**(n-1)``.
    """
    if alpha is None:
        alpha = 0.5 * 0.75 ** (n - 1)
    w = alpha * _sign(n) * beta ** _hamming_excluding(n).double()
    return w.float().reshape(n << n, 1 << n).contiguous()


@functools.lru_cache(maxsize=32)
def stable_weights(n: int, normalization: str = "identity", scale: float = 1.0) -> torch.Tensor:
    """dwn-stable table ``scale (-1)^(1 - k_i) / (H + 1)``, cached per arguments.

    ``normalization="identity"`` also divides by ``(2**n - 1) / n``, so an identity LUT has
    input gradient 1; ``"none"`` keeps the raw sum (upstream DiffLUT's convention).
    """
    if normalization not in ("identity", "none"):
        raise ValueError(f"normalization must be 'identity' or 'none', got {normalization!r}")
    norm = n / ((1 << n) - 1) if normalization == "identity" else 1.0
    w = (scale * norm) * _sign(n) / (_hamming_excluding(n).float() + 1.0)
    return w.reshape(n << n, 1 << n).contiguous()


class _ScaleGrad(torch.autograd.Function):
    """Identity forward; the gradient times a constant."""

    @staticmethod
    def forward(ctx, x, scale):  # type: ignore[override]
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        return grad * ctx.scale, None


def scale_grad(x: torch.Tensor, scale: float) -> torch.Tensor:
    """``x`` unchanged, its gradient multiplied by ``scale`` (returned as is when 1)."""
    return x if scale == 1.0 else _ScaleGrad.apply(x, scale)


class _EFDLookup(torch.autograd.Function):
    """Hard lookup forward; finite-difference gradient to the inputs, exact to the table."""

    @staticmethod
    def forward(ctx, x, table, weights):  # type: ignore[override]
        addr = address(x >= 0.5)
        ctx.save_for_backward(addr, table, weights)
        return table.gather(1, addr)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        addr, table, weights = ctx.saved_tensors
        n_nodes, batch = addr.shape
        k = table.shape[1]
        n = weights.shape[0] // k
        grad = grad.contiguous()
        grad_table = None
        if ctx.needs_input_grad[1]:
            grad_table = torch.zeros_like(table).scatter_add_(1, addr, grad)
        grad_x = None
        if ctx.needs_input_grad[0]:
            m = (table.detach() @ weights.t()).view(n_nodes, n, k)
            index = addr.unsqueeze(1).expand(n_nodes, n, batch)
            grad_x = m.gather(2, index) * grad.unsqueeze(1)
        return grad_x, grad_table, None


class _EFDGather(torch.autograd.Function):
    """DWN lookup fused with the layer's input gather: (F, B) inputs, (N, n) connections.

    The forward reads bytes (addresses are precomputed from 0/1 inputs); the backward
    spreads the finite-difference input gradients back onto the (F, B) inputs.
    """

    @staticmethod
    def forward(ctx, xt, table, weights, indices, addr, binarize):  # type: ignore[override]
        ctx.binarize = binarize
        ctx.save_for_backward(addr, table, weights, indices)
        ctx.input_shape = xt.shape
        value = table.gather(1, addr)
        return (value >= 0.5).to(value.dtype) if ctx.binarize else value

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        addr, table, weights, indices = ctx.saved_tensors
        n_nodes, batch = addr.shape
        k = table.shape[1]
        n = weights.shape[0] // k
        grad = grad.contiguous()
        grad_table = grad_xt = None
        if ctx.needs_input_grad[1]:
            grad_table = torch.zeros_like(table).scatter_add_(1, addr, grad)
        if ctx.needs_input_grad[0]:
            m = (table.detach() @ weights.t()).view(n_nodes, n, k)
            index = addr.unsqueeze(1).expand(n_nodes, n, batch)
            per_input = m.gather(2, index).mul_(grad.unsqueeze(1))
            grad_xt = grad.new_zeros(ctx.input_shape)
            grad_xt.index_add_(0, indices.reshape(-1), per_input.view(n_nodes * n, batch))
        return grad_xt, grad_table, None, None, None, None


def efd_gather_lookup(
    xt: torch.Tensor,
    table: torch.Tensor,
    weights: torch.Tensor,
    indices: torch.Tensor,
    addr: torch.Tensor,
    binarize: bool = True,
) -> torch.Tensor:
    """``table[addr] >= 0.5`` (straight-through to the table) for inputs ``xt`` (F, B) read
    through ``indices`` (N, n), with the finite-difference backward to the inputs."""
    w = weights.to(device=table.device, dtype=table.dtype)
    return _EFDGather.apply(xt, table, w, indices, addr, binarize)


def efd_lookup(x: torch.Tensor, table: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``table[addr(x >= 0.5)]`` with the finite-difference backward given by ``weights``."""
    return _EFDLookup.apply(x, table, weights.to(device=table.device, dtype=table.dtype))


@functools.lru_cache(maxsize=16)
def flip_index(n: int) -> torch.Tensor:
    """(n, K): address a with bit i flipped."""
    k = torch.arange(1 << n)
    return torch.stack([k ^ (1 << i) for i in range(n)])


@functools.lru_cache(maxsize=16)
def walsh_matrix(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(K, K) Walsh-Hadamard matrix H[a, S] = (-1)^popcount(a & S) and the degree |S| (K,)."""
    k = torch.arange(1 << n)
    both = k.view(-1, 1) & k.view(1, -1)
    parity = sum(((both >> j) & 1) for j in range(n)) % 2
    degree = sum(((k >> j) & 1) for j in range(n)).float()
    return (1 - 2 * parity).float(), degree


def binary_entropy(p: torch.Tensor) -> torch.Tensor:
    """Elementwise binary entropy in nats."""
    p = p.clamp(1e-6, 1 - 1e-6)
    return -(p * p.log() + (1 - p) * (1 - p).log())


def gumbel_logistic(shape: torch.Size, like: torch.Tensor) -> torch.Tensor:
    """Logistic noise (difference of two Gumbels)."""
    u = torch.rand(shape, device=like.device, dtype=like.dtype).clamp(1e-6, 1 - 1e-6)
    return u.log() - (1 - u).log()
