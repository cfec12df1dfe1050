"""Fixed-point integer inputs for the hardware export.

The hardware takes each feature as an unsigned ``bits``-wide integer ``q``; the float model
sees ``float32(q) / float32(scale)`` (the bundled datasets are scaled that way: digits pixels
0..16 divided by 16, mnist-5k pixels 0..255 divided by 255). An encoder threshold ``t`` then
becomes the integer ``K``, the smallest ``q`` with ``float32(q) / scale > t``, so the
comparison ``q >= K`` gives exactly the bit the float model computes for that input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import ConfigError

__all__ = ["IntegerInputs", "DATASET_INPUTS", "integer_inputs_for"]

MAX_INPUT_BITS = 24  # every q below 2**24 is exact in float32


@dataclass(frozen=True)
class IntegerInputs:
    """Unsigned ``bits``-wide integer features; the float model sees ``q / scale``."""

    bits: int
    scale: float

    def __post_init__(self) -> None:
        if not 1 <= self.bits <= MAX_INPUT_BITS:
            raise ConfigError(f"input bits must be 1..{MAX_INPUT_BITS}, got {self.bits}")
        if not np.isfinite(self.scale) or self.scale <= 0:
            raise ConfigError(f"input scale must be a positive number, got {self.scale}")

    @property
    def levels(self) -> np.ndarray:
        """What the float model sees for q = 0 .. 2**bits - 1 (float32, non-decreasing)."""
        q = np.arange(1 << self.bits, dtype=np.float32)
        return q / np.float32(self.scale)

    def features(self, q: np.ndarray) -> np.ndarray:
        """Integer inputs -> the float32 features the model is evaluated on."""
        q = np.asarray(q)
        if q.size and (q.min() < 0 or q.max() >= 1 << self.bits):
            raise ConfigError(f"integer inputs must lie in 0..{(1 << self.bits) - 1}")
        return q.astype(np.float32) / np.float32(self.scale)

    def thresholds(self, thresholds: np.ndarray) -> np.ndarray:
        """Float thresholds (F, L) -> integer K (F, L): ``q / scale > t`` iff ``q >= K``.

        K = 0 means the bit is always 1 and K = 2**bits that it is always 0.
        """
        t = np.asarray(thresholds, np.float32)
        return np.searchsorted(self.levels, t, side="right").astype(np.int64)

    def describe(self) -> str:
        return f"unsigned {self.bits}-bit integers q; the float model sees q / {self.scale:g}"


#: how the bundled datasets scale their integer pixels (core_difflut.data.load_dataset)
DATASET_INPUTS = {
    "digits": IntegerInputs(bits=5, scale=16.0),
    "mnist-5k": IntegerInputs(bits=8, scale=255.0),
}


def integer_inputs_for(
    dataset: str | None, bits: int | None = None, scale: float | None = None
) -> IntegerInputs:
    """The integer input format: explicit ``bits``/``scale``, else the dataset's."""
    known = DATASET_INPUTS.get(dataset or "")
    if bits is None and known is not None:
        bits = known.bits
    if scale is None and known is not None:
        scale = known.scale
    if bits is None or scale is None:
        raise ConfigError(
            f"integer inputs of a model for dataset {dataset!r} need --input-bits and "
            "--input-scale (the float model sees q / scale); or export with --inputs bits"
        )
    return IntegerInputs(bits=int(bits), scale=float(scale))
