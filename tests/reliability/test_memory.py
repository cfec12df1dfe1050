"""Training a small model for many epochs keeps peak RSS flat after the first epoch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .conftest import HERE

pytestmark = pytest.mark.slow

#: allowed growth of the per-epoch peak RSS between the second and the last epoch.
GROWTH_MB = 15.0


def test_peak_rss_is_flat_after_the_first_epoch(tmp_path):
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "CORE_DISABLE_PLUGINS": "gan,vae,difflut,autoencoder",
    }
    result = subprocess.run(
        [sys.executable, str(HERE / "_memory.py"), "12", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout.strip().splitlines()[-1])
    peaks = data["peak_rss_mb"]
    assert len(peaks) >= 10
    assert max(peaks[1:]) - peaks[1] < GROWTH_MB, peaks
