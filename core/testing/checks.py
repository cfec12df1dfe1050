"""Checks a plugin's own tests call: its docs, its example configs, its torch-free listing.

``config_table(schema)`` renders a config reference table (key, type, default, bounds, kind,
description) that a model page quotes; ``check_config_reference(page, *schemas)`` asserts
the page holds each table; ``run_python_blocks(page)`` runs the page's Python blocks;
``check_example_config(path)`` builds the model of a run config and checks it against its
dataset; ``check_listing_is_torch_free(kind, name)`` lists and describes a component in a
fresh interpreter and asserts torch stayed out; ``check_fsdp_blocks(model)`` checks a model's
``fsdp_blocks()`` as ``train.strategy: fsdp`` needs them. Each raises ``AssertionError`` on failure.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import core
from core.building import get_entry
from core.config import Config
from core.schema import runtime_fields

__all__ = [
    "config_table",
    "check_config_reference",
    "run_python_blocks",
    "check_example_config",
    "check_listing_is_torch_free",
    "check_fsdp_blocks",
]


def _type(annotation: object) -> str:
    if typing.get_origin(annotation) is typing.Literal:
        return " \\| ".join(repr(a) for a in typing.get_args(annotation))
    return (
        getattr(annotation, "__name__", None)
        if not typing.get_args(annotation)
        else str(annotation).replace("typing.", "")
    )


def _bounds(field: Any) -> str:
    from annotated_types import Ge, Gt, Le, Lt

    signs = {Ge: (">=", "ge"), Gt: (">", "gt"), Le: ("<=", "le"), Lt: ("<", "lt")}
    parts = []
    for item in field.metadata:
        for cls, (sign, attr) in signs.items():
            if isinstance(item, cls):
                parts.append(f"{sign} {getattr(item, attr)}")
        if type(item).__name__ in {"MinLen", "MaxLen"}:
            value = getattr(item, "min_length", None) or getattr(item, "max_length", None)
            parts.append(f"{'len >=' if type(item).__name__ == 'MinLen' else 'len <='} {value}")
    return ", ".join(parts)


def config_table(schema: type) -> str:
    """Markdown table of a config schema: key, type, default, bounds, kind, description."""

    rows = ["| key | type | default | bounds | kind | description |", "|---|---|---|---|---|---|"]
    runtime = runtime_fields(schema)
    for name, field in schema.model_fields.items():
        default = field.default
        if isinstance(default, tuple):
            default = list(default)
        kind = "runtime" if name in runtime else "structural"
        rows.append(
            f"| `{name}` | {_type(field.annotation)} | `{default}` | {_bounds(field)} | {kind} "
            f"| {field.description} |"
        )
    return "\n".join(rows)


def check_config_reference(page: str | os.PathLike[str], *schemas: type) -> None:
    """Assert the Markdown ``page`` holds ``config_table(schema)`` for every schema."""
    text = Path(page).read_text(encoding="utf-8")
    for schema in schemas:
        table = config_table(schema)
        assert table in text, f"update the {schema.__name__} table in {page}:\n{table}"


def run_python_blocks(page: str | os.PathLike[str]) -> int:
    """Run the ```python blocks of a Markdown page in order, in one namespace, on one torch
    thread (run it in a scratch working directory); the number of blocks run."""
    import torch

    blocks = re.findall(r"```python\n(.*?)```", Path(page).read_text(encoding="utf-8"), re.S)
    assert blocks, f"{page} has no python block"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    namespace: dict[str, Any] = {}
    try:
        for block in blocks:
            exec(compile(block, str(page), "exec"), namespace)
    finally:
        torch.set_num_threads(threads)
    return len(blocks)


def check_example_config(path: str | os.PathLike[str]) -> Any:
    """Build the model of the run config at ``path``, assert its image dataset agrees with it
    (value range, size, channels, where the dataset has them) and validate the run; the model."""
    from core.training.trainer import validate_run_config  # lazy: keeps torch out

    config = Config(path)
    model = core.build("model", config["model"], where="model", source=str(path))
    data = config.to_dict()["data"]
    schema = get_entry("dataset", data["type"]).load_config()
    data_cfg = schema.model_validate({k: v for k, v in data.items() if k != "type"})
    checks = {
        "value_range": getattr(model, "sample_range", None),
        "image_size": getattr(model.config, "image_size", None),
        "channels": getattr(model.config, "channels", None),
    }
    for key, expected in checks.items():
        if expected is not None and hasattr(data_cfg, key):
            got = getattr(data_cfg, key)
            got = tuple(got) if isinstance(got, (list, tuple)) else got
            assert got == expected, f"{path}: data.{key} is {got}, the model needs {expected}"
    validate_run_config(config)
    return model


def check_listing_is_torch_free(kind: str, name: str) -> None:
    """List the components and load ``name``'s config in a fresh interpreter: no torch."""
    code = (
        "import sys, core; core.get_manager(); "
        f"assert {name!r} in core.list_components({kind!r}), 'not listed'; "
        f"from core.building import get_entry; get_entry({kind!r}, {name!r}).load_config(); "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{kind} {name!r}: {done.stderr.strip()[-500:]}"


def check_fsdp_blocks(model: Any) -> list[Any]:
    """Assert ``model.fsdp_blocks()`` gives submodules of ``model``, each with parameters and
    none sharing one, that together hold every parameter when the model trains through
    ``training_step`` (it has no root unit then); gives the blocks."""
    blocks = list(model.fsdp_blocks())
    assert blocks, f"{type(model).__name__}.fsdp_blocks() is empty"
    inside = {id(m) for m in model.modules()}
    seen: dict[int, str] = {}
    for index, block in enumerate(blocks):
        name = f"block {index} ({type(block).__name__})"
        assert id(block) in inside and block is not model, f"{name} is not a submodule"
        params = list(block.parameters())
        assert params, f"{name} holds no parameters"
        for p in params:
            assert id(p) not in seen, f"{name} shares a parameter with {seen[id(p)]}"
            seen[id(p)] = name
    if hasattr(model, "training_step"):
        left = [n for n, p in model.named_parameters() if id(p) not in seen]
        assert not left, f"training_step model: {left[0]} is in no block"
    return blocks
