import importlib.util
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def _load_tiny():
    if "_core_tiny_models" in sys.modules:
        return sys.modules["_core_tiny_models"]
    spec = importlib.util.spec_from_file_location("_core_tiny_models", HERE / "_tiny.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["_core_tiny_models"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def tiny(core_manager):
    """The tiny test models, registered in an isolated manager."""
    module = _load_tiny()
    module.register()
    return module


@pytest.fixture
def cli_script():
    return HERE / "_cli.py"
