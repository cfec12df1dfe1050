"""The conformance check every registered component should pass."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from core.components import build, get_entry
from core.errors import ConfigError

__all__ = ["ConformanceReport", "check_component", "assert_same_outputs"]


@dataclass
class ConformanceReport:
    """What the conformance check verified for one component."""

    kind: str
    name: str
    checks: list[str] = field(default_factory=list)
    component: Any = None


def assert_same_outputs(a: Any, b: Any, path: str = "output") -> None:
    """Tensors, tuples, lists and dicts compared exactly (same structure, bitwise-equal tensors)."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor), f"{path}: tensor vs {type(b).__name__}"
        assert a.shape == b.shape, f"{path}: shape {tuple(a.shape)} vs {tuple(b.shape)}"
        assert torch.equal(a, b), f"{path}: values differ (max {float((a - b).abs().max()):.3g})"
    elif isinstance(a, Mapping):
        assert isinstance(b, Mapping) and set(a) == set(b), f"{path}: keys differ"
        for key in a:
            assert_same_outputs(a[key], b[key], f"{path}[{key!r}]")
    elif isinstance(a, (tuple, list)):
        assert isinstance(b, (tuple, list)) and len(a) == len(b), f"{path}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_outputs(x, y, f"{path}[{i}]")
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def _forward(component: Any, inputs: tuple[Any, ...]) -> Any:
    torch.manual_seed(0)
    with torch.no_grad():
        return component(*inputs)


def check_component(
    kind: str,
    name: str,
    config: Mapping[str, Any] | None = None,
    *,
    inputs: tuple[Any, ...] | None = None,
    bad_config: Mapping[str, Any] | None = None,
) -> ConformanceReport:
    """Build ``kind``/``name`` and check it behaves like a well-made core component.

    Checks: builds from ``config`` (default config when None); the config survives a
    round trip (``get_config`` -> build -> same config); a module saves and loads with
    identical eval-mode outputs on ``inputs`` (default ``example_inputs()``) on CPU; an
    unknown key (or ``bad_config``) raises ``core.ConfigError``. Raises AssertionError.
    """
    entry = get_entry(kind, name)
    report = ConformanceReport(entry.kind, entry.name)
    section = {"type": name, **dict(config or {})}
    component = build(kind, section)
    report.component = component
    report.checks.append("builds from config")

    if hasattr(component, "get_config"):
        saved = component.get_config()
        rebuilt = build(kind, saved)
        assert rebuilt.get_config() == saved, "config changes across get_config -> build"
        report.checks.append("config round trip")

    schema = entry.load_config() or getattr(entry.load(), "config_class", None)
    if schema is not None or bad_config is not None:
        bad = {"type": name, **dict(config or {}), **dict(bad_config or {"no_such_key__": 1})}
        try:
            build(kind, bad)
        except ConfigError:
            report.checks.append("bad config is a ConfigError")
        else:
            raise AssertionError(f"{kind} '{name}' accepted a bad config {bad!r}")

    if isinstance(component, torch.nn.Module):
        component = component.to("cpu").eval()
        if inputs is None and hasattr(component, "example_inputs"):
            inputs = tuple(component.example_inputs())
        if inputs is not None:
            out = _forward(component, inputs)
            tensors = [t for t in _tensors(out)]
            assert all(t.device.type == "cpu" for t in tensors), "outputs are not on the CPU"
            report.checks.append("runs on CPU")
            if hasattr(component, "save_pretrained"):
                with tempfile.TemporaryDirectory() as tmp:
                    component.save_pretrained(Path(tmp) / "m")
                    loaded = type(component).from_pretrained(Path(tmp) / "m")
                assert_same_outputs(out, _forward(loaded, inputs))
                report.checks.append("save/load round trip gives identical outputs")
    return report


def _tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, Mapping):
        return [t for v in value.values() for t in _tensors(v)]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _tensors(v)]
    return []
