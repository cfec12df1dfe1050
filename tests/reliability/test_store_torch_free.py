"""``core pretrained list`` and ``core pretrained info`` never import torch, and work where
torch cannot be imported at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.building import build_model
from core.pretrained import save_to_pretrained

pytestmark = pytest.mark.slow  # starts processes

LIST_AND_INFO = (
    "import json, sys\n"
    "from core.cli import main\n"
    "codes = [main(['pretrained', 'list', '--json']), main(['pretrained', 'info', 'saved']),\n"
    "         main(['pretrained', 'info', 'digit-classifier'])]\n"
    "print(json.dumps({'codes': codes, 'torch': 'torch' in sys.modules}))\n"
)


@pytest.fixture
def saved(store: Path) -> Path:
    """A store holding one saved model, ``saved``."""
    model = build_model({"model": {"type": "mlp-denoiser", "hidden_dim": 8}})
    save_to_pretrained(model, "saved")
    return store


def _run(code: str, **env: str) -> tuple[dict, str]:
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    *printed, last = done.stdout.strip().splitlines()
    return json.loads(last), "\n".join(printed)


def test_listing_and_describing_never_import_torch(saved):
    result, out = _run(LIST_AND_INFO)
    assert result == {"codes": [0, 0, 0], "torch": False}
    assert "mlp-denoiser/saved/v1" in out and "digit-classifier" in out


def test_listing_and_describing_work_without_torch(saved, tmp_path):
    fake = tmp_path / "no-torch" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('torch is not installed here')\n")
    path = os.pathsep.join([str(fake.parent), os.environ.get("PYTHONPATH", "")])
    torch_fails = "try:\n    import torch\nexcept ImportError:\n    pass\nelse:\n    exit(9)\n"
    result, out = _run(torch_fails + LIST_AND_INFO, PYTHONPATH=path)
    assert result["codes"] == [0, 0, 0]
    assert "mlp-denoiser/saved/v1" in out and "digit-classifier" in out
