"""Deprecated: ``core.modules`` is now :mod:`core.base_model` (``BaseModel``).

The old name works for one release: importing it warns and gives the new module itself.
"""

from core import base_model
from core.lazy import moved_module

moved_module(__name__, base_model)
