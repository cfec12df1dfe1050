"""core-autoencoder: multi-head autoencoders, latent diffusion and ControlNet for core.

Importing the package is cheap (no torch); the components live in their modules.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
