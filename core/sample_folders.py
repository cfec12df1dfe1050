"""Sample folders: ``core sample -n N --out-dir DIR`` draws ``N`` samples into ``.npz`` shards.

A folder holds ``manifest.json`` (the settings the samples were drawn with) and one shard per
``shard_size`` indices, ``samples_<first index, 8 digits>.npz`` with arrays ``samples`` (float32,
the model's value range), ``indices`` and, for a class-conditional model, ``labels``. Each
shard is written through ``core.atomic`` and drawn with a seed made of the folder's seed and
its first index, so a rerun after a kill draws only the missing shards, and the same samples;
under ``torchrun`` shard ``k`` is drawn by rank ``k % WORLD_SIZE``. Only one shard is held in
memory at a time.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.atomic import atomic_write_bytes, atomic_write_text
from core.errors import ConfigError
from core.sampling import check_sample_keywords, draw_samples

__all__ = [
    "MANIFEST",
    "FORMAT",
    "DEFAULT_SHARD_SIZE",
    "Shard",
    "source_key",
    "torchrun_share",
    "shard_seed",
    "folder_manifest",
    "open_folder",
    "draw_to_folder",
    "read_manifest",
    "iter_shards",
]

MANIFEST = "manifest.json"
FORMAT = "core-sample-folder/1"
DEFAULT_SHARD_SIZE = 1000
_MAX_MANIFEST_BYTES = 1 << 16
#: the manifest keys two draws into one folder must agree on
_SETTINGS = (
    "n",
    "seed",
    "sampler",
    "steps",
    "sampler_options",
    "guidance",
    "class",
    "labels",
    "source",
    "raw",
    "shard_size",
)


@dataclass(frozen=True)
class Shard:
    """Indices ``first`` to ``end - 1`` of a folder, in ``file``."""

    first: int
    end: int

    @property
    def file(self) -> str:
        return f"samples_{self.first:08d}.npz"


def source_key(source: str) -> str:
    """``source`` as a manifest records it: an existing path resolved, else as given."""
    path = Path(source)
    return str(path.resolve()) if path.exists() else source


def torchrun_share() -> tuple[int, int]:
    """``(rank, world_size)`` of a process ``torchrun`` started (``(0, 1)`` otherwise)."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def shard_seed(seed: int, first: int) -> int:
    """The seed of the shard starting at index ``first`` of a folder drawn with ``seed``."""
    digest = hashlib.sha256(f"core-sample-folder:{seed}:{first}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def _shards(n: int, shard_size: int) -> list[Shard]:
    return [Shard(first, min(first + shard_size, n)) for first in range(0, n, shard_size)]


def read_manifest(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a sample folder, checked as data (size, format, its settings)."""
    path = Path(folder) / MANIFEST
    if not Path(folder).is_dir():
        raise ConfigError(f"--samples {folder}: not a folder of samples (core sample --out-dir)")
    if not path.is_file() or path.is_symlink():
        raise ConfigError(f"{folder}: no {MANIFEST} (not written by core sample --out-dir)")
    if path.stat().st_size > _MAX_MANIFEST_BYTES:
        raise ConfigError(f"{path}: larger than {_MAX_MANIFEST_BYTES} bytes; not a manifest")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ConfigError(f"{path}: not a {FORMAT} manifest")
    for key in ("n", "shard_size"):
        value = manifest.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{path}: '{key}' must be a whole number >= 1, got {value!r}")
    return manifest


def folder_manifest(
    model: Any, info: dict[str, Any], settings: dict[str, Any], *, shard_size: int
) -> dict[str, Any]:
    """The manifest of a folder of samples of ``model`` (loaded with ``info``, ``load_model``'s)
    drawn with ``settings`` (``n``, ``seed``, ``sampler``, ``steps``, ``sampler_options``,
    ``guidance``, ``class``, ``raw``); the class and guidance are checked here, before any
    file is written. A class-conditional model given no class draws ``index % classes``."""
    label = settings["class"]
    check_sample_keywords(
        model,
        {"guidance_scale": settings["guidance"]}
        | ({"y": torch.tensor([label])} if label is not None else {}),
    )
    classes = getattr(model, "num_classes", None)
    conditional = isinstance(classes, int) and not isinstance(classes, bool) and classes > 1
    value_range = getattr(model, "sample_range", None) or (info.get("data") or {}).get(
        "value_range"
    )
    return {
        "format": FORMAT,
        **settings,
        "labels": "class" if label is not None else ("cycle" if conditional else None),
        "source": source_key(info["source"]),
        "shard_size": shard_size,
        "weights": info["weights"],
        "value_range": list(value_range) if value_range is not None else None,
    }


def open_folder(folder: str | os.PathLike[str], manifest: dict[str, Any]) -> dict[str, Any]:
    """Claim ``folder`` for ``manifest``: write it into a new or empty folder, or check that the
    folder's own manifest has the same settings (a rerun finishes it); else refuse."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"--out-dir {folder}: exists and is not a folder")
    if os.path.lexists(folder / MANIFEST):
        found = read_manifest(folder)
        changed = [key for key in _SETTINGS if found.get(key) != manifest.get(key)]
        if changed:
            was = ", ".join(
                f"{key} {found.get(key)!r} (now {manifest.get(key)!r})" for key in changed
            )
            raise ConfigError(
                f"--out-dir {folder}: its samples were drawn with {was}; rerun with the same "
                "settings to finish it, or give another --out-dir"
            )
        return found
    if folder.is_dir() and any(not entry.name.startswith(".") for entry in folder.iterdir()):
        raise ConfigError(
            f"--out-dir {folder}: holds files but no {MANIFEST}; give a new or empty folder"
        )
    atomic_write_text(folder / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True))
    return manifest


def _labels(manifest: dict[str, Any], shard: Shard, classes: int) -> torch.Tensor | None:
    """The class labels of ``shard``: the manifest's class, else ``index % classes``, else none."""
    if manifest["labels"] == "class":
        return torch.full((shard.end - shard.first,), manifest["class"], dtype=torch.long)
    if manifest["labels"] == "cycle":
        return torch.arange(shard.first, shard.end) % classes
    return None


def draw_to_folder(
    model: Any,
    folder: str | os.PathLike[str],
    manifest: dict[str, Any],
    *,
    batch_size: int = 256,
    share: tuple[int, int] = (0, 1),
) -> tuple[int, int]:
    """Draw this rank's missing shards of ``folder`` (``share`` is ``(rank, world_size)``);
    returns ``(shards written, shards of this rank already there)``."""
    rank, world = share
    extra = dict(manifest["sampler_options"])
    if manifest["guidance"] is not None:
        extra["guidance_scale"] = manifest["guidance"]
    classes = int(getattr(model, "num_classes", 0) or 0)
    written = present = 0
    for number, shard in enumerate(_shards(manifest["n"], manifest["shard_size"])):
        target = Path(folder) / shard.file
        if number % world != rank:
            continue
        if target.is_file():
            present += 1
            continue
        labels = _labels(manifest, shard, classes)
        keywords = dict(extra, y=labels.to(model.device)) if labels is not None else extra
        samples = draw_samples(
            model,
            shard.end - shard.first,
            sampler=manifest["sampler"],
            steps=manifest["steps"],
            batch_size=batch_size,
            seed=shard_seed(manifest["seed"], shard.first),
            **keywords,
        )
        _write_shard(target, shard, samples, labels)
        written += 1
    return written, present


def _write_shard(
    target: Path, shard: Shard, samples: torch.Tensor, labels: torch.Tensor | None
) -> None:
    arrays = {
        "samples": samples.float().numpy(),
        "indices": np.arange(shard.first, shard.end, dtype=np.int64),
    }
    if labels is not None:
        arrays["labels"] = labels.cpu().numpy().astype(np.int64)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(target, buffer.getbuffer())


def iter_shards(
    folder: str | os.PathLike[str], manifest: dict[str, Any]
) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """``(samples, labels or None)`` of each shard in index order, one shard in memory at a
    time; a folder with a missing shard is refused (before any is read) in one line."""
    shards = _shards(manifest["n"], manifest["shard_size"])
    missing = [shard for shard in shards if not (Path(folder) / shard.file).is_file()]
    if missing:
        raise ConfigError(
            f"--samples {folder}: {len(missing)} of {len(shards)} shards missing (first: "
            f"{missing[0].file}, indices {missing[0].first} to {missing[0].end - 1}); rerun "
            "core sample with the same settings to finish it"
        )
    for shard in shards:
        yield _read_shard(Path(folder) / shard.file, shard)


def _read_shard(path: Path, shard: Shard) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A shard's samples and labels, checked against the indices it should hold."""
    try:
        with np.load(path, allow_pickle=False) as data:
            indices, samples = data["indices"], data["samples"]
            labels = data["labels"] if "labels" in data.files else None
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"{path}: not a readable sample shard ({exc})") from None
    count = shard.end - shard.first
    if not np.array_equal(indices, np.arange(shard.first, shard.end)) or len(samples) != count:
        raise ConfigError(f"{path}: should hold indices {shard.first} to {shard.end - 1}")
    if labels is not None and len(labels) != count:
        raise ConfigError(f"{path}: {len(labels)} labels for {count} samples")
    labels = torch.from_numpy(labels.astype(np.int64)) if labels is not None else None
    return torch.from_numpy(samples.astype(np.float32)), labels
