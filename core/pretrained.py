"""The versioned pretrained store: ``<root>/<model_type>/<name>/v<N>/``.

``CORE_HOME`` sets the root (default: the per-user data directory). A reference is
``name`` (latest version), ``type/name`` or ``type/name/vN``. Plugins add read-only
entries through the ``register_pretrained`` hook.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import PretrainedError

__all__ = [
    "PretrainedInfo",
    "store_root",
    "save_to_pretrained",
    "load_pretrained",
    "list_pretrained",
    "pretrained_info",
    "resolve_pretrained",
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

    @property
    def reference(self) -> str:
        suffix = f"/v{self.version}" if self.version is not None else ""
        return f"{self.model_type}/{self.name}{suffix}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "model_type": self.model_type,
            "name": self.name,
            "version": self.version,
            "path": str(self.path),
            "source": self.source,
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
    if not directory.is_dir():
        return []
    found = []
    for child in directory.iterdir():
        match = _VERSION.match(child.name)
        if match and child.is_dir():
            found.append(int(match.group(1)))
    return sorted(found)


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
    base = store_root(root) / model_type / name
    base.mkdir(parents=True, exist_ok=True)
    staging = base / f".staging-{uuid.uuid4().hex}"
    try:
        model.save_pretrained(staging, name=name, meta=meta)
        claimed = _claim(base, staging, version)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return _info(model_type, name, claimed, base / f"v{claimed}", "store")


def _claim(base: Path, staging: Path, version: int | None) -> int:
    """Rename the staging directory to the next free ``v<N>``; the rename is the claim."""
    if version is not None:
        if not isinstance(version, int) or version < 1:
            raise PretrainedError(f"version must be a positive integer, got {version!r}")
        try:
            os.rename(staging, base / f"v{version}")
        except OSError:
            raise PretrainedError(f"{base.name} v{version} already exists in {base}") from None
        return version
    for _ in range(1000):
        candidate = (max(_versions(base), default=0)) + 1
        try:
            os.rename(staging, base / f"v{candidate}")
            return candidate
        except OSError:  # another process claimed it first (ENOTEMPTY / EEXIST)
            continue
    raise PretrainedError(f"could not claim a version in {base}")


def _read_meta(directory: Path) -> dict[str, Any]:
    from core.modules import pretrained_files, read_pretrained_yaml

    with contextlib.suppress(Exception):
        yaml_path, _ = pretrained_files(directory)
        return read_pretrained_yaml(yaml_path)["meta"]
    return {}


def _info(
    model_type: str, name: str, version: int | None, path: Path, source: str, description: str = ""
) -> PretrainedInfo:
    return PretrainedInfo(model_type, name, version, path, source, description, _read_meta(path))


def _store_entries(root: Path) -> list[PretrainedInfo]:
    found = []
    if not root.is_dir():
        return found
    for type_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for name_dir in sorted(
            p for p in type_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
        ):
            for version in _versions(name_dir):
                where = name_dir / f"v{version}"
                if not _is_inside(root, where):  # listed, never read; resolving it is refused
                    found.append(
                        PretrainedInfo(
                            type_dir.name,
                            name_dir.name,
                            version,
                            where,
                            "store",
                            "refused: resolves outside the pretrained store",
                        )
                    )
                    continue
                found.append(_info(type_dir.name, name_dir.name, version, where, "store"))
    return found


def _is_inside(root: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError):
        return False
    return True


def _plugin_entries() -> list[PretrainedInfo]:
    from core.plugins import get_manager
    from core.registry import PRETRAINED_KIND

    found = []
    for entry in get_manager().registry._entries[PRETRAINED_KIND]:
        path = Path(entry.target)
        model_type = entry.meta.get("model_type") or "unknown"
        versions = _versions(path)
        for version in versions or [None]:
            where = path / f"v{version}" if version is not None else path
            found.append(
                _info(model_type, entry.name, version, where, entry.plugin, entry.description)
            )
    return found


def list_pretrained(root: str | os.PathLike[str] | None = None) -> list[PretrainedInfo]:
    """Every pretrained model: the store's versions, then plugin-shipped entries."""
    return _store_entries(store_root(root)) + _plugin_entries()


def resolve_pretrained(
    reference: str, root: str | os.PathLike[str] | None = None
) -> PretrainedInfo:
    """``name`` | ``name/vN`` | ``type/name`` | ``type/name/vN`` -> the matching entry."""
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
    candidates = [
        info
        for info in list_pretrained(root)
        if info.name == name
        and (model_type is None or info.model_type == model_type)
        and (version is None or info.version == version)
    ]
    if not candidates:
        known = sorted({i.reference for i in list_pretrained(root)})
        raise PretrainedError(
            f"no pretrained model {reference!r} in {store_root(root)} or the plugins"
            f" (known: {', '.join(known) or 'none'})"
        )
    types = {c.model_type for c in candidates}
    if len(types) > 1:
        raise PretrainedError(
            f"pretrained name {name!r} exists for several model types ({', '.join(sorted(types))}); "
            "use type/name"
        )
    store = [c for c in candidates if c.source == "store"]
    best = max(store or candidates, key=lambda c: c.version or 0)
    if best.source == "store":
        _inside(store_root(root), best.path)
    return best


def pretrained_info(reference: str, root: str | os.PathLike[str] | None = None) -> PretrainedInfo:
    """Metadata of a pretrained model (no torch import)."""
    return resolve_pretrained(reference, root)


def load_pretrained(
    reference: str,
    *,
    root: str | os.PathLike[str] | None = None,
    device: Any = None,
    **runtime_overrides: Any,
) -> Any:
    """Build and load a pretrained model by reference."""
    from core.modules import BaseModel

    info = resolve_pretrained(reference, root)
    return BaseModel.from_pretrained(info.path, device=device, **runtime_overrides)
