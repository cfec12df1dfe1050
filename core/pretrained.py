"""The versioned pretrained store: ``<root>/<model_type>/<name>/v<N>/``.

``CORE_HOME`` sets the root (default: the per-user data directory). A reference is
``name`` (latest version), ``type/name`` or ``type/name/vN``. Plugins add read-only
entries through the ``register_pretrained`` hook. Torch-free but for ``load_pretrained``.

Stored YAML is data (``core._store_files``): an entry that cannot be read is listed as
broken and never stops the others from being listed or resolved.
"""

from __future__ import annotations

import errno
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core._messages import clip
from core._staging import STORE_PREFIX, remove_entry, remove_stale_staging
from core._store_files import pretrained_files, read_pretrained_yaml
from core.atomic import stage_directory, swap_directory
from core.errors import AtomicWriteError, CoreError, PretrainedError
from core.plugins import get_manager
from core.registry import PRETRAINED_KIND

__all__ = [
    "PretrainedInfo",
    "store_root",
    "save_to_pretrained",
    "load_pretrained",
    "list_pretrained",
    "pretrained_info",
    "resolve_pretrained",
    "pretrained_path",
    "pretrained_files",
    "read_pretrained_yaml",
]

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
_VERSION = re.compile(r"^v([1-9][0-9]{0,8})$")


@dataclass
class PretrainedInfo:
    """One pretrained model: where it is and what its YAML says."""

    model_type: str
    name: str
    version: int | None
    path: Path
    source: str = "store"  # store | plugin name
    description: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # why the entry cannot be read: it is broken

    @property
    def reference(self) -> str:
        suffix = f"/v{self.version}" if self.version is not None else ""
        return f"{self.model_type}/{self.name}{suffix}"

    @property
    def status(self) -> str:
        """``ok`` or ``broken`` (``error`` says why)."""
        return "broken" if self.error else "ok"

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "model_type": self.model_type,
            "name": self.name,
            "version": self.version,
            "path": str(self.path),
            "source": self.source,
            "status": self.status,
            "error": self.error,
            "description": self.description,
            "meta": self.meta,
        }


def store_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The store root: ``root``, else ``$CORE_HOME``, else the per-user data directory."""
    if root is not None:
        return Path(root)
    if os.environ.get("CORE_HOME"):
        return Path(os.environ["CORE_HOME"])
    import platformdirs

    return Path(platformdirs.user_data_dir("core", appauthor=False)) / "pretrained"


def _check_name(value: str, what: str) -> str:
    if not isinstance(value, str) or not _SAFE_NAME.match(value) or ".." in value:
        raise PretrainedError(
            f"invalid pretrained {what} {value!r}: use letters, digits, '.', '_' and '-' "
            "(no path separators, no '..')"
        )
    return value


def _inside(root: Path, path: Path) -> Path:
    resolved = path.resolve()
    try:
        resolved.relative_to(root.resolve())
    except ValueError:
        raise PretrainedError(f"{path} resolves outside the pretrained store {root}") from None
    return resolved


def _versions(directory: Path) -> list[int]:
    try:
        children = list(directory.iterdir()) if directory.is_dir() else []
    except OSError:
        return []
    found = []
    for child in children:
        match = _VERSION.match(child.name)
        if match and child.is_dir():
            found.append(int(match.group(1)))
    return sorted(found)


def _inside_dir(root: Path, *parts: str) -> Path:
    """``root/parts...``, created; a part that leads out of ``root`` is refused first."""
    root.mkdir(parents=True, exist_ok=True)
    directory = root
    for part in parts:
        directory = directory / part
        _inside(root, directory)
        directory.mkdir(exist_ok=True)
    return directory


def save_to_pretrained(
    model: Any,
    name: str,
    version: int | None = None,
    *,
    root: str | os.PathLike[str] | None = None,
    meta: dict[str, Any] | None = None,
) -> PretrainedInfo:
    """Save ``model`` as the next version of ``name`` (or exactly ``version``), atomically."""
    _check_name(name, "name")
    model_type = _check_name(str(model.model_type), "model type")
    root_dir = store_root(root)
    if version is not None and (not isinstance(version, int) or version < 1):
        raise PretrainedError(f"version must be a positive integer, got {version!r}")
    base = _inside_dir(root_dir, model_type, name)
    remove_stale_staging(root_dir)
    staging = stage_directory(base, STORE_PREFIX)
    try:
        model.save_pretrained(staging, name=name, meta=meta)
        claimed = _claim(base, staging, version)
    finally:
        remove_entry(staging)  # gone once claimed; what a failed save left otherwise
    return _read(PretrainedInfo(model_type, name, claimed, base / f"v{claimed}", "store"))


def _claim(base: Path, staging: Path, version: int | None) -> int:
    """Swap the staging folder in as the next free ``v<N>``; the rename is the claim."""
    if version is not None:
        try:
            swap_directory(staging, base / f"v{version}")
        except AtomicWriteError as exc:
            if exc.errno != errno.EEXIST:
                raise
            raise PretrainedError(f"{base.name} v{version} already exists in {base}") from None
        return version
    for _ in range(1000):
        candidate = (max(_versions(base), default=0)) + 1
        try:
            swap_directory(staging, base / f"v{candidate}")
            return candidate
        except AtomicWriteError as exc:  # another process claimed it first
            if exc.errno != errno.EEXIST:
                raise
    raise PretrainedError(f"could not claim a version in {base}")


def _read(info: PretrainedInfo) -> PretrainedInfo:
    """Fill in ``meta`` from the entry's YAML, or ``error`` when it cannot be read."""
    if info.error is None:
        try:
            info.meta = read_pretrained_yaml(pretrained_files(info.path)[0])["meta"]
        except (CoreError, OSError) as exc:
            info.error = clip(str(exc), 300)
    return info


