"""core-denoisers: MLP, CNN and large CNN denoising networks (``network`` of ``ddpm``).

Importing the package is torch-free; the networks live in ``core_denoisers.mlp`` and
``core_denoisers.cnn`` and are imported when built.
"""

from __future__ import annotations

from core.lazy import lazy_exports

__version__ = "0.1.0"

_LAZY = {
    "MLPDenoiser": "core_denoisers.mlp",
    "CNNDenoiser": "core_denoisers.cnn",
    "CNNDenoiserLarge": "core_denoisers.cnn",
    "MLPDenoiserConfig": "core_denoisers.configs",
    "CNNDenoiserConfig": "core_denoisers.configs",
    "CNNDenoiserLargeConfig": "core_denoisers.configs",
    "sinusoidal_embedding": "core_denoisers.embedding",
}

__all__ = ["__version__", *_LAZY]  # every public name is a lazy export

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
