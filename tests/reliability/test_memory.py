"""Training a small model for many epochs keeps peak RSS flat after the first epoch."""

from __future__ import annotations

import pytest

from .conftest import load_helper

pytestmark = pytest.mark.slow

#: allowed growth of the per-epoch peak RSS between the second and the last epoch.
GROWTH_MB = 15.0


def test_peak_rss_is_flat_after_the_first_epoch(tmp_path):
    data = load_helper("_memory").measure(12, tmp_path / "run", timeout=300)
    peaks = data["peak_rss_mb"]
    assert len(peaks) >= 10
    assert max(peaks[1:]) - peaks[1] < GROWTH_MB, peaks
