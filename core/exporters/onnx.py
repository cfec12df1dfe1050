"""The ``onnx`` exporter: each network a model names in ``export_networks()``, as ONNX."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.exporters.base import Exporter
from core.exporters.configs import ONNXExporterConfig

__all__ = ["ONNXExporter"]


class ONNXExporter(Exporter):
    """``<name>.onnx`` per network of ``model.export_networks()`` and a ``manifest.json``."""

    config_class = ONNXExporterConfig

    def export(self, model: Any, directory: Path, **context: Any) -> str:
        model.export_networks()  # the model says what it exports, or why it cannot
        raise NotImplementedError("onnx export is being written")
