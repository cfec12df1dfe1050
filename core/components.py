"""Deprecated: ``core.components`` is now :mod:`core.building` (building components from config sections and the registry's getters).

The old name works for one release: importing it warns and gives the new module itself.
"""

from core import building
from core.lazy import moved_module

moved_module(__name__, building)
