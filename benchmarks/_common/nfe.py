"""Network-evaluation budgets: the sampler steps that fit one."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["steps_for"]


def steps_for(nfe_of: Callable[[int], int], budget: int) -> int:
    """The most steps whose NFE stays within ``budget``; ``nfe_of(steps)`` is linear in steps
    (at least 1 step, which may exceed a budget below one step's NFE)."""
    per_step = nfe_of(3) - nfe_of(2)
    offset = nfe_of(2) - 2 * per_step
    return max(1, (budget - offset) // per_step)
