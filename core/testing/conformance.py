"""The conformance kit: every registered component is checked against its kind's declaration.

``core.kinds`` names the checks of each kind; :data:`CHECKS` holds them by name. A check
returns ``False`` when it does not apply (nothing to compare) and raises ``AssertionError``
when the component breaks the contract.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from core.building import build, get_entry, get_kind
from core.errors import ConfigError
from core.plugin_checks import config_mismatch
from core.registry import Entry

__all__ = [
    "CHECKS",
    "ConformanceCase",
    "ConformanceReport",
    "check_component",
    "assert_same_outputs",
]


@dataclass
class ConformanceReport:
    """What the conformance check verified for one component."""

    kind: str
    name: str
    checks: list[str] = field(default_factory=list)
    component: Any = None


@dataclass
class ConformanceCase:
    """One component under test: what to build and with which inputs."""

    entry: Entry
    section: dict[str, Any]
    component: Any
    inputs: tuple[Any, ...] | None = None
    bad_config: Mapping[str, Any] | None = None
    outputs: Any = None


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


def _tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, Mapping):
        return [t for v in value.values() for t in _tensors(v)]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _tensors(v)]
    return []


def _label(case: ConformanceCase) -> str:
    return f"{case.entry.kind} '{case.entry.name}'"


# -- the checks ----------------------------------------------------------------------------------
def check_builds(case: ConformanceCase) -> bool:
    """It builds from its config, and declares that config once."""

    mismatch = config_mismatch(case.entry)
    assert mismatch is None, mismatch
    return True


def check_contract(case: ConformanceCase) -> bool:
    """It is an instance of its kind's base class or protocol."""
    base = get_kind(case.entry.kind).load_base()
    if base is None:
        return False
    try:
        ok = isinstance(case.component, base)
    except TypeError as exc:  # a Protocol without @runtime_checkable
        raise AssertionError(
            f"kind '{case.entry.kind}': its base {base!r} cannot be checked with isinstance "
            f"({exc}); mark the Protocol @typing.runtime_checkable"
        ) from None
    assert ok, f"{_label(case)} ({type(case.component).__name__}) does not satisfy {base!r}"
    return True


def check_config_round_trip(case: ConformanceCase) -> bool:
    """``get_config()`` builds an equal component."""
    if not hasattr(case.component, "get_config"):
        return False
    saved = case.component.get_config()
    rebuilt = build(case.entry.kind, saved)
    assert rebuilt.get_config() == saved, "config changes across get_config -> build"
    return True


def check_bad_config(case: ConformanceCase) -> bool:
    """An unknown key (or the given bad config) is a ``ConfigError``."""
    schema = case.entry.load_config() or getattr(case.entry.load(), "config_class", None)
    if schema is None and case.bad_config is None:
        return False
    bad = {**case.section, **dict(case.bad_config or {"no_such_key__": 1})}
    try:
        build(case.entry.kind, bad)
    except ConfigError:
        return True
    raise AssertionError(f"{_label(case)} accepted a bad config {bad!r}")


def check_cpu_forward(case: ConformanceCase) -> bool:
    """A module runs on CPU inputs (``example_inputs()``) and returns CPU tensors."""
    component = case.component
    if not isinstance(component, torch.nn.Module):
        return False
    component.to("cpu").eval()
    if case.inputs is None and hasattr(component, "example_inputs"):
        case.inputs = tuple(component.example_inputs())
    if case.inputs is None:
        return False
    case.outputs = _forward(component, case.inputs)
    assert all(t.device.type == "cpu" for t in _tensors(case.outputs)), "outputs are not on CPU"
    return True


def check_save_load(case: ConformanceCase) -> bool:
    """``save_pretrained`` then ``from_pretrained`` gives bitwise-identical outputs."""
    component = case.component
    if case.outputs is None or not hasattr(component, "save_pretrained"):
        return False
    with tempfile.TemporaryDirectory() as tmp:
        component.save_pretrained(Path(tmp) / "m")
        loaded = type(component).from_pretrained(Path(tmp) / "m")
    assert_same_outputs(case.outputs, _forward(loaded, case.inputs or ()))
    return True