def _subdirs(directory: Path, name: str | None = None) -> list[Path]:
    """Visible subdirectories (only ``name`` when given), sorted."""
    if name is not None:
        return [directory / name] if (directory / name).is_dir() else []
    try:
        return sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []


def _store_entries(
    root: Path, model_type: str | None = None, name: str | None = None
) -> list[PretrainedInfo]:
    """The store's versions (only ``model_type``/``name`` when given); no file is read."""
    found = []
    for type_dir in _subdirs(root, model_type):
        for name_dir in _subdirs(type_dir, name):
            for version in _versions(name_dir):
                info = PretrainedInfo(
                    type_dir.name, name_dir.name, version, name_dir / f"v{version}", "store"
                )
                if not _is_inside(root, info.path):  # listed, never read; resolving it is refused
                    info.description = "refused: resolves outside the pretrained store"
                    info.error = "resolves outside the pretrained store"
                found.append(info)
    return found


def _is_inside(root: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError):
        return False
    return True


def _plugin_entries(name: str | None = None) -> list[PretrainedInfo]:
    """The plugins' pretrained entries (only ``name`` when given); no file is read."""

    found = []
    for entry in get_manager().registry.entries(PRETRAINED_KIND):
        if name is not None and entry.name != name:
            continue
        path = Path(entry.target)
        model_type = entry.meta.get("model_type") or "unknown"
        for version in _versions(path) or [None]:
            where = path / f"v{version}" if version is not None else path
            found.append(
                PretrainedInfo(
                    model_type, entry.name, version, where, entry.plugin, entry.description
                )
            )
    return found


def list_pretrained(root: str | os.PathLike[str] | None = None) -> list[PretrainedInfo]:
    """Every pretrained model: the store's versions, then plugin-shipped entries.

    An entry whose files cannot be read is listed with ``status`` broken and its ``error``.
    """
    return [_read(i) for i in _store_entries(store_root(root)) + _plugin_entries()]


def resolve_pretrained(
    reference: str, root: str | os.PathLike[str] | None = None
) -> PretrainedInfo:
    """``name`` | ``name/vN`` | ``type/name`` | ``type/name/vN`` -> the matching entry.

    Only the chosen entry's YAML is read; a broken one comes back with its ``error``.
    """
    parts = reference.strip("/").split("/")
    version: int | None = None
    if parts and _VERSION.match(parts[-1]):
        version = int(parts.pop()[1:])
    if len(parts) not in (1, 2):
        raise PretrainedError(
            f"pretrained reference {reference!r} must be name, type/name or type/name/vN"
        )
    for part in parts:
        _check_name(part, "name")
    model_type, name = (None, parts[0]) if len(parts) == 1 else parts
    store = store_root(root)
    candidates = [
        info
        for info in _store_entries(store, model_type, name) + _plugin_entries(name)
        if (model_type is None or info.model_type == model_type)
        and (version is None or info.version == version)
    ]
    if not candidates:
        known = sorted({i.reference for i in _store_entries(store) + _plugin_entries()})
        raise PretrainedError(
            f"no pretrained model {reference!r} in {store} or the plugins"
            f" (known: {', '.join(known) or 'none'})"
        )
    types = {c.model_type for c in candidates}
    if len(types) > 1:
        raise PretrainedError(
            f"pretrained name {name!r} exists for several model types ({', '.join(sorted(types))}); "
            "use type/name"
        )
    in_store = [c for c in candidates if c.source == "store"]
    best = max(in_store or candidates, key=lambda c: c.version or 0)
    if best.source == "store":
        _inside(store, best.path)
    return _read(best)


def pretrained_info(reference: str, root: str | os.PathLike[str] | None = None) -> PretrainedInfo:
    """Metadata of a pretrained model (no torch import)."""
    return resolve_pretrained(reference, root)


def pretrained_path(reference: str, root: str | os.PathLike[str] | None = None) -> Path:
    """The folder of a readable pretrained entry; a broken one is a PretrainedError."""
    info = resolve_pretrained(reference, root)
    if info.error:
        raise PretrainedError(f"pretrained model {info.reference} is broken: {info.error}")
    return info.path


def load_pretrained(
    reference: str,
    *,
    root: str | os.PathLike[str] | None = None,
    device: Any = None,
    **runtime_overrides: Any,
) -> Any:
    """Build and load a pretrained model by reference (through ``core.loading``), in eval mode."""
    from core.base_model import BaseModel  # lazy: keeps torch out of core.pretrained

    path = pretrained_path(reference, root)
    return BaseModel.from_pretrained(path, device=device, **runtime_overrides)
