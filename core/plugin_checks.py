"""What ``core plugins check`` verifies beyond loading: imports, configs, import cost."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

from core._messages import clip
from core.errors import ToolError
from core.registry import Entry, Registry
from core.tools import run_tool

__all__ = [
    "registry_problems",
    "config_mismatch",
    "ImportCost",
    "measure_import",
    "SLOW_IMPORT_SECONDS",
]


def config_mismatch(entry: Entry) -> str | None:
    """Why the registration's ``config=`` and the class's ``config_class`` disagree, or None.

    They agree when they are the same class or one derives from the other.
    """
    declared = entry.load_config()
    target = entry.load()
    own = _own_config_class(target)
    if declared is None or own is None or declared is own:
        return None
    both_classes = isinstance(declared, type) and isinstance(own, type)
    if both_classes and (issubclass(declared, own) or issubclass(own, declared)):
        return None
    return (
        f"{entry.kind} '{entry.name}' from plugin {entry.provider}: registered with config "
        f"{_name(declared)} but its class declares config_class {_name(own)}; declare the "
        "config once (the class may refer to the registered one or derive from it)"
    )


def _own_config_class(target: Any) -> Any:
    """The ``config_class`` a class declares itself (not the one the registry attached)."""
    if not isinstance(target, type):
        return None
    for klass in target.__mro__:
        if "config_class" in vars(klass) and not vars(klass).get("_core_attached_config"):
            return vars(klass)["config_class"]
    return None


def _name(value: Any) -> str:
    return f"{getattr(value, '__module__', '?')}:{getattr(value, '__qualname__', repr(value))}"


def registry_problems(registry: Registry) -> list[str]:
    """Conflicting names, targets or configs that do not import, mismatched configs."""
    problems = [
        f"{kind} name '{name}' is given by several plugins: {', '.join(owners)}"
        for kind, name, owners in registry.conflicts()
    ]
    for entry in registry.entries():
        try:
            entry.load()
            entry.load_config()
        except Exception as exc:
            problems.append(str(exc))
            continue
        mismatch = config_mismatch(entry)
        if mismatch:
            problems.append(mismatch)
    return problems


#: an import slower than this is a warning: every ``core`` command pays it.
SLOW_IMPORT_SECONDS = 1.0


@dataclass(frozen=True)
class ImportCost:
    """What importing a plugin module costs, measured in a fresh interpreter."""

    module: str
    seconds: float
    imports_torch: bool
    error: str | None = None

    def warning(self, plugin: str) -> str | None:
        """What ``core plugins check`` says about this cost, or None when it is fine."""
        if self.imports_torch:
            return (
                f"plugin '{plugin}' imports torch when it loads ({self.seconds:.2f} s added to "
                "every core command); import torch inside the functions that need it"
            )
        if self.seconds != self.seconds:  # NaN: the probe timed out or died
            return f"plugin '{plugin}' could not be timed alone: {clip(self.error or '?')}"
        if self.seconds > SLOW_IMPORT_SECONDS:
            return (
                f"plugin '{plugin}' takes {self.seconds:.2f} s to import (added to every core "
                "command); do slow work inside the functions that need it"
            )
        return None


_PROBE = """
import json, sys, time
start = time.perf_counter()
try:
    __import__(sys.argv[1])
    error = None
except BaseException as exc:
    error = f"{type(exc).__name__}: {exc}"
print(json.dumps({"seconds": time.perf_counter() - start,
                  "torch": "torch" in sys.modules, "error": error}))
"""


def measure_import(module: str, timeout: float = 120.0) -> ImportCost:
    """Import ``module`` alone in a subprocess: its time and whether it pulled in torch."""
    try:
        probe = [sys.executable, "-c", _PROBE, module.partition(":")[0]]
        done = run_tool(probe, timeout=timeout, check=False, name="python")
        data = json.loads(done.stdout.strip().splitlines()[-1])
    except (ToolError, ValueError, IndexError) as exc:
        return ImportCost(module, float("nan"), False, f"{type(exc).__name__}: {exc}")
    return ImportCost(module, float(data["seconds"]), bool(data["torch"]), data["error"])
