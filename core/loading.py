"""The one way to load a model: a run directory, a checkpoint, ``final/``, a store name or a folder.

Every caller that loads weights comes here: ``BaseModel.from_pretrained``, ``core.build_model``
and ``core.load_pretrained`` with a pretrained reference, ``core sample`` and ``core evaluate``,
and the plugins' own APIs. One override policy holds for all of them: runtime fields
(``core.schema.runtime``) may change; a structural field that differs from the saved value is
one ``ConfigError`` naming the field, the saved value and the given one.

A source is, in this order:

- a run directory (it holds ``config.yaml``): its ``final/``, else its newest complete
  checkpoint (EMA weights unless ``raw``; ``raw`` always reads the checkpoint's raw weights);
- a checkpoint folder ``<run>/checkpoints/step_<N>``, with the model section of the run's config;
- a folder holding ``<name>.yaml`` beside ``<name>.safetensors`` (``final/``, ``save_pretrained``);
- a pretrained-store reference: ``name``, ``type/name`` or ``type/name/vN``.

Folders are untrusted data: YAML is read without ``_base_`` or ``${ENV}`` expansion, within
size and file-type bounds (``core._store_files``), and weights are never unpickled.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core._messages import short_repr
from core._store_files import (
    RUN_CONFIG,
    check_inside,
    pretrained_files,
    read_pretrained_yaml,
    read_run_config,
)
from core.building import build, get_entry
from core.config import apply_overrides, parse_override
from core.errors import ConfigError, PretrainedError, TrainingError, WeightsError
from core.pretrained import pretrained_path
from core.schema import runtime_fields
from core.training.checkpoint import latest_checkpoint
from core.validation import describe_component, validate_section
from core.weights import load_weights as load_weights_file

__all__ = [
    "ModelSource",
    "Overrides",
    "locate",
    "load_model",
    "load_located",
    "merge_overrides",
    "read_run_config",
]

#: overrides of model fields: ``{"temperature": 0.5}``, ``["runtime.tau=2"]`` or pairs.
Overrides = Mapping[str, Any] | Iterable[str | tuple[str, Any]] | None
_CHECKPOINTS = "checkpoints"
_MISSING = object()


@dataclass
class ModelSource:
    """Where a model's saved config and weights are, and what its folder says about it.

    ``form`` is ``run``, ``checkpoint`` or ``pretrained`` (a ``final/``, ``save_pretrained``
    or store folder); ``run_dir`` and ``run_config`` are set for the first two.
    """

    form: str
    path: Path
    model: dict[str, Any]
    weights: Path
    config_file: Path
    label: str
    meta: dict[str, Any] = field(default_factory=dict)
    run_dir: Path | None = None
    run_config: dict[str, Any] | None = None

    @property
    def sections(self) -> dict[str, Any]:
        """``data``, ``sample`` and ``evaluate`` as the run (or the pretrained meta) gives them."""
        found = self.run_config if self.run_config is not None else self.meta
        return {
            "data": found.get("data"),
            "sample": found.get("sample") or {},
            "evaluate": found.get("evaluate") or {},
        }


def locate(
    source: str | os.PathLike[str], *, raw: bool = False, root: str | os.PathLike[str] | None = None
) -> ModelSource:
    """Find the config and weights ``source`` names; only YAML is read (as data)."""
    path = Path(source)
    if path.is_dir():
        if os.path.lexists(path / RUN_CONFIG):
            return _run(path, raw)
        if path.parent.name == _CHECKPOINTS and os.path.lexists(path.parent.parent / RUN_CONFIG):
            return _checkpoint(path, path.parent.parent, read_run_config(path.parent.parent), raw)
        return _pretrained(path)
    if os.path.lexists(path):
        raise WeightsError(
            f"{source}: not a folder; give a run directory, a checkpoint folder, a folder with "
            "<name>.yaml and <name>.safetensors, or a pretrained-store name"
        )
    return _pretrained(pretrained_path(str(source), root))


def _pretrained(path: Path) -> ModelSource:
    yaml_path, weights = pretrained_files(path)
    document = read_pretrained_yaml(yaml_path)
    label = "pretrained"
    if path.name == "final":
        label = f"{document['meta'].get('weights', 'final')} (final/)"
    return ModelSource(
        "pretrained", path, document["model"], weights, yaml_path, label, document["meta"]
    )


def _run(run_dir: Path, raw: bool) -> ModelSource:
    config = read_run_config(run_dir)
    final = run_dir / "final"
    if final.is_dir() and not raw:
        check_inside(run_dir, final)  # a run's folders are its own: no link out of it
        found = _pretrained(final)
    else:
        checkpoint = latest_checkpoint(run_dir)
        if checkpoint is None:
            raise TrainingError(f"{run_dir}: run has no final/ and no complete checkpoint yet")
        found = _checkpoint(checkpoint, run_dir, config, raw)
    found.form, found.run_dir, found.run_config = "run", run_dir, config
    return found


def _checkpoint(checkpoint: Path, run_dir: Path, config: dict[str, Any], raw: bool) -> ModelSource:
    config_file = run_dir / RUN_CONFIG
    model = config.get("model")
    if not isinstance(model, dict) or not model.get("type"):
        raise ConfigError(f"{config_file}: a run config needs a 'model' section with a 'type'")
    ema = checkpoint / "ema.safetensors"
    weights = ema if ema.is_file() and not raw else checkpoint / "model.safetensors"
    check_inside(run_dir, weights)  # the checkpoint folder, or its weights, linked from elsewhere
    label = f"{weights.stem} ({checkpoint.name})"
    return ModelSource(
        "checkpoint", checkpoint, model, weights, config_file, label, {}, run_dir, config
    )


def load_model(
    source: str | os.PathLike[str],
    *,
    overrides: Overrides = None,
    device: Any = None,
    load_weights: bool = True,
    raw: bool = False,
    root: str | os.PathLike[str] | None = None,
    model_class: type | None = None,
) -> Any:
    """The model ``source`` names, with its weights (see the module docstring for sources).

    ``overrides`` may change runtime fields only (a structural one equal to the saved value
    is accepted). ``model_class`` (a ``BaseModel`` subclass) builds that class when the saved
    type is its own, and refuses a model that is not one.
    """
    return load_located(
        locate(source, raw=raw, root=root),
        overrides=overrides,
        device=device,
        load_weights=load_weights,
        model_class=model_class,
    )


def load_located(
    found: ModelSource,
    *,
    overrides: Overrides = None,
    device: Any = None,
    load_weights: bool = True,
    model_class: type | None = None,
) -> Any:
    """Build the model ``locate`` found, apply ``overrides`` by the one policy, load weights."""
    where = str(found.config_file)
    make, schema, label = _builder(found.model.get("type"), model_class, where)
    model = make(merge_overrides(found.model, overrides, schema, where=where, component=label))
    if load_weights:
        if hasattr(model, "load_weights"):  # a model may adapt to its file (BaseModel subclasses)
            model.load_weights(found.weights)
        else:
            load_weights_file(model, found.weights)
    return model.to(device) if device is not None else model


def _builder(name: Any, model_class: type | None, where: str) -> tuple[Any, Any, str]:
    """(build(section), config schema, label) for a saved model type.

    ``model_class`` is built directly when the saved type is its own (an encoder saved with
    ``save_pretrained`` is no registered model); otherwise the registry's model is, and it
    must be a ``model_class``.
    """
    own_type = getattr(model_class, "model_type", None)
    if model_class is not None and own_type is not None and name in (None, own_type):
        describe = getattr(model_class, "describe", None)
        label = describe() if describe else model_class.__name__
        return model_class, getattr(model_class, "config_class", None), label
    entry = get_entry("model", str(name))
    target = entry.load()
    if model_class is not None and not (
        isinstance(target, type) and issubclass(target, model_class)
    ):
        raise PretrainedError(
            f"{where}: holds a '{name}' model, which is not a {model_class.__name__}"
        )
    schema = entry.load_config() or getattr(target, "config_class", None)

    def make(section: dict[str, Any]) -> Any:
        return build("model", section, where="model", source=where)

    return make, schema, describe_component("model", entry.name, entry.provider)


def merge_overrides(
    saved: Mapping[str, Any],
    overrides: Overrides,
    schema: Any,
    *,
    where: str,
    component: str,
) -> dict[str, Any]:
    """The saved model section with ``overrides`` applied, by the one policy.

    Runtime fields may change; a structural field whose value would differ from the saved
    one is a ConfigError naming it, the saved value and the given one. Without a schema no
    field is runtime.
    """
    pairs = _pairs(overrides)
    merged = copy.deepcopy(dict(saved))
    if not pairs:
        return merged
    apply_overrides(merged, pairs)
    runtime = runtime_fields(schema) if schema is not None else set()
    before, after = dict(saved), dict(merged)
    if schema is not None:
        before = _validated(schema, saved, where, component)
        after = _validated(schema, merged, where, component)
    changed = []
    for key, value in pairs:
        top = key.split(".", 1)[0]
        if top in runtime or top == "type":
            continue
        if before.get(top, _MISSING) != after.get(top, _MISSING):
            old = _dotted(saved, key, before.get(top, _MISSING) if key == top else _MISSING)
            changed.append(f"'{key}' (saved {_shown(old)}, given {short_repr(value)})")
    if changed:
        allowed = ", ".join(sorted(runtime)) or "none"
        raise ConfigError(
            f"{where}: cannot override structural parameter {', '.join(dict.fromkeys(changed))} "
            f"of pretrained {component}: it defines the weights; runtime parameters: {allowed}"
        )
    return merged


def _pairs(overrides: Overrides) -> list[tuple[str, Any]]:
    """``(dotted key, value)`` pairs from a mapping, ``key=value`` strings or pairs."""
    if not overrides:
        return []
    items = overrides.items() if isinstance(overrides, Mapping) else overrides
    return [parse_override(p) if isinstance(p, str) else (str(p[0]), p[1]) for p in items]


def _validated(schema: Any, section: Mapping[str, Any], where: str, component: str) -> dict:
    data = {k: v for k, v in section.items() if k != "type"}
    config = validate_section(schema, data, component=component, where="model", source=where)
    return {name: getattr(config, name) for name in type(config).model_fields}


def _dotted(section: Mapping[str, Any], key: str, default: Any) -> Any:
    node: Any = section
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


def _shown(value: Any) -> str:
    if value is _MISSING:
        return "unset"
    return short_repr(value.model_dump(mode="json") if hasattr(value, "model_dump") else value)
