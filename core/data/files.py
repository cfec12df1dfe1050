"""Datasets read from user files: MNIST IDX, image folders, ``.npz``/``.safetensors`` arrays."""

from __future__ import annotations

import gzip
import math
import os
import stat
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.component import Component
from core.data.configs import ImageFolderConfig, MnistConfig, TensorsConfig
from core.data.images import ImageTensorDataset, open_image
from core.errors import DataError

__all__ = ["Mnist", "ImageFolder", "Tensors", "read_idx"]

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (optionally gzipped) as a numpy array.

    The header's shape is checked against the bytes in the file (exact integers: a header
    claiming 65536^4 items never overflows) before the data is read.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            magic = handle.read(4)
            if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in _IDX_TYPES:
                raise DataError(f"{path}: not an IDX file (bad magic number {magic.hex()})")
            ndim = magic[3]
            dims = handle.read(4 * ndim)
            if len(dims) < 4 * ndim:
                raise DataError(f"{path}: IDX file truncated inside its header")
            shape = struct.unpack(f">{ndim}I", dims)
            dtype = np.dtype(_IDX_TYPES[magic[2]])
            expected = math.prod(shape) * dtype.itemsize
            if path.suffix != ".gz":  # the size on disk says it before anything is read
                _check_idx_size(path, shape, expected, path.stat().st_size - 4 - 4 * ndim)
            if math.prod(d for d in shape if d) * dtype.itemsize > np.iinfo(np.intp).max:
                raise DataError(f"{path}: IDX header shape {shape} is too large for an array")
            data = _read_at_most(handle, expected + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot read IDX file: {exc}") from None
    _check_idx_size(path, shape, expected, len(data))
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def _read_at_most(handle: Any, limit: int, chunk: int = 1 << 24) -> bytearray:
    """Up to ``limit`` bytes, read in chunks (a header's claim never sizes a buffer)."""
    data = bytearray()
    while len(data) < limit:
        block = handle.read(min(chunk, limit - len(data)))
        if not block:
            break
        data += block
    return data


def _check_idx_size(path: Path, shape: tuple[int, ...], expected: int, found: int) -> None:
    if found != expected:
        raise DataError(
            f"{path}: IDX header says shape {shape} ({expected:,} bytes), file holds "
            f"{found:,} bytes ({'truncated?' if found < expected else 'trailing bytes'})"
        )


def _find_idx(root: Path, stem: str) -> Path:
    for name in (
        stem,
        f"{stem}.gz",
        stem.replace("-idx", ".idx"),
        f"{stem.replace('-idx', '.idx')}.gz",
    ):
        if (root / name).is_file():
            return root / name
    raise DataError(f"dataset 'mnist': {root} has no {stem} or {stem}.gz")


class Mnist(ImageTensorDataset):
    """MNIST-format IDX files in a local folder (``train-*`` and ``t10k-*``)."""

    config_class = MnistConfig

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        self.config = self.resolve_config(config, **overrides)
        root = Path(self.config.root).expanduser()
        if not root.is_dir():
            raise DataError(f"dataset 'mnist': root {root} is not a directory")
        prefixes = {"train": ["train"], "test": ["t10k"], "all": ["train", "t10k"]}
        images, labels = [], []
        for prefix in prefixes[self.config.split]:
            x = read_idx(_find_idx(root, f"{prefix}-images-idx3-ubyte"))
            y = read_idx(_find_idx(root, f"{prefix}-labels-idx1-ubyte"))
            if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
                raise DataError(
                    f"dataset 'mnist': {prefix} images {x.shape} and labels {y.shape} do not match"
                )
            images.append(x)
            labels.append(y.astype(np.int64))
        data = np.concatenate(images).astype(np.float32)[:, None] / 255.0
        self._finish(torch.from_numpy(data), np.concatenate(labels))


class ImageFolder(ImageTensorDataset):
    """Images under ``root`` read with Pillow; class sub-folders give labels when present.

    Links are followed while they stay inside ``root`` (each folder is read once, so a link
    back up ends no walk in a loop); one that leads outside is refused, unless
    ``allow_paths_outside_root``.
    """

    config_class = ImageFolderConfig

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        self.config = self.resolve_config(config, **overrides)
        given = Path(self.config.root).expanduser()
        if not given.is_dir():
            raise DataError(f"dataset 'image-folder': root {given} is not a directory")
        root = given.resolve()
        suffixes = {s.lower() for s in self.config.extensions}
        top = _FolderWalk(root, suffixes, self.config.allow_paths_outside_root)
        entries = top.entries(root)
        classes = sorted(
            p.name for p, info in entries if stat.S_ISDIR(info.st_mode) and p.name[0] != "."
        )
        files: list[tuple[Path, int]] = []
        for label, name in enumerate(classes):
            walk = _FolderWalk(root, suffixes, self.config.allow_paths_outside_root)
            files += [(p, label) for p in walk.images(root / name)]
        files += [(p, 0) for p, info in entries if top.is_image(p, info)]
        if not files:
            raise DataError(
                f"dataset 'image-folder': no images ({', '.join(sorted(suffixes))}) under {given}"
            )
        self.classes = classes
        if self.config.split != "all":
            test = np.zeros(len(files), dtype=bool)
            test[np.random.default_rng(0).permutation(len(files))[: max(1, len(files) // 10)]] = (
                True
            )
            files = [f for f, t in zip(files, test) if t == (self.config.split == "test")]
        images = torch.stack([self._load(path) for path, _ in files])
        self._finish(images, np.array([label for _, label in files], dtype=np.int64))

    def _load(self, path: Path) -> torch.Tensor:
        from PIL import Image

        try:
            with open_image(path, self.config.max_pixels, "dataset 'image-folder'") as image:
                image = image.convert("L" if self.config.channels == 1 else "RGB")
                size = self.config.image_size
                if size is not None:
                    image = image.resize((size, size), Image.BICUBIC)
                array = np.asarray(image, dtype=np.float32) / 255.0
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise DataError(f"dataset 'image-folder': cannot read image {path}: {exc}") from None
        array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
        return torch.from_numpy(np.ascontiguousarray(array))


class _FolderWalk:
    """Image files below a folder of ``root``, links followed only inside ``root``."""

    def __init__(self, root: Path, suffixes: set[str], outside: bool) -> None:
        self.root, self.suffixes, self.outside = root, suffixes, outside
        info = root.stat()
        self.seen = {(info.st_dev, info.st_ino)}  # the folders read: a link back is no loop

    def entries(self, folder: Path) -> list[tuple[Path, os.stat_result]]:
        """The sorted entries of ``folder`` with what they lead to (links checked)."""
        try:
            names = sorted(os.listdir(folder))
        except OSError as exc:
            raise DataError(
                f"dataset 'image-folder': cannot list {folder}: {exc.strerror}"
            ) from None
        found = []
        for name in names:
            path = folder / name
            if path.is_symlink() and not self.outside:
                try:
                    target = path.resolve()
                except (OSError, RuntimeError):  # a loop of links: nothing to read
                    continue
                if not target.is_relative_to(self.root):
                    raise DataError(
                        f"dataset 'image-folder': {path} is a link to {target}, outside root "
                        f"{self.root}; refused (set allow_paths_outside_root: true to read it)"
                    )
            try:
                found.append((path, path.stat()))
            except OSError:  # a dangling link: nothing to read
                continue
        return found

    def is_image(self, path: Path, info: os.stat_result) -> bool:
        """A file with an image suffix; one that is not a regular file is refused."""
        if stat.S_ISDIR(info.st_mode) or path.suffix.lower() not in self.suffixes:
            return False
        if not stat.S_ISREG(info.st_mode):
            raise DataError(
                f"dataset 'image-folder': {path} is not a regular file (a device, pipe or "
                "socket); refused"
            )
        return True

    def images(self, folder: Path) -> list[Path]:
        """Every image below ``folder``, sorted; each folder is read once."""
        info = folder.stat()
        self.seen.add((info.st_dev, info.st_ino))
        found, pending = [], [folder]
        while pending:
            for path, info in self.entries(pending.pop()):
                if stat.S_ISDIR(info.st_mode):
                    if (info.st_dev, info.st_ino) not in self.seen:
                        self.seen.add((info.st_dev, info.st_ino))
                        pending.append(path)
                elif self.is_image(path, info):
                    found.append(path)
        return sorted(found)


class Tensors(Component, torch.utils.data.Dataset):
    """Items ``(x[i], y[i])`` from arrays in a ``.npz`` or ``.safetensors`` file."""

    config_class = TensorsConfig
    config_section = "data"
    kind = "dataset"

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        self.config = self.resolve_config(config, **overrides)
        path = Path(self.config.path).expanduser()
        if not path.is_file():
            raise DataError(f"dataset 'tensors': file not found: {path}")
        arrays = self._read(path)
        c = self.config
        if c.x_key not in arrays:
            raise DataError(
                f"dataset 'tensors': {path} has no array '{c.x_key}' (has: {', '.join(arrays)})"
            )
        x = torch.as_tensor(np.asarray(arrays[c.x_key]))
        if c.y_key is not None and c.y_key in arrays:
            y = torch.as_tensor(np.asarray(arrays[c.y_key]))
            if len(y) != len(x):
                raise DataError(
                    f"dataset 'tensors': {path}: '{c.x_key}' has {len(x)} items, "
                    f"'{c.y_key}' has {len(y)}"
                )
        else:
            y = torch.zeros(len(x), dtype=torch.long)
        if x.is_floating_point():
            x = x.float()
        if c.subset is not None and c.subset < len(x):
            keep = torch.randperm(len(x), generator=torch.Generator().manual_seed(c.seed))
            keep = keep[: c.subset].sort().values
            x, y = x[keep], y[keep]
        self.x, self.y = x.contiguous(), y.contiguous()

    @staticmethod
    def _read(path: Path) -> dict[str, Any]:
        if path.suffix == ".npz":
            try:
                with np.load(path, allow_pickle=False) as data:
                    return {k: data[k] for k in data.files}
            except (OSError, ValueError) as exc:
                raise DataError(f"dataset 'tensors': cannot read {path}: {exc}") from None
        if path.suffix == ".safetensors":
            from safetensors import SafetensorError
            from safetensors.torch import load_file

            try:
                return dict(load_file(str(path)))
            except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
                raise DataError(f"dataset 'tensors': cannot read {path}: {exc}") from None
        raise DataError(f"dataset 'tensors': {path} must be a .npz or .safetensors file")

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[index], self.y[index]
