"""Bit-packed NumPy evaluator of an exported DiffLUT network (depends on NumPy only).

64 samples share one uint64 word per signal; each LUT is evaluated as a multiplexer tree
over the bit planes of its inputs; GroupSum is a per-class popcount. Usable standalone:
``python difflut_numpy.py model.npz inputs.npy`` prints the predicted classes.
"""

from __future__ import annotations

import sys

import numpy as np

__all__ = ["DiffLUTNumpy", "load", "pack_bits", "unpack_bits"]

_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """(signals, samples) 0/1 -> (signals, ceil(samples/64)) uint64; sample s is bit s % 64."""
    signals, samples = bits.shape
    words = -(-samples // 64)
    padded = np.zeros((signals, words * 64), dtype=np.uint8)
    padded[:, :samples] = bits
    packed = np.packbits(padded, axis=1, bitorder="little")
    return np.ascontiguousarray(packed).view("<u8").reshape(signals, words)


def unpack_bits(planes: np.ndarray, samples: int) -> np.ndarray:
    """Inverse of ``pack_bits``: (signals, words) uint64 -> (signals, samples) uint8."""
    as_bytes = np.ascontiguousarray(planes.astype("<u8")).view(np.uint8)
    return np.unpackbits(as_bytes, axis=1, bitorder="little")[:, :samples]


class DiffLUTNumpy:
    """Evaluate an exported network: ``predict(x)`` from features, ``predict_bits`` from bits."""

    def __init__(self, spec: dict) -> None:
        self.thresholds = np.asarray(spec["thresholds"], dtype=np.float32)
        self.code = np.asarray(spec["code"], dtype=np.uint8)
        self.thermometer = bool(spec["thermometer"])
        self.layers = [
            (np.asarray(layer["indices"], np.int64), np.asarray(layer["tables"], np.uint8))
            for layer in spec["layers"]
        ]
        self.num_classes = int(spec["num_classes"])

    def encode(self, x: np.ndarray) -> np.ndarray:
        """Features (B, F) float32 -> bits (B, F * num_bits) uint8."""
        x = np.asarray(x, dtype=np.float32).reshape(len(x), -1)
        if x.shape[1] != self.thresholds.shape[0]:
            raise ValueError(f"expected {self.thresholds.shape[0]} features, got {x.shape[1]}")
        above = x[:, :, None] > self.thresholds[None]
        bits = above.astype(np.uint8) if self.thermometer else self.code[above.sum(-1)]
        return bits.reshape(len(x), -1)

    def run_planes(self, planes: np.ndarray) -> np.ndarray:
        """Input bit planes (F_bits, W) -> last-layer bit planes (N_last, W)."""
        for indices, tables in self.layers:
            nodes, n = indices.shape
            inputs = planes[indices]  # (N, n, W)
            t = np.where(tables[:, :, None].astype(bool), _ALL, np.uint64(0))
            t = np.broadcast_to(t, (nodes, tables.shape[1], planes.shape[1]))
            for j in range(n):
                lo, hi = t[:, 0::2], t[:, 1::2]
                t = lo ^ ((lo ^ hi) & inputs[:, j, None, :])
            planes = t[:, 0, :]
        return planes

    def scores(self, planes: np.ndarray, samples: int) -> np.ndarray:
        """Per-class popcounts (B, num_classes) of the last layer's planes."""
        bits = unpack_bits(planes, samples).astype(np.int64)  # (N_last, B)
        pad = (-bits.shape[0]) % self.num_classes
        if pad:
            bits = np.concatenate([bits, np.zeros((pad, samples), np.int64)])
        return bits.reshape(self.num_classes, -1, samples).sum(1).T

    def predict_bits(self, bits: np.ndarray, chunk: int = 4096) -> np.ndarray:
        """Encoded bits (B, F_bits) -> classes (B,)."""
        out = []
        for start in range(0, len(bits), chunk):
            part = bits[start : start + chunk]
            planes = self.run_planes(pack_bits(np.ascontiguousarray(part.T)))
            out.append(self.scores(planes, len(part)).argmax(1))
        return np.concatenate(out) if out else np.zeros(0, np.int64)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Features (B, F) -> classes (B,) (first maximum wins ties, as torch.argmax)."""
        return self.predict_bits(self.encode(x))


def load(path: str) -> DiffLUTNumpy:
    """Load ``model.npz`` written by the exporter."""
    with np.load(path) as data:
        layers = [
            {"indices": data[f"layer{i}_indices"], "tables": data[f"layer{i}_tables"]}
            for i in range(int(data["num_layers"]))
        ]
        spec = {
            "thresholds": data["thresholds"],
            "code": data["code"],
            "thermometer": bool(data["thermometer"]),
            "num_classes": int(data["num_classes"]),
            "layers": layers,
        }
    return DiffLUTNumpy(spec)


if __name__ == "__main__":  # python difflut_numpy.py model.npz inputs.npy
    net = load(sys.argv[1])
    for label in net.predict(np.load(sys.argv[2])):
        print(int(label))
