"""Fixtures of the reliability tests: the fuzz helpers and scratch stores."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, settings

HERE = Path(__file__).parent
REPO = HERE.parents[1]
PYTHON = sys.executable

# hypothesis settings of most property tests here: 40 cases, the same ones on every run, no
# per-case deadline, and function-scoped fixtures (tmp_path) shared by the cases on purpose
REPEATABLE = settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def load_helper(name: str) -> ModuleType:
    """Import ``tests/reliability/<name>.py`` once (test folders are not packages).

    The folder goes on ``sys.path`` so that helpers import their siblings by name
    (``from _toy import toy_run``), as they do when run as scripts.
    """
    key = f"_core_reliability_{name}"
    if str(HERE) not in sys.path:
        sys.path.append(str(HERE))
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, HERE / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


def run_limited(code: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """``python -c code`` in a child limited to 2 GiB of address space: reading a device such as
    /dev/zero kills it instead of the machine."""
    limit = "import resource\nresource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"
    return subprocess.run(
        [PYTHON, "-c", limit + code], capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty pretrained store as CORE_HOME."""
    root = tmp_path / "store"
    root.mkdir()
    monkeypatch.setenv("CORE_HOME", str(root))
    return root
