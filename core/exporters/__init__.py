"""Exporters: a model written into a folder in another format (``core export``).

``core.exporters.base`` (the base class) and ``core.exporters.configs`` are torch-free;
``core.exporters.onnx`` imports torch and is loaded only when the ``onnx`` format is used.
"""

from __future__ import annotations

__all__: list[str] = []
