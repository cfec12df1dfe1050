import importlib.util
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
#: the guided run of round 3's hostile cases too (``digits_run`` of tests/reliability/_toy.py)
GUIDED_RUN = runpy.run_path(str(HERE.parent / "reliability" / "_toy.py"))["digits_run"]()


@pytest.fixture(scope="module")
def guided_run(tmp_path_factory):
    """A class-conditional DDPM with a null class (10 classes, label dropout), trained 1 step."""
    from core.training import Trainer

    where = tmp_path_factory.mktemp("guided")
    Trainer(GUIDED_RUN, run_dir=where / "run", quiet=True).fit()
    return where / "run"


def _load_tiny():
    if "_core_tiny_models" in sys.modules:
        return sys.modules["_core_tiny_models"]
    spec = importlib.util.spec_from_file_location("_core_tiny_models", HERE / "_tiny.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["_core_tiny_models"] = module
    spec.loader.exec_module(module)
    return module


def tiny_run(
    *, size: int = 64, samples: int | None = None, model: dict | None = None, **train
) -> dict:
    """A run config: the tiny denoiser (``model``: more of its section) on ``size`` toy points,
    a sample section of ``samples`` when given; ``train`` is the train section."""
    run = {
        "model": {"type": "tiny-denoiser", **(model or {})},
        "data": {"type": "toy2d", "size": size},
        "train": train,
    }
    if samples:
        run["sample"] = {"n": samples}
    return run


@pytest.fixture
def tiny(core_manager):
    """The tiny test models, registered in an isolated manager."""
    module = _load_tiny()
    module.register()
    return module


@pytest.fixture
def cli_script():
    return HERE / "_cli.py"


@pytest.fixture
def start_cli(cli_script):
    """``start_cli("train", ..., cwd=dir)``: the CLI with the tiny models, in a child process."""

    def start(*args: str, cwd: Path) -> subprocess.Popen:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "CORE_LOAD_PLUGINS": ""}
        return subprocess.Popen(
            [sys.executable, str(cli_script), *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    return start
