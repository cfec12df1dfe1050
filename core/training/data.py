"""Deterministic, resumable data order (also under torchrun)."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from core.training.distributed import DistInfo

__all__ = ["ResumableSampler", "make_loader", "epoch_batches"]


class ResumableSampler(Sampler[int]):
    """A ``DistributedSampler`` (1 process: rank 0 of 1) that can start an epoch part-way.

    The order of epoch ``e`` is a permutation seeded by ``seed + e``; ``skip`` drops the first
    items of the epoch on this process (what a resumed run has already seen).
    """

    def __init__(self, dataset: Dataset, info: DistInfo, *, shuffle: bool, seed: int) -> None:
        self.inner = DistributedSampler(
            dataset,
            num_replicas=info.world_size,
            rank=info.rank,
            shuffle=shuffle,
            seed=seed,
            drop_last=False,
        )
        self.skip = 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.inner.set_epoch(epoch)
        self.skip = skip

    def __iter__(self) -> Iterator[int]:
        indices = list(self.inner)
        return iter(indices[self.skip :])

    def __len__(self) -> int:
        return len(self.inner) - self.skip


def make_loader(
    dataset: Dataset,
    sampler: ResumableSampler,
    *,
    batch_size: int,
    drop_last: bool,
    num_workers: int,
    seed: int,
    pin_memory: bool = False,
) -> DataLoader:
    """The run's one loader, iterated once per epoch by ``epoch_batches``.

    Its worker processes (``num_workers > 0``) persist across epochs; its own generator keeps
    the global RNG untouched. The order of items is the sampler's alone, so a resumed run sees
    the same batches as an uninterrupted one with any number of workers.
    """
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        drop_last=drop_last,
        num_workers=num_workers,
        pin_memory=pin_memory,
        generator=torch.Generator().manual_seed(seed * 100_003),
        persistent_workers=num_workers > 0,
    )


def epoch_batches(loader: DataLoader, epoch: int, skip: int = 0) -> Iterator:
    """The batches of ``epoch`` from ``loader`` (made by ``make_loader``), without its first
    ``skip`` items on this process (what a resumed run has already seen)."""
    sampler = loader.sampler
    if not isinstance(sampler, ResumableSampler):
        raise TypeError("epoch_batches needs a loader made by make_loader")
    sampler.set_epoch(epoch, skip=skip)
    return iter(loader)
