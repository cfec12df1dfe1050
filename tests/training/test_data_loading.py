"""The run's loader: one set of worker processes for every epoch, the sampler's order."""

from __future__ import annotations

import os

import torch
from torch.utils.data import Dataset

from core.training.data import ResumableSampler, epoch_batches, make_loader
from core.training.distributed import DistInfo


class _Pids(Dataset):
    """Item i is (i, the pid of the process that read it)."""

    def __len__(self) -> int:
        return 12

    def __getitem__(self, index: int) -> tuple[int, int]:
        return index, os.getpid()


def _epochs(workers: int, start: int, skip: int = 0) -> list[tuple[list[int], set[int]]]:
    dataset = _Pids()
    sampler = ResumableSampler(dataset, DistInfo(), shuffle=True, seed=3)
    loader = make_loader(
        dataset, sampler, batch_size=4, drop_last=False, num_workers=workers, seed=3
    )
    out = []
    for epoch in range(start, 3):
        batches = list(epoch_batches(loader, epoch, skip=skip if epoch == start else 0))
        out.append(
            (torch.cat([b[0] for b in batches]).tolist(), {int(p) for b in batches for p in b[1]})
        )
    return out


def test_workers_persist_across_epochs():
    epochs = _epochs(workers=1, start=0)
    pids = set().union(*(p for _, p in epochs))
    assert len(pids) == 1 and os.getpid() not in pids, pids


def test_order_is_the_samplers_with_any_workers_and_on_resume():
    plain = _epochs(workers=0, start=0)
    assert [order for order, _ in _epochs(workers=1, start=0)] == [o for o, _ in plain]
    assert plain[0][0] != plain[1][0]  # each epoch its own permutation
    resumed = _epochs(workers=1, start=1, skip=4)
    assert resumed[0][0] == plain[1][0][4:]
    assert resumed[1][0] == plain[2][0]
