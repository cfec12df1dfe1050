"""The files of a pretrained directory and of a run directory, read as data (torch-free).

A pretrained directory holds ``<name>.yaml`` beside ``<name>.safetensors``; a run directory
holds ``config.yaml``. Both YAMLs are data, not configs to resolve: plain YAML only, no
``_base_``, no ``${ENV}`` expansion, a regular file (no FIFO, device or folder) within a size
limit, never a link leading out of its folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core._messages import first_of
from core.config import MAX_CONFIG_BYTES, parse_yaml, read_text_file
from core.errors import ConfigError, WeightsError

__all__ = [
    "check_inside",
    "pretrained_files",
    "read_pretrained_yaml",
    "read_model_card",
    "read_run_config",
    "CARD_NAME",
    "RUN_CONFIG",
    "MAX_PRETRAINED_YAML_BYTES",
]

#: the largest pretrained YAML read (checked before reading).
MAX_PRETRAINED_YAML_BYTES = 1 << 20
#: the model card beside the weights (``core.model_card``), and the largest one read.
CARD_NAME = "README.md"
MAX_CARD_BYTES = 1 << 20
_SECTIONS = ("model", "meta")
#: the resolved config a run directory keeps (written by the trainer, read as data).
RUN_CONFIG = "config.yaml"


def pretrained_files(directory: Path) -> tuple[Path, Path]:
    """(yaml, weights) of a pretrained directory holding exactly one model."""
    yamls = sorted(p for p in directory.glob("*.yaml") if not p.name.startswith("."))
    if len(yamls) != 1:
        found = first_of([p.name for p in yamls]) if yamls else "none"
        raise WeightsError(
            f"{directory}: expected one <name>.yaml beside <name>.safetensors, found {found}"
        )
    yaml_path = yamls[0]
    for suffix in (".safetensors", ".pth", ".pt"):
        weights = yaml_path.with_suffix(suffix)
        if weights.is_file():
            for file in (yaml_path, weights):
                check_inside(directory, file)
            return yaml_path, weights
    raise WeightsError(f"{directory}: weights file {yaml_path.stem}.safetensors is missing")


def check_inside(directory: Path, file: Path, error: type[Exception] = WeightsError) -> None:
    """A file of a pretrained or run directory must not be a link leading out of it."""
    try:
        file.resolve().relative_to(directory.resolve())
    except ValueError:
        raise error(
            f"{file} resolves outside {directory} (a link to {file.resolve()}); refused"
        ) from None


def read_model_card(directory: Path) -> str | None:
    """The model card of a pretrained directory (bounded, no link out of it); None if absent."""
    path = directory / CARD_NAME
    if not path.exists() and not path.is_symlink():
        return None
    check_inside(directory, path)
    return read_text_file(path, MAX_CARD_BYTES, what="model card")


def read_pretrained_yaml(path: Path) -> dict[str, Any]:
    """The ``model``/``meta`` document of a pretrained directory (plain data, bounded)."""
    text = read_text_file(path, MAX_PRETRAINED_YAML_BYTES, what="pretrained config")
    document = parse_yaml(text, str(path))
    if not isinstance(document, dict):
        raise ConfigError(
            f"{path}: a pretrained config must hold 'model' and 'meta', "
            f"got {type(document).__name__}"
        )
    unknown = [str(key) for key in document if key not in _SECTIONS]
    if unknown:
        raise ConfigError(
            f"{path}: unknown key {first_of(unknown)} in a pretrained config (it holds "
            "'model' and 'meta'; stored YAML is data: _base_ and ${ENV} are not read)"
        )
    if not isinstance(document.get("model"), dict) or "type" not in document["model"]:
        raise ConfigError(f"{path}: a pretrained config needs a 'model' section with a 'type'")
    if document.get("meta") is None:
        document["meta"] = {}
    if not isinstance(document["meta"], dict):
        kind = type(document["meta"]).__name__
        raise ConfigError(f"{path}: 'meta' must be a mapping, got {kind}")
    return document


def read_run_config(run_dir: Path) -> dict[str, Any]:
    """A run directory's ``config.yaml`` as plain data (bounded, no ``_base_``, no ``${ENV}``).

    The trainer writes the resolved config there, so a ``_base_`` key means the file was not
    written by a run: it is refused, as is a file that is not a regular one or too large.
    """
    path = Path(run_dir) / RUN_CONFIG
    check_inside(Path(run_dir), path, ConfigError)
    text = read_text_file(path, MAX_CONFIG_BYTES, what="run config")
    document = parse_yaml(text, str(path))
    if not isinstance(document, dict):
        raise ConfigError(
            f"{path}: a run config must hold a mapping of sections, got {type(document).__name__}"
        )
    if "_base_" in document:
        raise ConfigError(
            f"{path}: _base_ in a run directory's config is refused (a run keeps its resolved "
            "config; it is read as data: _base_ and ${ENV} are not read)"
        )
    return document
