"""Resolving lazy ``"module:attr"`` references."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["import_object", "is_lazy_reference"]


def is_lazy_reference(value: Any) -> bool:
    """True for strings of the form ``"package.module:attr"``."""
    if not isinstance(value, str) or value.count(":") != 1:
        return False
    module, attr = value.split(":")
    return bool(module) and bool(attr) and " " not in value


def import_object(reference: str) -> Any:
    """Import ``"package.module:attr.sub"`` and return the attribute."""
    module_name, _, attr_path = reference.partition(":")
    module = importlib.import_module(module_name)
    obj: Any = module
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ImportError(f"module '{module_name}' has no attribute '{attr_path}'") from None
    return obj
