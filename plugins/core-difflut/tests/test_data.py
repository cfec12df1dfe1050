"""load_dataset: the fixed validation split every DiffLUT selection reads."""

from __future__ import annotations

import numpy as np
from core_difflut.data import VALIDATION_SHARE, load_dataset


def _rows(x: np.ndarray) -> set[bytes]:
    return {row.tobytes() for row in x}


def test_validation_is_carved_from_train_and_leaves_test_alone():
    plain = load_dataset("digits")
    split = load_dataset("digits", validation=True)
    assert np.array_equal(plain["x_test"], split["x_test"])
    assert np.array_equal(plain["y_test"], split["y_test"])
    assert len(split["y_train"]) + len(split["y_val"]) == len(plain["y_train"]) == 1438
    assert (len(split["y_train"]), len(split["y_val"]), len(split["y_test"])) == (1222, 216, 359)
    # the same images, split in two: validation and train share none
    joined = np.concatenate([split["x_train"], split["x_val"]])
    assert sorted(_rows(joined)) == sorted(_rows(plain["x_train"]))
    assert not _rows(split["x_val"]) & _rows(split["x_train"])
    assert sorted(np.concatenate([split["y_train"], split["y_val"]]).tolist()) == sorted(
        plain["y_train"].tolist()
    )


def test_validation_is_stratified_and_fixed():
    split = load_dataset("digits", validation=True)
    again = load_dataset("digits", validation=True)
    assert np.array_equal(split["x_val"], again["x_val"])
    train_counts = np.bincount(split["y_train"]) + np.bincount(split["y_val"])
    expected = np.round(train_counts * VALIDATION_SHARE).astype(int)
    assert np.array_equal(np.bincount(split["y_val"]), expected)
