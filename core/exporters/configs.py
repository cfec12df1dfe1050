"""Configs of core's exporters (torch-free)."""

from __future__ import annotations

from core.schema import ComponentConfig, Field

__all__ = ["ONNXExporterConfig"]


class ONNXExporterConfig(ComponentConfig):
    """``onnx``: each network the model names in ``export_networks()``, as ``<name>.onnx``."""

    check: bool = Field(
        True, description="run each file in onnxruntime and compare with PyTorch after export"
    )
    tolerance: float = Field(1e-4, gt=0, description="largest max-abs difference the check accepts")
    opset: int | None = Field(
        None, ge=7, description="ONNX opset version (default: the exporter's own)"
    )
