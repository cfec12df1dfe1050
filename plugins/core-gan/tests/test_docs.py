"""The config reference in docs/models/gan.md matches the DCGAN schema."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
from annotated_types import Ge, Gt, Le, Lt
from core_gan.configs import DCGANConfig

from core.schema import runtime_fields

DOC = Path(__file__).resolve().parents[3] / "docs" / "models" / "gan.md"


def _type(annotation: object) -> str:
    if typing.get_origin(annotation) is typing.Literal:
        return " \\| ".join(repr(a) for a in typing.get_args(annotation))
    return (
        getattr(annotation, "__name__", None)
        if not typing.get_args(annotation)
        else str(annotation).replace("typing.", "")
    )


def _bounds(field: typing.Any) -> str:
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


@pytest.mark.skipif(not DOC.exists(), reason="docs are not part of an installed wheel")
def test_config_reference_matches_schema():
    table = config_table(DCGANConfig)
    assert table in DOC.read_text(), f"update the table in {DOC}:\n{table}"


@pytest.mark.skipif(not DOC.exists(), reason="docs are not part of an installed wheel")
def test_python_examples_in_the_docs_run(tmp_path, monkeypatch):
    import re

    import torch

    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
        assert blocks
        for block in blocks:
            exec(compile(block, str(DOC), "exec"), {})
    finally:
        torch.set_num_threads(threads)