def check_noise_schedule(case: ConformanceCase) -> bool:
    """``add_noise`` keeps the shape, stays finite, and leaves x0 at t=0 almost untouched."""
    schedule = case.component
    steps = int(schedule.num_steps)
    assert steps >= 1, f"{_label(case)}: num_steps is {steps}"
    x0 = torch.rand(4, 1, 4, 4) * 2 - 1
    noise = torch.randn_like(x0)
    t = torch.tensor([0, steps // 3, (2 * steps) // 3, steps - 1])
    noisy = schedule.add_noise(x0, noise, t)
    assert noisy.shape == x0.shape and bool(torch.isfinite(noisy).all()), "add_noise output"
    first = schedule.add_noise(x0, noise, torch.zeros(4, dtype=torch.long))
    last = schedule.add_noise(x0, noise, torch.full((4,), steps - 1))
    assert (first - x0).norm() < (last - x0).norm(), "noise does not grow with t"
    return True


def _numeric_leaves(value: Any) -> list[torch.Tensor]:
    """Tensors, arrays and numbers of an item (nested in tuples, lists and dicts), as tensors."""
    if isinstance(value, Mapping):
        return [t for v in value.values() for t in _numeric_leaves(v)]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _numeric_leaves(v)]
    if isinstance(value, (torch.Tensor, int, float)):
        return [torch.as_tensor(value)]
    numeric_array = getattr(getattr(value, "dtype", None), "kind", "") in ("b", "i", "u", "f")
    return [torch.as_tensor(value)] if numeric_array else []


def check_dataset_items(case: ConformanceCase) -> bool:
    """``len`` is a non-negative int and the first item holds finite numbers or tensors."""
    dataset = case.component
    size = len(dataset)
    assert isinstance(size, int) and size >= 0, f"len() is {size!r}"
    if size == 0:
        return False
    leaves = _numeric_leaves(dataset[0])
    assert leaves, f"{_label(case)}: item 0 holds no tensor, array or number"
    assert all(bool(torch.isfinite(t.float()).all()) for t in leaves), "item 0 is not finite"
    return True


def check_lr_schedule_range(case: ConformanceCase) -> bool:
    """``schedule(step, total)`` is a finite, non-negative float for every step."""
    schedule = case.component
    for total in (1, 7, 100):
        for step in range(total + 1):
            value = schedule(step, total)
            assert isinstance(value, (int, float)), f"returned {type(value).__name__}"
            assert math.isfinite(value) and value >= 0, f"schedule({step}, {total}) = {value}"
    return True


def check_logger_lifecycle(case: ConformanceCase) -> bool:
    """It opens in a run directory, takes scalars and an image, resumes and closes."""
    from PIL import Image

    logger = case.component
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        run_dir.mkdir()
        grid = run_dir / "samples.png"
        Image.new("L", (8, 8), color=128).save(grid)  # own write: a fixture in a temp folder
        config = {"model": {"type": "m"}, "train": {"steps": 2, "lr": 0.001}}
        for resume_step in (0, 2):
            logger.open(run_dir, config, resume_step=resume_step)
            logger.log_scalars({"loss": 0.5, "lr": 0.001}, resume_step + 1)
            logger.log_image("samples", grid, resume_step + 1)
            logger.close()
    return True


#: check name (as ``core.kinds`` spells it) -> the check.
CHECKS: dict[str, Callable[[ConformanceCase], bool]] = {
    "builds": check_builds,
    "contract": check_contract,
    "config-round-trip": check_config_round_trip,
    "bad-config": check_bad_config,
    "cpu-forward": check_cpu_forward,
    "save-load": check_save_load,
    "noise-schedule": check_noise_schedule,
    "dataset-items": check_dataset_items,
    "lr-schedule-range": check_lr_schedule_range,
    "logger-lifecycle": check_logger_lifecycle,
}


def check_component(
    kind: str,
    name: str,
    config: Mapping[str, Any] | None = None,
    *,
    inputs: tuple[Any, ...] | None = None,
    bad_config: Mapping[str, Any] | None = None,
) -> ConformanceReport:
    """Build ``kind``/``name`` from ``config`` (default config when None) and run its kind's checks.

    The checks are those its kind declares (``core.kinds``); ``report.checks`` lists the ones
    that applied. Raises ``AssertionError`` on the first broken promise.
    """
    entry = get_entry(kind, name)
    declaration = get_kind(entry.kind)
    section = {"type": name, **dict(config or {})}
    component = build(entry.kind, section)
    case = ConformanceCase(entry, section, component, inputs=inputs, bad_config=bad_config)
    report = ConformanceReport(entry.kind, entry.name, component=component)
    for check in declaration.checks:
        if check not in CHECKS:
            raise AssertionError(f"kind '{entry.kind}' names an unknown check '{check}'")
        if CHECKS[check](case):
            report.checks.append(check)
    return report
