"""Deprecated: ``core.components`` is now :mod:`core.building` (building components from config sections and the registry's getters).

The old name works for one release: importing it warns (DeprecationWarning) and gives the new
module itself.
"""

from __future__ import annotations

import sys
import warnings

from core import building

__all__ = building.__all__

warnings.warn(
    "core.components is now core.building; the old module name will stop working in the next release",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = building
