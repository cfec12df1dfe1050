"""``manifest``: a CSV file whose rows are samples and whose columns map to outputs."""

from __future__ import annotations

import csv
import math
import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.component import Component
from core.data.images import open_image
from core.errors import ConfigError, DataError
from core_autoencoder.configs import ColumnSpec, ManifestConfig

__all__ = ["ManifestDataset", "IMAGE_SUFFIXES", "TENSOR_SUFFIXES"]

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
TENSOR_SUFFIXES = {".pt", ".pth", ".safetensors"}
_OPS = {"lt", "gt", "le", "ge", "ne", "eq"}
_FILE_KINDS = {"image", "mask", "tensor"}


def _number(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _whole(cell: str, value: float) -> float | int:
    """The exact integer a cell holds ("12", "3.0", "1e3"), else NaN (compares false)."""
    try:
        return int(cell)
    except ValueError:
        return int(value) if math.isfinite(value) and value.is_integer() else math.nan


def _matches(cell: str, op: str, value: Any) -> bool:
    if isinstance(value, (list, tuple, set)):
        wanted = [_matches(cell, "eq", v) for v in value]
        return any(wanted) if op == "eq" else not any(wanted)
    if isinstance(value, bool):
        value = str(value).lower()
    left, right = _number(cell), _number(value)
    if left is not None and right is not None:
        a, b = left, right
    else:
        a, b = cell, str(value)
    if op == "eq":
        return a == b
    if op == "ne":
        return a != b
    try:
        return {"lt": a < b, "gt": a > b, "le": a <= b, "ge": a >= b}[op]  # type: ignore[operator]
    except TypeError:
        return False


class ManifestDataset(Component, torch.utils.data.Dataset):
    """Rows of a CSV as samples: ``{output: value}`` dicts (or ``(x, y)`` pairs)."""

    config_class = ManifestConfig
    config_section = "data"
    kind = "dataset"

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        self.config = self.resolve_config(config, **overrides)
        c = self.config
        self.path = Path(c.path).expanduser()
        if not self.path.is_file():
            raise DataError(f"manifest not found: {self.path}")
        self.root = Path(c.root).expanduser() if c.root else self.path.parent
        header, rows = self._read()
        self.specs: dict[str, ColumnSpec] = {
            name: spec if isinstance(spec, ColumnSpec) else ColumnSpec(column=spec)
            for name, spec in c.columns.items()
        }
        needed = {s.column for s in self.specs.values()}
        needed |= {k.split("__", 1)[0] for k in c.filters}
        if c.split_column:
            needed.add(c.split_column)
        missing = sorted(needed - set(header))
        if missing:
            raise ConfigError(
                f"{self.path}: column(s) {', '.join(missing)} not in the manifest "
                f"(columns: {', '.join(header)})"
            )
        rows = self._filter(rows)
        if c.drop_missing:
            rows = [r for r in rows if all(r[s.column].strip() for s in self.specs.values())]
        rows = self._split(rows)
        for name, spec in self.specs.items():
            if spec.kind == "auto":
                spec = spec.model_copy(update={"kind": self._guess(rows, spec.column)})
                self.specs[name] = spec
        self.rows = rows
        self._validate_rows()
        self._cache: dict[tuple[int, str], Any] = {}

    # -- reading ------------------------------------------------------------------------------
    def _read(self) -> tuple[list[str], list[dict[str, Any]]]:
        try:
            with self.path.open(newline="", encoding="utf-8") as handle:
                reader = csv.DictReader(handle)
                header = list(reader.fieldnames or [])
                rows = []
                for row in reader:
                    if None in row:
                        raise DataError(
                            f"{self.path} row {reader.line_num}: more cells than the "
                            f"{len(header)} header columns"
                        )
                    row = {k: (v if v is not None else "") for k, v in row.items()}
                    row["__line__"] = reader.line_num
                    rows.append(row)
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise DataError(f"{self.path}: cannot read the manifest: {exc}") from None
        if not header:
            raise DataError(f"{self.path}: the manifest has no header row")
        return header, rows

    def _filter(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for key, value in self.config.filters.items():
            column, _, op = key.partition("__")
            op = op or "eq"
            if op not in _OPS:
                raise ConfigError(
                    f"data.filters.{key}: unknown operator '__{op}' "
                    f"(use __lt, __gt, __le, __ge, __ne, or a bare column)"
                )
            rows = [r for r in rows if _matches(r[column], op, value)]
        return rows

    def _split(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        c = self.config
        if c.split == "all":
            return rows
        if c.split_column:
            return [r for r in rows if r[c.split_column].strip().lower() == c.split]
        order = np.random.RandomState(c.seed).permutation(len(rows))
        n_val = int(round(len(rows) * c.val_fraction))
        chosen = order[:n_val] if c.split == "val" else order[n_val:]
        return [rows[i] for i in sorted(chosen)]

    def _guess(self, rows: list[dict[str, Any]], column: str) -> str:
        value = next((r[column].strip() for r in rows if r[column].strip()), "")
        suffix = Path(value).suffix.lower()
        if suffix in IMAGE_SUFFIXES:
            return "image"
        if suffix in TENSOR_SUFFIXES:
            return "tensor"
        try:
            int(value)
            return "int"
        except ValueError:
            pass
        return "float" if _number(value) is not None else "str"

    def _where(self, row: dict[str, Any], column: str) -> str:
        return f"{self.path} row {row['__line__']} column '{column}'"

    def _validate_rows(self) -> None:
        for row in self.rows:
            for spec in self.specs.values():
                cell = row[spec.column].strip()
                if not cell:
                    raise DataError(
                        f"{self._where(row, spec.column)}: empty value "
                        "(set drop_missing: true to skip such rows)"
                    )
                if spec.kind in _FILE_KINDS and not self._file(row, spec.column).is_file():
                    raise DataError(
                        f"{self._where(row, spec.column)}: file not found: "
                        f"{self._file(row, spec.column)}"
                    )
                if spec.kind in ("int", "float"):
                    self._check_number(row, spec.column, spec.kind)

    def _check_number(self, row: dict[str, Any], column: str, kind: str) -> None:
        """A finite number; for ``int`` columns a whole one that fits in 64 bits."""
        cell = row[column].strip()
        value = _number(cell)
        if value is None:
            raise DataError(f"{self._where(row, column)}: {cell!r} is not a number")
        if not math.isfinite(value):
            raise DataError(f"{self._where(row, column)}: {cell!r} is not a finite number")
        if kind == "int" and not -(2**63) <= _whole(cell, value) < 2**63:
            raise DataError(
                f"{self._where(row, column)}: {cell!r} is not a whole number of 64 bits"
            )

    def _file(self, row: dict[str, Any], column: str) -> Path:
        """The file a cell names; refused when it leads outside ``root`` (unless allowed)."""
        cell = row[column].strip()
        path = Path(cell).expanduser()
        if self.config.allow_paths_outside_root:
            return path if path.is_absolute() else self.root / path
        hint = "set allow_paths_outside_root: true to read it"
        if path.is_absolute():
            raise DataError(f"{self._where(row, column)}: absolute path {cell!r} refused ({hint})")
        resolved = (self.root / path).resolve()
        if not resolved.is_relative_to(self.root.resolve()):
            how = "leads" if ".." in path.parts else f"resolves to {resolved},"
            raise DataError(
                f"{self._where(row, column)}: {cell!r} {how} outside {self.root} ({hint})"
            )
        return self.root / path

    # -- loading ------------------------------------------------------------------------------
    def _load(self, row: dict[str, Any], spec: ColumnSpec) -> Any:
        cell = row[spec.column].strip()
        kind = spec.kind
        if kind == "int":
            return _whole(cell, float(cell))
        if kind == "float":
            return torch.tensor(float(cell))
        if kind == "str":
            return cell
        path = self._file(row, spec.column)
        try:
            if kind == "image":
                return self._image(path, self._where(row, spec.column))
            if kind == "mask":
                return self._mask(path, self._where(row, spec.column))
            return self._tensor(path, spec)
        except DataError:
            raise
        except Exception as exc:
            raise DataError(
                f"{self._where(row, spec.column)}: cannot read {path}: {type(exc).__name__}: {exc}"
            ) from None

    def _image(self, path: Path, where: str) -> torch.Tensor:
        from PIL import Image

        c = self.config
        with open_image(path, c.max_pixels, where) as img:
            mode = {1: "L", 3: "RGB"}.get(c.image_channels or 0)
            mode = mode or (img.mode if img.mode in ("L", "RGB") else "RGB")
            img = img.convert(mode)
            if c.image_size:
                img = img.resize((c.image_size, c.image_size), Image.BILINEAR)
            array = np.asarray(img, dtype=np.float32) / 255.0
        tensor = torch.from_numpy(array.copy())
        tensor = tensor[None] if tensor.dim() == 2 else tensor.permute(2, 0, 1)
        return tensor * 2 - 1 if c.image_range == "-1,1" else tensor

    def _mask(self, path: Path, where: str) -> torch.Tensor:
        from PIL import Image

        with open_image(path, self.config.max_pixels, where) as img:
            img = img.convert("L")
            if self.config.image_size:
                size = self.config.image_size
                img = img.resize((size, size), Image.NEAREST)
            array = np.asarray(img, dtype=np.int64)
        return torch.from_numpy(array.copy())

    def _tensor(self, path: Path, spec: ColumnSpec) -> torch.Tensor:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            tensors = load_file(str(path))
        else:
            data = torch.load(path, map_location="cpu", weights_only=True)
            tensors = data if isinstance(data, dict) else {"": data}
        if spec.key is not None:
            if spec.key not in tensors:
                raise DataError(
                    f"{path}: no tensor '{spec.key}' (tensors: {', '.join(map(str, tensors))})"
                )
            value = tensors[spec.key]
        elif len(tensors) == 1:
            value = next(iter(tensors.values()))
        else:
            raise DataError(
                f"{path}: holds several tensors ({', '.join(map(str, tensors))}); "
                "set the column's 'key'"
            )
        if not isinstance(value, torch.Tensor):
            raise DataError(f"{path}: holds a {type(value).__name__}, not a tensor")
        return value

    # -- dataset protocol ---------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> Any:
        row = self.rows[index]
        out: dict[str, Any] = {}
        for name, spec in self.specs.items():
            cached = self._cache.get((index, name)) if self.config.cache else None
            value = cached if cached is not None else self._load(row, spec)
            if self.config.cache and cached is None:
                self._cache[(index, name)] = value
            out[name] = value
        if self.config.output == "pair":
            values = list(out.values())
            return values[0], (values[1] if len(values) > 1 else 0)
        return out

    @property
    def outputs(self) -> list[str]:
        """Output names, in order."""
        return list(self.specs)

    def column_values(self, output: str) -> list[str]:
        """Raw cells of the column behind ``output``, one per row."""
        if output not in self.specs:
            raise ConfigError(f"no output '{output}' (outputs: {', '.join(self.specs)})")
        column = self.specs[output].column
        return [r[column].strip() for r in self.rows]

    def sample_weights(self, output: str | None = None) -> torch.Tensor:
        """Per-row weights proportional to 1 / frequency of the row's class."""
        output = output or self.config.weighted_by
        if output is None:
            raise ConfigError("sample_weights needs an output (or set weighted_by)")
        values = self.column_values(output)
        counts = Counter(values)
        weights = torch.tensor([1.0 / counts[v] for v in values], dtype=torch.double)
        return weights / weights.sum() * len(values)

    def sampler(
        self, num_samples: int | None = None, generator: torch.Generator | None = None
    ) -> torch.utils.data.Sampler[int] | None:
        """A ``WeightedRandomSampler`` balancing ``weighted_by`` classes (None when unset)."""
        if self.config.weighted_by is None:
            return None
        return torch.utils.data.WeightedRandomSampler(
            self.sample_weights(),
            num_samples or len(self),
            replacement=True,
            generator=generator,
        )

    def __repr__(self) -> str:
        return (
            f"ManifestDataset({os.fspath(self.path)!r}, rows={len(self)}, outputs={self.outputs})"
        )
