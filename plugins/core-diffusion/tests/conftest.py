"""Tiny models run fastest on one thread (and do not fight other processes for cores)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Tiny models run fastest on one thread (core.testing's fixture)."""
