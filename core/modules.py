"""Deprecated: ``core.modules`` is now :mod:`core.base_model` (``BaseModel``).

The old name works for one release: importing it warns (DeprecationWarning) and gives the new
module itself.
"""

from __future__ import annotations

import sys
import warnings

from core import base_model

__all__ = base_model.__all__

warnings.warn(
    "core.modules is now core.base_model; the old module name will stop working in the next release",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = base_model
