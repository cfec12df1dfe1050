"""core-difflut: differentiable lookup-table networks for core.

Importing the package is cheap; the names below load on first use.
"""

from __future__ import annotations

from core.lazy import lazy_exports

__version__ = "0.1.0"

_LAZY = {
    "ModelConfig": "core_difflut.configs",
    "RuntimeConfig": "core_difflut.configs",
    "EncoderSpec": "core_difflut.configs",
    "SimpleFeedForward": "core_difflut.models",
    "GroupSum": "core_difflut.layers",
    "RandomLayer": "core_difflut.layers",
    "LearnableLayer": "core_difflut.layers",
    "NODE_CLASSES": "core_difflut.nodes",
    "ENCODER_CLASSES": "core_difflut.encoders",
    "build_model": "core_difflut.api",
    "load_pretrained": "core_difflut.api",
    "list_pretrained_models": "core_difflut.api",
    "get_pretrained_model_info": "core_difflut.api",
    "export_model": "core_difflut.export",
}

__all__ = ["__version__", *_LAZY]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
